// Preloaded into the Apify CLI (NODE_OPTIONS=--require) for `apify push` of an Actor that does
// not exist yet: the CLI then downloads the Actor templates' manifest from GitHub (with
// `https.get`, through @apify/actor-templates) to pick default run options. This answers that one
// request with an empty manifest, so the suite needs no internet, and refuses every other
// https.get, so that an unexpected call to the outside fails loudly instead of hanging.
'use strict';

const https = require('node:https');
const { EventEmitter } = require('node:events');
const { PassThrough } = require('node:stream');

const MANIFEST = /^https:\/\/raw\.githubusercontent\.com\/apify\/actor-templates\/[^/]+\/(templates|wrappers)\/manifest\.json$/;

function fakeRequest() {
    const request = new EventEmitter();
    request.end = () => request;
    request.destroy = () => request;
    request.setTimeout = () => request;
    return request;
}

https.get = function offlineGet(url, ...rest) {
    const href = typeof url === 'string' ? url : url instanceof URL ? url.href : `https://${url.hostname ?? url.host}${url.path ?? ''}`;
    const callback = rest.find((arg) => typeof arg === 'function');
    const request = fakeRequest();
    process.nextTick(() => {
        if (!MANIFEST.test(href)) {
            request.emit('error', new Error(`offline-templates: refused https.get ${href}`));
            return;
        }
        const response = new PassThrough();
        response.statusCode = 200;
        response.headers = { 'content-type': 'application/json' };
        if (callback) callback(response);
        response.end('{"templates":[]}');
    });
    return request;
};
