// The Apify CLI end to end against actor-builds: login, push (a new Actor, again, and one with
// more than 3 MiB of sources, which goes through a key-value store as a zip), the `builds`
// commands, and Ctrl-C during a push. The tests run in order and build on each other.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
    BASE_URL,
    HOME,
    TOKEN,
    api,
    apiOk,
    cleanUp,
    cli,
    cliOk,
    processGroupMembers,
    sleep,
    startCli,
    uniqueName,
    writeActor,
} from './helpers.mjs';

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED-OUT']);

let me;
/** The Actor pushed by the first tests: its name, folder and builds (0.0.1, 0.0.2). */
const small = {};

before(async () => {
    me = await apiOk('GET', '/users/me');
});
after(cleanUp);

async function actorByName(name) {
    return apiOk('GET', `/actors/${me.username}~${name}`);
}

async function waitTerminal(buildId, secs = 30) {
    const deadline = Date.now() + secs * 1000;
    for (;;) {
        const build = await apiOk('GET', `/actor-builds/${buildId}`);
        if (TERMINAL.has(build.status)) return build;
        assert.ok(Date.now() < deadline, `build ${buildId} stayed ${build.status}`);
        await sleep(200);
    }
}

test('login -t: a bad token is refused, a good one is stored with its user', async () => {
    const authFile = join(HOME, '.apify', 'auth.json');
    // The CLI exits with 0 even when the login fails: its output says what happened.
    const bad = await cli(['login', '-t', 'apify_api_not-a-valid-token']);
    assert.match(bad.output, /Login to Apify failed/);
    assert.ok(!existsSync(authFile) || !readFileSync(authFile, 'utf8').includes('not-a-valid-token'));

    const good = await cliOk(['login', '-t', TOKEN]);
    assert.match(good.output, new RegExp(`logged in to Apify as ${me.username}\\b`));
    const auth = JSON.parse(readFileSync(authFile, 'utf8'));
    assert.equal(auth.token, TOKEN);
    assert.equal(auth.username, me.username);
    assert.equal(auth.id, me.id);
});

test('push of a new Actor creates it and builds 0.0.1', async () => {
    small.name = uniqueName('cli-new');
    small.dir = writeActor(small.name);
    // The Actor does not exist yet: the CLI reads the templates' manifest (answered offline).
    const res = await cliOk(['push'], { cwd: small.dir, preloadTemplates: true });
    assert.match(res.output, new RegExp(`Created Actor with name ${small.name}`));
    assert.match(res.output, /Build: SUCCEEDED/);
    // The log was followed while the build ran.
    assert.match(res.output, /build 0\.0\.1 .* started/);
    assert.match(res.output, /build 0\.0\.1 done/);

    const actor = await actorByName(small.name);
    assert.deepEqual(actor.versions.map((v) => [v.versionNumber, v.sourceType]), [['0.0', 'SOURCE_FILES']]);
    const names = actor.versions[0].sourceFiles.map((f) => f.name);
    assert.ok(names.includes('.actor/actor.json') && names.includes('Dockerfile'), names.join());
    assert.equal(actor.taggedBuilds.latest?.buildNumber, '0.0.1');
    const build = await apiOk('GET', `/actor-builds/${actor.taggedBuilds.latest.buildId}`);
    assert.equal(build.status, 'SUCCEEDED');
    assert.ok(['CLI', 'CI'].includes(build.meta.origin), build.meta.origin);
    assert.equal(build.options.useCache, true);
    assert.equal(build.actorDefinition?.name, small.name);
    small.first = build.id;
});

test('push again: build 0.0.2 gets the latest tag', async () => {
    // The CLI refuses to push files older than the Actor's modifiedAt: change one.
    writeFileSync(join(small.dir, 'README.md'), `# ${small.name}\n\nChanged.\n`);
    const res = await cliOk(['push'], { cwd: small.dir });
    assert.doesNotMatch(res.output, /Created Actor/);
    assert.match(res.output, /Updated version 0\.0/);
    assert.match(res.output, /Build: SUCCEEDED/);
    assert.match(res.output, /Build number: 0\.0\.2/);

    const actor = await actorByName(small.name);
    assert.equal(actor.taggedBuilds.latest?.buildNumber, '0.0.2');
    small.second = actor.taggedBuilds.latest.buildId;
    assert.notEqual(small.second, small.first);
    const readme = actor.versions[0].sourceFiles.find((f) => f.name === 'README.md');
    assert.match(readme.content, /Changed\./);
});

test('push of more than 3 MiB of sources: zipped into a key-value store, built as TARBALL', async () => {
    const name = uniqueName('cli-large');
    // The Actor exists already (created through the API, without versions): the CLI creates
    // version 0.0 itself.
    const created = await apiOk('POST', '/actors', { name }, 201);
    const dir = writeActor(name, { 'data/blob.bin': randomBytes(3.3 * 1024 * 1024) });
    const res = await cliOk(['push'], { cwd: dir });
    assert.match(res.output, /Zipping Actor files/);
    assert.match(res.output, /Created version 0\.0/);
    assert.match(res.output, /Build: SUCCEEDED/);

    const actor = await actorByName(name);
    assert.equal(actor.id, created.id);
    const version = actor.versions.find((v) => v.versionNumber === '0.0');
    assert.equal(version.sourceType, 'TARBALL');
    const url = new URL(version.tarballUrl);
    assert.equal(url.origin, new URL(BASE_URL).origin);
    const [, storeId] = url.pathname.match(/^\/v2\/key-value-stores\/(\w{17})\/records\/version-0\.0\.zip$/) ?? [];
    assert.ok(storeId, version.tarballUrl);
    assert.equal(url.searchParams.get('disableRedirect'), 'true');
    assert.ok(url.searchParams.get('signature'), 'the URL is signed');

    const store = await apiOk('GET', `/key-value-stores/${storeId}`);
    assert.equal(store.name, `actor-${actor.id}-source`);
    assert.equal(store.userId, me.id);
    assert.ok(store.urlSigningSecretKey);

    // The signed URL reads the zip without a token; without the signature a token is needed.
    const signed = await fetch(version.tarballUrl);
    assert.equal(signed.status, 200);
    assert.equal(signed.headers.get('content-type'), 'application/zip');
    const zip = Buffer.from(await signed.arrayBuffer());
    assert.ok(zip.length > 3 * 1024 * 1024, `${zip.length} bytes`);
    assert.equal(zip.subarray(0, 4).toString('latin1'), 'PK\x03\x04');
    url.searchParams.delete('signature');
    assert.equal((await fetch(url)).status, 401);

    const build = await apiOk('GET', `/actor-builds/${actor.taggedBuilds.latest.buildId}`);
    assert.equal(build.status, 'SUCCEEDED');
    assert.equal(build.buildNumber, '0.0.1');
    assert.equal(build.actVersion.sourceType, 'TARBALL');
    assert.equal(build.actorDefinition?.name, name);
});

test('builds ls lists the builds of the Actor in the folder', async () => {
    const res = await cliOk(['builds', 'ls'], { cwd: small.dir });
    assert.match(res.output, /Showing 2 out of 2 builds/);
    assert.match(res.output, /0\.0\.1 /);
    assert.match(res.output, /0\.0\.2 \(latest\)/);
    assert.ok(res.output.includes(small.first) && res.output.includes(small.second), res.output);

    const json = JSON.parse((await cliOk(['builds', 'ls', '--json'], { cwd: small.dir })).stdout);
    assert.equal(json.total, 2);
    assert.deepEqual(
        json.items.map((b) => b.id),
        [small.first, small.second],
    );
});

test('builds info shows a build', async () => {
    const res = await cliOk(['builds', 'info', small.first]);
    assert.match(res.output, new RegExp(`Actor: ${me.username}/${small.name}`));
    assert.match(res.output, /Build Number: 0\.0\.1/);
    assert.match(res.output, /Status: Succeeded/);

    const json = JSON.parse((await cliOk(['builds', 'info', small.first, '--json'])).stdout);
    assert.equal(json.id, small.first);
    assert.equal(json.status, 'SUCCEEDED');
    assert.equal(json.buildNumber, '0.0.1');
});

test('builds log prints the log', async () => {
    const res = await cliOk(['builds', 'log', small.first]);
    assert.match(res.output, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z build 0\.0\.1 .* started/);
    assert.match(res.output, /build 0\.0\.1 done/);
});

test('builds create --wait and builds wait', async () => {
    const res = await cliOk(['builds', 'create', '--wait', '--json'], { cwd: small.dir });
    const created = JSON.parse(res.stdout);
    assert.equal(created.ok, true);
    assert.equal(created.build.status, 'SUCCEEDED');
    assert.equal(created.build.number, '0.0.3');
    small.third = created.build.id;

    const waited = await cliOk(['builds', 'wait', small.third]);
    assert.match(waited.output, /SUCCEEDED/);
    const actor = await actorByName(small.name);
    assert.equal(actor.taggedBuilds.latest.buildId, small.third);
});

test('builds add-tag and remove-tag', async () => {
    const added = await cliOk(['builds', 'add-tag', '-b', small.first, '-t', 'beta']);
    assert.match(added.output, /Tag "beta" added/);
    let actor = await actorByName(small.name);
    assert.equal(actor.taggedBuilds.beta?.buildId, small.first);
    assert.equal(actor.taggedBuilds.latest?.buildId, small.third, 'other tags stay');

    const removed = await cliOk(['builds', 'remove-tag', '-b', small.first, '-t', 'beta', '-y']);
    assert.match(removed.output, /Tag "beta" removed/);
    actor = await actorByName(small.name);
    assert.equal(actor.taggedBuilds.beta, undefined);
    assert.equal(actor.taggedBuilds.latest?.buildId, small.third, 'other tags stay');
});

test('builds rm deletes a build, but not one a tag points at', async () => {
    const res = await cliOk(['builds', 'rm', small.first, '-y']);
    assert.match(res.output, /was deleted/);
    assert.equal((await api('GET', `/actor-builds/${small.first}`)).status, 404);

    const tagged = await cli(['builds', 'rm', small.third, '-y']);
    assert.notEqual(tagged.code, 0, tagged.output);
    assert.match(tagged.output, /tagged "latest"/);
    assert.equal((await api('GET', `/actor-builds/${small.third}`)).status, 200);
});

test('Ctrl-C during push aborts the build, and its process ends', async () => {
    const name = uniqueName('cli-forever');
    await apiOk('POST', '/actors', { name }, 201);
    // `forever` makes the compat server's build command print its pid and sleep for 60 s.
    const dir = writeActor(name, { forever: '' });
    const push = startCli(['push'], { cwd: dir });
    let exited = false;
    push.done.then(() => {
        exited = true;
    });
    const deadline = Date.now() + 60_000;
    let match;
    while (!(match = push.output().match(/waiting forever \(pid (\d+)\)/))) {
        assert.ok(!exited, `push ended before the build ran:\n${push.output()}`);
        assert.ok(Date.now() < deadline, `the build never ran:\n${push.output()}`);
        await sleep(100);
    }
    const pgid = Number(match[1]);
    assert.ok(processGroupMembers(pgid).length > 0, 'the build process runs');

    const sentAt = Date.now();
    push.child.kill('SIGINT');
    const result = await push.done;
    assert.ok(Date.now() - sentAt < 30_000, 'push ended soon after Ctrl-C');
    const [, buildId] = result.output.match(/Received SIGINT, aborting build "(\w+)"/) ?? [];
    assert.ok(buildId, result.output);
    assert.match(result.output, /Build: ABORTED/);
    assert.notEqual(result.code, 0);

    const build = await waitTerminal(buildId);
    assert.equal(build.status, 'ABORTED');
    assert.equal(build.abortedBy, me.id);
    assert.ok(build.abortRequestedAt);
    const log = await (await fetch(`${BASE_URL}/v2/actor-builds/${buildId}/log?token=${TOKEN}`)).text();
    assert.match(log, /waiting forever/);
    assert.doesNotMatch(log, /done/);
    // ABORTED is written only once the build's process group is gone.
    assert.deepEqual(processGroupMembers(pgid), [], `process group ${pgid} is still alive`);
});
