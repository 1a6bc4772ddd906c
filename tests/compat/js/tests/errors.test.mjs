// The errors the client raises, with the `type` the service gives them.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ApifyApiError, ApifyClient } from 'apify-client';

import { BASE_URL, client, makeActor } from './helpers.mjs';

async function apiError(promise) {
    try {
        await promise;
    } catch (err) {
        assert.ok(err instanceof ApifyApiError, `not an ApifyApiError: ${err}`);
        assert.ok(err.message);
        return err;
    }
    assert.fail('no error was raised');
}

test('a bad token', async () => {
    const bad = new ApifyClient({ token: 'not-a-valid-token', baseUrl: BASE_URL });
    const err = await apiError(bad.actors().list());
    assert.equal(err.statusCode, 401);
    assert.equal(err.type, 'user-or-token-not-found');
});

test('an invalid parameter', async () => {
    const actor = await makeActor('invalid-parameter');
    const err = await apiError(client.actor(actor.id).build('not-a-version'));
    assert.equal(err.statusCode, 400);
    assert.equal(err.type, 'invalid-parameter');
});

test('an unknown version is not found', async () => {
    const actor = await makeActor('unknown-version');
    const err = await apiError(client.actor(actor.id).build('9.9'));
    assert.equal(err.statusCode, 404);
    assert.equal(err.type, 'record-not-found');
});

test('a duplicate Actor name', async () => {
    const actor = await makeActor('duplicate');
    const err = await apiError(client.actors().create({ name: actor.name }));
    assert.equal(err.statusCode, 400);
    assert.equal(err.type, 'actor-name-not-unique');
});

test('a missing token', async () => {
    const anonymous = new ApifyClient({ baseUrl: BASE_URL });
    const err = await apiError(anonymous.actors().list());
    assert.equal(err.statusCode, 401);
    assert.equal(err.type, 'token-not-provided');
});

test('a build is readable without a token', async () => {
    const actor = await makeActor('tokenless');
    const build = await client.actor(actor.id).build('0.1', { waitForFinish: 60 });
    const anonymous = new ApifyClient({ baseUrl: BASE_URL });
    const got = await anonymous.build(build.id).get();
    assert.equal(got.id, build.id);
    assert.equal(got.status, 'SUCCEEDED');
    assert.equal(got.usageTotalUsd, undefined);
    const document = await anonymous.build(build.id).getOpenApiDefinition();
    assert.equal(document.info['x-build-id'], build.id);
});
