// Actors and versions through the client's own methods.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { client, makeActor, sourceFiles, uniqueName, username, versionSpec } from './helpers.mjs';

test('create an Actor with a version of SOURCE_FILES', async () => {
    const name = uniqueName('create');
    const actor = await client.actors().create({
        name,
        title: 'Compat Actor',
        description: 'Made by the compatibility suite',
        versions: [versionSpec('0.1')],
    });
    assert.equal(actor.name, name);
    assert.equal(actor.username, await username());
    assert.equal(actor.title, 'Compat Actor');
    assert.equal(actor.id.length, 17);
    assert.ok(actor.createdAt instanceof Date);
    assert.deepEqual(actor.versions.map((v) => v.versionNumber), ['0.1']);
    const [version] = actor.versions;
    assert.equal(version.sourceType, 'SOURCE_FILES');
    assert.equal(version.buildTag, 'latest');
    assert.deepEqual(version.sourceFiles.map((f) => f.name), sourceFiles().map((f) => f.name));
});

test('get an Actor by id and by username~name', async () => {
    const actor = await makeActor('get');
    const byId = await client.actor(actor.id).get();
    assert.equal(byId.id, actor.id);
    const byName = await client.actor(`${await username()}~${actor.name}`).get();
    assert.equal(byName.id, actor.id);
    assert.equal(byName.versions[0].versionNumber, '0.1');
});

test('a missing Actor is undefined', async () => {
    assert.equal(await client.actor(`${await username()}~no-such-actor`).get(), undefined);
    assert.equal(await client.actor('A'.repeat(17)).get(), undefined);
});

test('list Actors', async () => {
    const base = uniqueName('list');
    const created = [];
    for (let i = 0; i < 3; i++) {
        created.push((await client.actors().create({ name: `${base}-${i}`, versions: [versionSpec()] })).id);
    }
    const page = await client.actors().list({ my: true });
    const ids = page.items.map((a) => a.id);
    for (const id of created) assert.ok(ids.includes(id));
    assert.equal(page.total, ids.length);
    assert.equal(page.count, ids.length);
    assert.deepEqual(ids.filter((id) => created.includes(id)), created);

    const newest = await client.actors().list({ my: true, desc: true });
    assert.deepEqual(newest.items.map((a) => a.id), [...ids].reverse());

    const paged = [];
    for (let offset = 0; offset < page.total; offset += 2) {
        const part = await client.actors().list({ limit: 2, offset });
        assert.equal(part.limit, 2);
        assert.equal(part.offset, offset);
        assert.equal(part.total, page.total);
        paged.push(...part.items.map((a) => a.id));
    }
    assert.deepEqual(paged, ids);

    const iterated = [];
    for await (const actor of client.actors().list()) iterated.push(actor.id);
    assert.deepEqual(iterated, ids);

    const item = page.items.find((a) => a.id === created[0]);
    assert.equal(item.name, `${base}-0`);
    assert.ok(item.createdAt instanceof Date);
});

test('create, list and get versions', async () => {
    const actor = await makeActor('versions');
    const actorClient = client.actor(actor.id);
    const created = await actorClient.versions().create({
        versionNumber: '0.2',
        sourceType: 'SOURCE_FILES',
        buildTag: 'beta',
        sourceFiles: sourceFiles('slow'),
    });
    assert.equal(created.versionNumber, '0.2');
    assert.equal(created.buildTag, 'beta');

    const listed = await actorClient.versions().list();
    assert.equal(listed.total, 2);
    assert.deepEqual(listed.items.map((v) => v.versionNumber).sort(), ['0.1', '0.2']);

    const got = await actorClient.version('0.2').get();
    assert.equal(got.versionNumber, '0.2');
    assert.equal(got.sourceType, 'SOURCE_FILES');
    assert.deepEqual(
        got.sourceFiles.map((f) => f.name).sort(),
        sourceFiles('slow').map((f) => f.name).sort(),
    );

    assert.equal(await actorClient.version('9.9').get(), undefined);

    const updated = await actorClient.version('0.1').update({ buildTag: 'stable' });
    assert.equal(updated.buildTag, 'stable');
    assert.equal((await actorClient.version('0.1').get()).sourceType, 'SOURCE_FILES');
});

test('update an Actor: default run build and tags', async () => {
    const actor = await makeActor('update');
    const actorClient = client.actor(actor.id);
    const first = await actorClient.build('0.1', { waitForFinish: 60 });
    const second = await actorClient.build('0.1', { waitForFinish: 60 });
    assert.deepEqual([first.status, second.status], ['SUCCEEDED', 'SUCCEEDED']);

    const got = await actorClient.get();
    assert.equal(got.taggedBuilds.latest.buildId, second.id);
    assert.equal(got.taggedBuilds.latest.buildNumber, '0.1.2');
    assert.equal(got.stats.totalBuilds, 2);

    const updated = await actorClient.update({ title: 'Renamed', defaultRunOptions: { build: '0.1.1' } });
    assert.equal(updated.title, 'Renamed');
    assert.equal(updated.defaultRunOptions.build, '0.1.1');
    assert.equal((await (await actorClient.defaultBuild()).get()).id, first.id);

    // Fields not given are kept.
    const again = await actorClient.update({ description: 'Still the same default build' });
    assert.equal(again.title, 'Renamed');
    assert.equal(again.defaultRunOptions.build, '0.1.1');

    // Tags move and go.
    const moved = await actorClient.update({ taggedBuilds: { stable: { buildId: first.id }, latest: null } });
    assert.equal(moved.taggedBuilds.stable.buildId, first.id);
    assert.ok(!moved.taggedBuilds.latest);
});

test('version env vars hide secrets', async () => {
    const actor = await makeActor('env-vars');
    const created = await client.actor(actor.id).versions().create({
        versionNumber: '1.0',
        sourceType: 'SOURCE_FILES',
        sourceFiles: sourceFiles(),
        envVars: [
            { name: 'PLAIN', value: 'visible' },
            { name: 'SECRET', value: 'hidden', isSecret: true },
        ],
        applyEnvVarsToBuild: true,
    });
    const env = Object.fromEntries(created.envVars.map((v) => [v.name, v]));
    assert.equal(env.PLAIN.value, 'visible');
    assert.equal(env.SECRET.value ?? null, null);
    assert.equal(env.SECRET.isSecret, true);
    assert.equal(created.applyEnvVarsToBuild, true);
});

test('delete a version and an Actor', async () => {
    const actor = await makeActor('delete-actor');
    const actorClient = client.actor(actor.id);
    const build = await actorClient.build('0.1', { waitForFinish: 60 });
    await actorClient.version('0.1').delete();
    assert.equal(await actorClient.version('0.1').get(), undefined);
    assert.equal((await actorClient.versions().list()).total, 0);

    await actorClient.delete();
    assert.equal(await actorClient.get(), undefined);
    assert.equal(await client.build(build.id).get(), undefined);
});
