// Shared setup of the CLI suite: the server and a token of a user of its own come from the
// environment (APIFY_COMPAT_URL, the base URL without /v2, and APIFY_COMPAT_TOKEN). The pinned
// Apify CLI runs with a throwaway HOME and makes no calls outside the server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BASE_URL = process.env.APIFY_COMPAT_URL;
export const TOKEN = process.env.APIFY_COMPAT_TOKEN;
assert.ok(BASE_URL, 'set APIFY_COMPAT_URL to the base URL of actor-builds');
assert.ok(TOKEN, 'set APIFY_COMPAT_TOKEN to a token of a user of its own');

const SUITE = join(dirname(fileURLToPath(import.meta.url)), '..');
const APIFY = join(SUITE, 'node_modules', 'apify-cli', 'dist', 'apify.js');
/** Preload that answers the template manifest download of a push of a new Actor. */
export const OFFLINE_TEMPLATES = join(SUITE, 'offline-templates.cjs');

/** Where this run keeps its HOME (login state) and Actor folders; removed by `cleanUp()`. */
export const WORK = mkdtempSync(join(tmpdir(), 'compat-cli-'));
export const HOME = join(WORK, 'home');
mkdirSync(HOME);

export function cleanUp() {
    rmSync(WORK, { recursive: true, force: true });
}

/** The CLI's environment: this server, no keyring, no telemetry, update checks or notices. */
function cliEnv({ preloadTemplates = false } = {}) {
    const env = { ...process.env };
    for (const key of Object.keys(env)) {
        if (key.startsWith('APIFY_') && !key.startsWith('APIFY_COMPAT_')) delete env[key];
    }
    Object.assign(env, {
        HOME,
        APIFY_CLIENT_BASE_URL: BASE_URL,
        APIFY_DISABLE_KEYRING: '1',
        APIFY_CLI_DISABLE_TELEMETRY: '1',
        APIFY_CLI_SKIP_UPDATE_CHECK: '1',
        APIFY_CLI_SKIP_RENTAL_SUNSET_NOTICE: '1',
        FORCE_COLOR: '0',
        NO_COLOR: '1',
    });
    delete env.NODE_OPTIONS;
    if (preloadTemplates) env.NODE_OPTIONS = `--require ${OFFLINE_TEMPLATES}`;
    return env;
}

/**
 * Starts `apify ...args` in `cwd`. Returns the child, a getter of everything it printed so far
 * (stdout and stderr together, in order) and a promise of `{code, signal, stdout, stderr, output}`.
 */
export function startCli(args, { cwd = WORK, preloadTemplates = false, timeoutSecs = 120 } = {}) {
    const child = spawn(process.execPath, [APIFY, ...args], {
        cwd,
        env: cliEnv({ preloadTemplates }),
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let output = '';
    child.stdout.on('data', (chunk) => {
        stdout += chunk;
        output += chunk;
    });
    child.stderr.on('data', (chunk) => {
        stderr += chunk;
        output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSecs * 1000);
    const done = new Promise((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout, stderr, output });
        });
    });
    return { child, output: () => output, done };
}

/** Runs `apify ...args` to its end. */
export async function cli(args, options) {
    return startCli(args, options).done;
}

/** Runs `apify ...args` and checks that it exited with 0. */
export async function cliOk(args, options) {
    const result = await cli(args, options);
    assert.equal(result.code, 0, `apify ${args.join(' ')} exited with ${result.code}:\n${result.output}`);
    return result;
}

/** A request to the API with the suite's token; returns `{status, body}` (`data` unwrapped). */
export async function api(method, path, body) {
    const res = await fetch(`${BASE_URL}/v2${path}`, {
        method,
        headers: {
            Authorization: `Bearer ${TOKEN}`,
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
        json = text ? JSON.parse(text) : null;
    } catch {
        json = text;
    }
    return { status: res.status, body: json?.data ?? json };
}

/** Like `api`, asserting the status. */
export async function apiOk(method, path, body, status = 200) {
    const res = await api(method, path, body);
    assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    return res.body;
}

/** An Actor name unique across runs against the same user. */
export function uniqueName(base) {
    return `${base}-${randomBytes(3).toString('hex')}`;
}

/**
 * A folder with an Actor's sources: `.actor/actor.json` named `name` (version 0.0, tag latest), a
 * Dockerfile, a README, and `extra` files ({path: content}). Markers `slow` and `forever` make
 * the compat server's build command slow or endless.
 */
export function writeActor(name, extra = {}) {
    const dir = join(WORK, name);
    mkdirSync(join(dir, '.actor'), { recursive: true });
    const files = {
        '.actor/actor.json': JSON.stringify({
            actorSpecification: 1,
            name,
            version: '0.0',
            buildTag: 'latest',
            dockerfile: '../Dockerfile',
        }),
        Dockerfile: 'FROM alpine:3\nCMD ["echo", "hello"]\n',
        'README.md': `# ${name}\n`,
        ...extra,
    };
    for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), content);
    }
    return dir;
}

/** Pids of the live processes whose process group is `pgid` (Linux /proc). */
export function processGroupMembers(pgid) {
    const members = [];
    for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        let stat;
        try {
            stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        } catch {
            continue; // ended meanwhile
        }
        // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
    }
    return members;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
