// Browser tests of the web console: Debian's Chromium driven by playwright-core, against a server
// that tests/browser/run starts (CONSOLE_URL) with a user of its own (CONSOLE_TOKEN).
//
// They sign in, start a build from an Actor's page and watch its log lines appear, watch the
// builds list update without a reload, abort a running build and see ABORTING then ABORTED,
// check that <script> in an Actor title or a log line is shown as text and never runs, and sign
// out. A screenshot of the build page is saved to CONSOLE_SCREENSHOT.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.CONSOLE_URL;
const TOKEN = process.env.CONSOLE_TOKEN;
const OTHER_TOKEN = process.env.CONSOLE_OTHER_TOKEN;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT = process.env.CONSOLE_SCREENSHOT || join(process.cwd(), 'console-build-page.png');
const SCRIPT = '<script>window.__xss=1</script>';
const WAIT = 30_000;

if (!BASE || !TOKEN || !OTHER_TOKEN) {
  throw new Error('CONSOLE_URL, CONSOLE_TOKEN and CONSOLE_OTHER_TOKEN must be set (tests/browser/run sets them)');
}

let userDataDir;
let context;
let page;
const pageErrors = [];
const consoleErrors = [];
const actors = {};

async function api(method, path, body, token = TOKEN) {
  const response = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text).data : null;
}

// An Actor with version 0.1 whose sources hold `markers` (empty files the build command looks for).
async function createActor(name, title, markers = []) {
  const files = [
    {
      name: '.actor/actor.json',
      format: 'TEXT',
      content: JSON.stringify({ actorSpecification: 1, name, version: '0.1', dockerfile: '../Dockerfile' }),
    },
    { name: 'Dockerfile', format: 'TEXT', content: 'FROM alpine:3\n' },
    ...markers.map((m) => ({ name: m, format: 'TEXT', content: '' })),
  ];
  return api('POST', '/v2/actors', {
    name,
    title,
    versions: [{ versionNumber: '0.1', sourceType: 'SOURCE_FILES', buildTag: 'latest', sourceFiles: files }],
  });
}

function statusBadge() {
  return page.locator('.page-head [data-badge]');
}

async function startBuildFromActorPage(actor) {
  await page.goto(`${BASE}/console/actors/${actor.id}`);
  await page.getByRole('button', { name: 'Build version 0.1' }).click();
  await page.waitForURL(/\/console\/builds\/[A-Za-z0-9]{17}$/);
  return page.url().split('/').pop();
}

before(async () => {
  actors.quick = await createActor('quick-actor', 'Quick Actor');
  actors.slow = await createActor('slow-actor', 'Slow Actor', ['slow']);
  actors.xss = await createActor('xss-actor', SCRIPT, ['xss']);

  userDataDir = await mkdtemp(join(tmpdir(), 'console-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(WAIT);
  page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
});

after(async () => {
  if (context) await context.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

test('signing in keeps the token in an HttpOnly, SameSite=Strict cookie', async () => {
  await page.goto(`${BASE}/console/builds`);
  assert.match(page.url(), /\/console\/sign-in\?next=/, 'an unauthenticated page goes to sign-in');
  await page.fill('#token', 'apify_api_wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('That token is unknown or was revoked.').waitFor();

  await page.fill('#token', TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${BASE}/console/builds`);
  await page.getByRole('heading', { name: 'Builds' }).waitFor();
  assert.ok(!page.url().includes(TOKEN), 'the token is never in a URL');

  const cookies = await context.cookies(BASE + '/console/');
  const session = cookies.find((c) => c.name === 'console_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/console');
  assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read it');
});

test('a build started from its Actor page streams its log lines live', async () => {
  const buildId = await startBuildFromActorPage(actors.quick);
  // The page must not reload while it updates: a marker on window survives only without one.
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const log = page.locator('#log');
  await log.locator('.line', { hasText: 'step 1 of 3' }).waitFor();
  assert.equal(await statusBadge().textContent(), 'RUNNING');
  await log.locator('.line', { hasText: 'step 3 of 3' }).waitFor();
  await log.locator('.line', { hasText: /build 0\.1\.\d+ done/ }).waitFor();
  await page.locator('.page-head [data-badge]', { hasText: 'SUCCEEDED' }).waitFor();
  await page.locator('#log-state', { hasText: 'complete' }).waitFor();
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
  assert.equal(await page.locator('#abort-form').count(), 0, 'a finished build has no Abort button');
  assert.notEqual(await page.locator('[data-field="finished"]').first().textContent(), '—');

  // The API agrees.
  const build = await api('GET', `/v2/actor-builds/${buildId}`);
  assert.equal(build.status, 'SUCCEEDED');

  // The page after a reload: every field, the whole log, the Actor definition.
  await page.reload();
  await page.getByRole('heading', { name: 'Actor definition' }).waitFor();
  assert.equal(await page.locator('#log .line', { hasText: 'step 2 of 3' }).count(), 1);
  assert.match(await page.locator('main').textContent(), /quick-actor/);
  await mkdir(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
});

test('the builds list updates statuses without a reload', async () => {
  await page.goto(`${BASE}/console/builds`);
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const started = await api('POST', `/v2/actors/${actors.quick.id}/builds?version=0.1`);
  await page.locator('#new-builds').waitFor({ state: 'visible' });
  await page.locator('#new-builds a').click();
  const row = page.locator(`tr[data-build-id="${started.id}"]`);
  await row.waitFor();
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  await row.locator('[data-badge]', { hasText: 'SUCCEEDED' }).waitFor();
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');

  // Filters: by status and by Actor.
  await page.selectOption('select[name="actor"]', actors.quick.id);
  await page.selectOption('select[name="status"]', 'SUCCEEDED');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/status=SUCCEEDED/);
  assert.ok((await page.locator('tbody tr').count()) >= 2);
  for (const badge of await page.locator('tbody [data-badge]').allTextContents()) {
    assert.equal(badge, 'SUCCEEDED');
  }
});

test('aborting a running build shows ABORTING, then ABORTED', async () => {
  const buildId = await startBuildFromActorPage(actors.slow);
  await page.locator('#log .line', { hasText: 'slow build: waiting' }).waitFor();
  assert.equal(await statusBadge().textContent(), 'RUNNING');

  // Every status the badge shows from now on.
  await page.evaluate(() => {
    window.__statuses = [];
    const badge = document.querySelector('.page-head [data-badge]');
    new MutationObserver(() => window.__statuses.push(badge.textContent)).observe(badge, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });

  // Dismissing the confirmation changes nothing.
  page.once('dialog', (dialog) => dialog.dismiss());
  await page.getByRole('button', { name: 'Abort' }).click();
  await page.waitForTimeout(500);
  assert.equal((await api('GET', `/v2/actor-builds/${buildId}`)).status, 'RUNNING');

  let question = '';
  page.once('dialog', (dialog) => {
    question = dialog.message();
    dialog.accept();
  });
  await page.getByRole('button', { name: 'Abort' }).click();
  await page.locator('.page-head [data-badge]', { hasText: 'ABORTED' }).waitFor();
  assert.match(question, /^Abort build 0\.1\.\d+\?/);
  const statuses = await page.evaluate(() => window.__statuses);
  const aborting = statuses.indexOf('ABORTING');
  const aborted = statuses.indexOf('ABORTED');
  assert.ok(aborting >= 0 && aborted > aborting, `ABORTING then ABORTED, saw ${statuses.join(' → ')}`);
  await page.locator('#log .line', { hasText: 'stopping on SIGTERM' }).waitFor();
  await page.locator('#log .line', { hasText: 'Build aborted by' }).waitFor();
  assert.equal(await page.locator('#abort-form').count(), 0, 'no Abort button once aborting');
  assert.equal((await api('GET', `/v2/actor-builds/${buildId}`)).status, 'ABORTED');

  await page.reload();
  assert.equal(await statusBadge().textContent(), 'ABORTED');
  assert.equal(await page.locator('#abort-form').count(), 0);
});

test('<script> in an Actor title or a log line is shown as text and never runs', async () => {
  await page.goto(`${BASE}/console/actors/${actors.xss.id}`);
  assert.equal(await page.locator('h1').textContent(), SCRIPT);
  assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined');

  await page.getByRole('button', { name: 'Build version 0.1' }).click();
  await page.waitForURL(/\/console\/builds\/[A-Za-z0-9]{17}$/);
  const line = page.locator('#log .line', { hasText: SCRIPT });
  await line.waitFor();
  assert.match(await line.textContent(), /<script>window\.__xss=1<\/script> <img src=x onerror="window\.__xss=2">/);
  await page.locator('.page-head [data-badge]', { hasText: 'SUCCEEDED' }).waitFor();
  assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined');
  assert.match(await page.locator('h1').textContent(), /<script>window\.__xss=1<\/script>/);

  // Rendered by the server this time, rather than streamed.
  await page.reload();
  await page.locator('#log .line', { hasText: SCRIPT }).waitFor();
  assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined');
  assert.equal(await page.locator('#log img, #log script').count(), 0);

  await page.goto(`${BASE}/console/builds`);
  await page.locator('td', { hasText: SCRIPT }).first().waitFor();
  await page.goto(`${BASE}/console/actors`);
  await page.locator('td', { hasText: SCRIPT }).first().waitFor();
  assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined');
  // The only script of a page is the console's own.
  const scripts = await page.evaluate(() => [...document.scripts].map((s) => s.src));
  assert.equal(scripts.length, 1);
  assert.match(scripts[0], /\/console\/static\/console\.js/);
});

test('another user’s build is not found, and errors are pages', async () => {
  const theirs = await api('POST', '/v2/actors', { name: 'their-actor', versions: [] }, OTHER_TOKEN);
  await api('POST', `/v2/actors/${theirs.id}/versions`, {
    versionNumber: '0.1',
    sourceType: 'SOURCE_FILES',
    sourceFiles: [{ name: 'Dockerfile', format: 'TEXT', content: 'FROM alpine:3\n' }],
  }, OTHER_TOKEN);
  const build = await api('POST', `/v2/actors/${theirs.id}/builds?version=0.1`, undefined, OTHER_TOKEN);
  for (const path of [`/console/builds/${build.id}`, `/console/actors/${theirs.id}`]) {
    const response = await page.goto(BASE + path);
    assert.equal(response.status(), 404, path);
    assert.match(response.headers()['content-type'], /^text\/html/);
    await page.getByRole('heading', { name: /404/ }).waitFor();
  }
  await page.goto(`${BASE}/console/builds`);
  assert.equal(await page.locator(`tr[data-build-id="${build.id}"]`).count(), 0);
});

test('signing out clears the session', async () => {
  await page.goto(`${BASE}/console/builds`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/console\/sign-in$/);
  const cookies = await context.cookies(BASE + '/console/');
  assert.equal(cookies.find((c) => c.name === 'console_session'), undefined);
  await page.goto(`${BASE}/console/builds`);
  assert.match(page.url(), /\/console\/sign-in/);
});

test('no script errors and no blocked content on any page', () => {
  assert.deepEqual(pageErrors, []);
  // The refused token (401) and the 404 pages above are reported as failed loads; nothing else may be.
  const unexpected = consoleErrors.filter((m) => !/status of (401|404)/.test(m));
  assert.deepEqual(unexpected, []);
});
