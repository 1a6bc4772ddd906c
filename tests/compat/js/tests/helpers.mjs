// Shared setup of the suite: the server and a token of a user of its own come from the
// environment (APIFY_COMPAT_URL, the base URL without /v2, and APIFY_COMPAT_TOKEN).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { ApifyClient } from 'apify-client';

export const BASE_URL = process.env.APIFY_COMPAT_URL;
export const TOKEN = process.env.APIFY_COMPAT_TOKEN;
assert.ok(BASE_URL, 'set APIFY_COMPAT_URL to the base URL of actor-builds');
assert.ok(TOKEN, 'set APIFY_COMPAT_TOKEN to a token of a user of its own');

// Build slots of the server under test (its WORKER_CONCURRENCY).
export const SLOTS = Number(process.env.APIFY_COMPAT_WORKER_SLOTS ?? '4');
export const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED-OUT']);
export const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

export const client = new ApifyClient({ token: TOKEN, baseUrl: BASE_URL });

const ACTOR_JSON = JSON.stringify({
    actorSpecification: 1,
    name: 'compat',
    version: '0.1',
    input: './input_schema.json',
    dockerfile: '../Dockerfile',
});
const INPUT_SCHEMA = JSON.stringify({
    title: 'Input',
    type: 'object',
    schemaVersion: 1,
    properties: { url: { title: 'URL', type: 'string', description: 'A URL', editor: 'textfield' } },
    required: ['url'],
});
// Long enough that the client compresses (with brotli) the bodies that carry it: it only
// compresses bodies above 1 KiB.
const README = `# Compat\n\n${'An Actor of the compatibility suite.\n'.repeat(60)}`;

/** SOURCE_FILES of a small Actor; each marker (`slow`, `forever`) becomes an empty file at the root. */
export function sourceFiles(...markers) {
    return [
        { name: '.actor/actor.json', format: 'TEXT', content: ACTOR_JSON },
        { name: '.actor/input_schema.json', format: 'TEXT', content: INPUT_SCHEMA },
        { name: 'Dockerfile', format: 'TEXT', content: 'FROM alpine:3\nCMD ["echo", "hello"]\n' },
        { name: 'README.md', format: 'TEXT', content: README },
        ...markers.map((name) => ({ name, format: 'TEXT', content: '' })),
    ];
}

export function versionSpec(versionNumber = '0.1', ...markers) {
    return { versionNumber, sourceType: 'SOURCE_FILES', buildTag: 'latest', sourceFiles: sourceFiles(...markers) };
}

/** An Actor name unique across runs against the same user. */
export function uniqueName(base) {
    return `${base}-${randomBytes(3).toString('hex')}`;
}

/** A new Actor with version 0.1 of SOURCE_FILES; markers make its builds slow or endless. */
export async function makeActor(base, ...markers) {
    return client.actors().create({ name: uniqueName(base), versions: [versionSpec('0.1', ...markers)] });
}

/** The build once its status is one of `statuses`, polling with `get()`. */
export async function waitForStatus(buildId, statuses, secs = 30) {
    const deadline = Date.now() + secs * 1000;
    for (;;) {
        const build = await client.build(buildId).get();
        assert.ok(build, `build ${buildId} is missing`);
        if (statuses.includes(build.status)) return build;
        assert.ok(Date.now() < deadline, `build ${buildId} stayed ${build.status}, not ${statuses}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

/** Aborts every unfinished build of the user, so that the server's slots are free for what follows. */
export async function abortLeftovers() {
    for await (const build of client.builds().list()) {
        if (!TERMINAL.has(build.status)) await client.build(build.id).abort();
    }
}

export async function username() {
    return (await client.user().get()).username;
}
