// Builds, their logs, abort, delete and the OpenAPI document through the client's own methods.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { ApifyApiError, ApifyClient } from 'apify-client';

import {
    BASE_URL,
    LOG_LINE,
    SLOTS,
    TERMINAL,
    TOKEN,
    abortLeftovers,
    client,
    makeActor,
    uniqueName,
    username,
    versionSpec,
    waitForStatus,
} from './helpers.mjs';

after(abortLeftovers);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function apiError(promise) {
    try {
        await promise;
    } catch (err) {
        assert.ok(err instanceof ApifyApiError, `not an ApifyApiError: ${err}`);
        return err;
    }
    assert.fail('no error was raised');
}

/** An Actor and its first build, finished with SUCCEEDED. */
async function succeededBuild(base) {
    const actor = await makeActor(base);
    const build = await client.actor(actor.id).build('0.1', { waitForFinish: 60 });
    assert.equal(build.status, 'SUCCEEDED');
    return { actor, build };
}

test('build with waitForFinish', async () => {
    const actor = await makeActor('build-wait');
    const build = await client.actor(actor.id).build('0.1', { waitForFinish: 60 });
    assert.equal(build.status, 'SUCCEEDED');
    assert.equal(build.actId, actor.id);
    assert.equal(build.buildNumber, '0.1.1');
    assert.equal(build.buildNumberInt, 1);
    assert.ok(build.startedAt instanceof Date);
    assert.ok(build.finishedAt instanceof Date);
    assert.equal(build.actVersion.versionNumber, '0.1');
    assert.equal(build.options.memoryMbytes, 4096);
    assert.equal(build.actorDefinition.actorSpecification, 1);
    assert.equal(build.actorDefinition.version, '0.1');
    assert.equal(build.actorDefinition.input.properties.url.type, 'string');
    assert.match(build.readme, /# Compat/);
});

test('build without waiting, then get and waitForFinish', async () => {
    const actor = await makeActor('build-no-wait');
    const build = await client.actor(actor.id).build('0.1');
    assert.ok(['READY', 'RUNNING'].includes(build.status), build.status);
    assert.equal(build.finishedAt, null);

    const got = await client.build(build.id).get();
    assert.equal(got.id, build.id);
    assert.equal(got.buildNumber, '0.1.1');

    const finished = await client.build(build.id).waitForFinish();
    assert.equal(finished.status, 'SUCCEEDED');
    assert.ok(finished.finishedAt instanceof Date);
    assert.equal((await client.build(build.id).get()).status, 'SUCCEEDED');
});

test('waitForFinish on a build of three seconds', async () => {
    const actor = await makeActor('build-slow', 'slow');
    const started = Date.now();
    const build = await client.actor(actor.id).build('0.1');

    // A wait shorter than the build answers the unfinished build once the wait is up.
    const partial = await client.build(build.id).waitForFinish({ waitSecs: 1 });
    assert.ok(['READY', 'RUNNING'].includes(partial.status), partial.status);
    assert.ok(Date.now() - started >= 900);

    // get() with waitForFinish is held by the server until the build ends.
    const held = await client.build(build.id).get({ waitForFinish: 60 });
    assert.equal(held.status, 'SUCCEEDED');
    const finished = await client.build(build.id).waitForFinish({ waitSecs: 60 });
    const elapsed = Date.now() - started;
    assert.equal(finished.status, 'SUCCEEDED');
    assert.ok(elapsed >= 2500, `${elapsed} ms`);
    assert.ok(elapsed < 30000, `${elapsed} ms`);
});

test('waitForFinish is held by the server, not polled', async () => {
    const actor = await makeActor('build-held', 'slow');
    const build = await client.actor(actor.id).build('0.1');
    // Count the client's requests for this build through its own request interceptors.
    let requests = 0;
    const counting = new ApifyClient({
        token: TOKEN,
        baseUrl: BASE_URL,
        requestInterceptors: [
            (config) => {
                if (config.url.includes(build.id)) requests += 1;
                return config;
            },
        ],
    });
    const started = Date.now();
    const finished = await counting.build(build.id).waitForFinish();
    assert.equal(finished.status, 'SUCCEEDED');
    assert.ok(Date.now() - started >= 1500);
    assert.ok(requests <= 3, `${requests} requests`);
});

test('build options and tag', async () => {
    const actor = await makeActor('build-options');
    const build = await client
        .actor(actor.id)
        .build('0.1', { tag: 'beta', useCache: true, betaPackages: false, waitForFinish: 60 });
    assert.equal(build.status, 'SUCCEEDED');
    assert.equal(build.options.useCache, true);
    assert.equal(build.options.betaPackages, false);
    const { taggedBuilds } = await client.actor(actor.id).get();
    assert.equal(taggedBuilds.beta.buildId, build.id);
    assert.ok(!taggedBuilds.latest);
});

test('list builds page by page and by iteration', async () => {
    const actor = await makeActor('build-list');
    const actorClient = client.actor(actor.id);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await actorClient.build('0.1')).id);
    for (const id of ids) assert.equal((await client.build(id).waitForFinish({ waitSecs: 60 })).status, 'SUCCEEDED');

    const page = await actorClient.builds().list();
    assert.equal(page.total, 5);
    assert.equal(page.count, 5);
    assert.deepEqual(page.items.map((b) => b.id), ids);
    const [item] = page.items;
    assert.equal(item.buildNumber, '0.1.1');
    assert.equal(item.status, 'SUCCEEDED');
    assert.equal(typeof item.usageTotalUsd, 'number');
    assert.ok(item.startedAt instanceof Date);

    const newest = await actorClient.builds().list({ desc: true });
    assert.deepEqual(newest.items.map((b) => b.id), [...ids].reverse());
    assert.equal(newest.desc, true);

    const paged = [];
    for (let offset = 0; offset < 5; offset += 2) {
        const part = await actorClient.builds().list({ limit: 2, offset });
        assert.deepEqual([part.total, part.offset, part.limit, part.count], [5, offset, 2, Math.min(2, 5 - offset)]);
        paged.push(...part.items.map((b) => b.id));
    }
    assert.deepEqual(paged, ids);

    const iterated = [];
    for await (const build of actorClient.builds().list()) iterated.push(build.id);
    assert.deepEqual(iterated, ids);
    const window = [];
    for await (const build of actorClient.builds().list({ offset: 1, limit: 3 })) window.push(build.id);
    assert.deepEqual(window, ids.slice(1, 4));

    const mine = (await client.builds().list({ desc: true })).items.map((b) => b.id);
    for (const id of ids) assert.ok(mine.includes(id));
});

test('iterate over more than one page of the server', async () => {
    // Builds whose actor.json the service rejects: they end FAILED at once, without a build process.
    const actor = await client.actors().create({
        name: uniqueName('many-builds'),
        versions: [
            {
                ...versionSpec('0.1'),
                sourceFiles: [{ name: '.actor/actor.json', format: 'TEXT', content: '{"actorSpecification": 2}' }],
            },
        ],
    });
    const count = 1005;
    const ids = new Set();
    while (ids.size < count) {
        const batch = Math.min(15, count - ids.size);
        const builds = await Promise.all(Array.from({ length: batch }, () => client.actor(actor.id).build('0.1')));
        for (const build of builds) ids.add(build.id);
    }
    const first = await client.actor(actor.id).builds().list();
    assert.deepEqual([first.total, first.count, first.limit], [count, 1000, 1000]);

    const iterated = [];
    for await (const build of client.actor(actor.id).builds().list()) iterated.push(build.id);
    assert.equal(iterated.length, count);
    assert.deepEqual(new Set(iterated), ids);

    const tail = [];
    for await (const build of client.actor(actor.id).builds().list({ offset: 990, limit: 12 })) tail.push(build.id);
    assert.deepEqual(tail, iterated.slice(990, 1002));
});

test('abort of READY and RUNNING builds', async () => {
    const forever = await makeActor('abort-forever', 'forever');
    const quick = await makeActor('abort-quick');
    const blockers = [];
    for (let i = 0; i < SLOTS; i++) blockers.push((await client.actor(forever.id).build('0.1')).id);
    try {
        // With every build slot busy, a new build stays READY.
        for (const id of blockers) await waitForStatus(id, ['RUNNING'], 60);
        const ready = await client.actor(quick.id).build('0.1');
        assert.equal(ready.status, 'READY');
        const aborted = await client.build(ready.id).abort();
        assert.equal(aborted.status, 'ABORTED');
        assert.ok(aborted.finishedAt instanceof Date);
        await sleep(1000);
        const again = await client.build(ready.id).get();
        assert.equal(again.status, 'ABORTED');
        assert.equal(again.finishedAt.getTime(), aborted.finishedAt.getTime());

        // An unfinished build cannot be deleted.
        const err = await apiError(client.build(blockers[1]).delete());
        assert.equal(err.type, 'deleting-unfinished-build');

        // A RUNNING build is stopped and ends ABORTED.
        const running = await client.build(blockers[0]).abort();
        assert.ok(['ABORTING', 'ABORTED'].includes(running.status), running.status);
        const finished = await client.build(blockers[0]).waitForFinish({ waitSecs: 30 });
        assert.equal(finished.status, 'ABORTED');
        assert.ok(finished.finishedAt instanceof Date);
        const log = await client.build(blockers[0]).log().get();
        assert.match(log, /waiting forever/);
        assert.match(log, /aborted/i);
    } finally {
        for (const id of blockers) await client.build(id).abort();
    }
    for (const id of blockers) {
        assert.equal((await client.build(id).waitForFinish({ waitSecs: 30 })).status, 'ABORTED');
    }
});

test('abort of a finished build changes nothing', async () => {
    const { build } = await succeededBuild('abort-finished');
    const aborted = await client.build(build.id).abort();
    assert.equal(aborted.status, 'SUCCEEDED');
    assert.equal(aborted.finishedAt.getTime(), build.finishedAt.getTime());
    assert.equal((await client.build(build.id).abort()).status, 'SUCCEEDED');
});

test('delete a build', async () => {
    const { actor, build: tagged } = await succeededBuild('delete');
    // The build that the `latest` tag points at cannot be deleted.
    const err = await apiError(client.build(tagged.id).delete());
    assert.equal(err.type, 'deleting-default-build');

    const build = await client.actor(actor.id).build('0.1');
    await client.build(build.id).abort();
    const finished = await client.build(build.id).waitForFinish({ waitSecs: 30 });
    assert.ok(TERMINAL.has(finished.status));
    assert.notEqual(finished.status, 'SUCCEEDED', 'the build finished before it could be aborted');
    await client.build(build.id).delete();
    assert.equal(await client.build(build.id).get(), undefined);
    const left = await client.actor(actor.id).builds().list();
    assert.deepEqual(left.items.map((b) => b.id), [tagged.id]);
});

test('log get', async () => {
    const { build } = await succeededBuild('log-get');
    const log = await client.build(build.id).log().get();
    const lines = log.split('\n').filter((line) => line);
    assert.ok(lines.length > 0, 'the log is empty');
    for (const line of lines) assert.match(line, LOG_LINE);
    assert.ok(lines.some((line) => line.includes('build 0.1.1 of') && line.endsWith('started')), log);
    assert.ok(lines.some((line) => line.endsWith('build 0.1.1 done')), log);
    // The same log through the top-level log client.
    assert.equal(await client.log(build.id).get(), log);
});

test('log stream follows a running build', async () => {
    const actor = await makeActor('log-stream', 'slow');
    const build = await client.actor(actor.id).build('0.1');
    const started = Date.now();
    const stream = await client.build(build.id).log().stream();
    assert.ok(stream);
    const arrivals = [];
    for await (const chunk of stream) arrivals.push([Date.now() - started, Buffer.from(chunk).toString()]);
    const text = arrivals.map(([, chunk]) => chunk).join('');
    for (const expected of ['slow step 1', 'slow step 2', 'slow step 3', 'build 0.1.1 done']) {
        assert.ok(text.includes(expected), text);
    }
    for (const line of text.split('\n').filter((l) => l)) assert.match(line, LOG_LINE);
    // The stream ended once the build had finished, and lines came while it ran.
    assert.equal((await client.build(build.id).get()).status, 'SUCCEEDED');
    const firstStep = arrivals.find(([, chunk]) => chunk.includes('slow step 1'))[0];
    assert.ok(arrivals.at(-1)[0] - firstStep >= 1500, JSON.stringify(arrivals));
});

test('getOpenApiDefinition', async () => {
    const { actor, build } = await succeededBuild('openapi');
    const document = await client.build(build.id).getOpenApiDefinition();
    assert.match(document.openapi, /^3\./);
    assert.equal(document.info.version, '0.1');
    assert.equal(document.info['x-build-id'], build.id);
    const fullName = `${await username()}~${actor.name}`;
    for (const path of ['runs', 'run-sync', 'run-sync-get-dataset-items']) {
        assert.ok(document.paths[`/acts/${fullName}/${path}`], path);
    }
    assert.equal(document.components.schemas.inputSchema.properties.url.type, 'string');
});

test('defaultBuild', async () => {
    const { actor, build } = await succeededBuild('default-build');
    const actorClient = client.actor(actor.id);
    assert.equal((await (await actorClient.defaultBuild()).get()).id, build.id);
    const newer = await actorClient.build('0.1', { waitForFinish: 60 });
    assert.equal(newer.status, 'SUCCEEDED');
    assert.equal((await (await actorClient.defaultBuild({ waitForFinish: 10 })).get()).id, newer.id);
});

test('defaultBuild of an Actor without builds', async () => {
    const actor = await makeActor('default-none');
    const err = await apiError(client.actor(actor.id).defaultBuild());
    assert.equal(err.type, 'record-not-found');
});

test('a missing build is undefined', async () => {
    assert.equal(await client.build('A'.repeat(17)).get(), undefined);
    assert.equal(await client.build('nosuchbuild').get(), undefined);
});
