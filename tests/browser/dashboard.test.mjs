// The dashboard end to end: Debian's Chromium, driven by Playwright, against
// the real `cairn serve` that run.sh started (CAIRN_URL), signed in with two
// tenants' keys (CAIRN_KEY, CAIRN_KEY_B). Each page it visits is saved as a
// screenshot in SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const url = process.env.CAIRN_URL;
const keyA = process.env.CAIRN_KEY;
const keyB = process.env.CAIRN_KEY_B;
const shots = process.env.SCREENSHOTS || 'target/dashboard-screenshots';
mkdirSync(shots, { recursive: true });

let browser;
let a; // tenant A's signed-in context
const timeout = 20_000;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  a = await signedIn(keyA);
});

after(async () => {
  await browser?.close();
});

async function signedIn(key) {
  const context = await browser.newContext({ baseURL: url });
  context.setDefaultTimeout(timeout);
  const page = await context.newPage();
  await page.goto('/runs');
  assert.match(page.url(), /\/sign-in\?next=/, 'a signed-out visit asks to sign in');
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/runs$/);
  await page.close();
  return context;
}

async function shot(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

// The API, as a client with tenant A's key.
async function api(method, path, body) {
  const response = await fetch(`${url}/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${keyA}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

async function statusOf(runId) {
  return (await api('GET', `/runs/${runId}`)).status;
}

// Waits (long-polls) until the run has paused or ended.
async function settled(runId) {
  return api('GET', `/runs/${runId}?wait=20s&until=settled`);
}

let reviewDraft; // the workflow made from the example
let firstRun; // its first run, started from the workflow's page

test('sign in, create a workflow from an example, and run it', async () => {
  const cookies = await a.cookies();
  const session = cookies.find((c) => c.name === 'cairn_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.ok(!cookies.some((c) => c.value.includes(keyA)), 'the key itself is kept nowhere');

  const page = await a.newPage();
  await page.goto('/workflows/new');
  await shot(page, 'new-workflow');
  await page.getByRole('button', { name: 'Create and activate review-draft' }).click();
  await page.waitForURL(/\/workflows\/[0-9a-f-]{36}$/);
  reviewDraft = page.url().split('/').pop();
  await page.getByRole('heading', { name: /review-draft/ }).waitFor();
  assert.ok(await page.getByText('approval', { exact: true }).isVisible(), 'the gate is marked');
  await shot(page, 'workflow');

  await page.getByLabel(/^Input/).fill('{"topic": "wasm plugins"}');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
  firstRun = page.url().split('/').pop();
  await page.getByRole('heading', { name: 'Publish this draft?' }).waitFor();
  await shot(page, 'run-paused');

  await page.goto('/workflows');
  await page.getByRole('link', { name: 'review-draft' }).waitFor();
  await shot(page, 'workflows');
  await page.close();
});

test('a run\'s page shows it pause live, without a reload', async () => {
  const slow = await api('POST', '/workflows', {
    status: 'active',
    definition: {
      name: 'slow-review',
      steps: [
        { name: 'settle', wait: { for: '3s' } },
        { name: 'check', type: 'noop', approval: { message: 'Looks right?' } },
      ],
    },
  });
  const run = await api('POST', `/workflows/${slow.id}/runs`, { input: {} });
  const page = await a.newPage();
  await page.goto(`/runs/${run.id}`);
  const first = await page.locator('#run-status').getAttribute('data-status');
  assert.notEqual(first, 'paused', 'the page opened before the run paused');
  // The page does not reload from here on: a mark on its window survives.
  await page.evaluate(() => { window.stayed = true; });
  await page.locator('#run-status[data-status="paused"]').waitFor();
  await page.getByRole('heading', { name: 'Looks right?' }).waitFor();
  assert.equal(await page.evaluate(() => window.stayed), true, 'it paused without a reload');
  assert.equal(await statusOf(run.id), 'paused');
  await shot(page, 'run-paused-live');
  await page.close();
});

test('the workflows list shows what the tenant has', async () => {
  const page = await a.newPage();

  await page.goto('/workflows');
  await page.getByRole('link', { name: 'slow-review' }).waitFor();
  await shot(page, 'workflows');
  await page.close();
});

test('approve from the queue and see the run complete', async () => {
  const page = await a.newPage();
  await page.goto('/approvals');
  const item = page.locator('.queue > li').filter({ has: page.locator(`a[href="/runs/${firstRun}"]`) });
  await item.getByText('Step check').waitFor();
  await shot(page, 'approvals');
  await page.evaluate(() => { window.stayed = true; });
  await item.getByRole('button', { name: 'Approve' }).click();
  await item.getByText(/Recorded\. Run #\d+ is/).waitFor();
  assert.equal(await page.evaluate(() => window.stayed), true, 'decided without leaving the page');

  await page.goto(`/runs/${firstRun}`);
  await page.locator('#run-status[data-status="completed"]').waitFor();
  await page.locator('summary', { hasText: 'check' }).click();
  await page.getByText(/approve by admin via api/).waitFor();
  await shot(page, 'run-completed');
  await page.close();
});

test('reject with a note from the queue and see the run cancelled', async () => {
  const run = await api('POST', `/workflows/${reviewDraft}/runs`, { input: { topic: 'rejection' } });
  const page = await a.newPage();
  // A phone's width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`/runs/${run.id}`);
  await page.locator('#run-status[data-status="paused"]').waitFor();
  await page.goto('/approvals');
  const item = page.locator('.queue > li').filter({ has: page.locator(`a[href="/runs/${run.id}"]`) });
  await item.getByLabel(/^Note/).fill('Too short; say more about sandboxing.');
  await shot(page, 'approvals-phone');
  await item.getByRole('button', { name: 'Reject' }).click();
  await item.getByText(/is cancelled/).waitFor();
  assert.equal(await statusOf(run.id), 'cancelled');

  await page.goto(`/runs/${run.id}`);
  await page.getByText('Too short; say more about sandboxing.').first().waitFor();
  await shot(page, 'run-rejected-phone');
  await page.close();
});

test('decide a free-form pending action through the schema form, a bad value refused first', async () => {
  const page = await a.newPage();
  await page.goto('/workflows/new');
  const definition = {
    name: 'rate-draft',
    description: 'Ask a person for a rating.',
    steps: [{
      name: 'rate',
      type: 'review',
      config: {
        message: 'Rate this draft',
        input_schema: {
          type: 'object',
          required: ['rating'],
          properties: {
            rating: { type: 'integer', minimum: 1, maximum: 5, description: '1 (poor) to 5 (great)' },
            comment: { type: 'string', maxLength: 80 },
          },
        },
      },
      input: { draft: '{{ input.text }}' },
    }],
  };
  await page.getByLabel('Definition (JSON)').fill('{ not json');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.getByText(/Definition: not valid JSON/).waitFor();
  assert.match(page.url(), /\/workflows\/new$/, 'the bad definition was not sent');
  await page.getByLabel('Definition (JSON)').fill(JSON.stringify(definition, null, 2));
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.waitForURL(/\/workflows\/[0-9a-f-]{36}$/);
  await page.getByLabel(/^Input/).fill('{"text": "A post about components."}');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
  const runId = page.url().split('/').pop();
  await page.getByRole('heading', { name: 'Rate this draft' }).waitFor();

  const rating = page.getByLabel(/^rating/);
  await rating.fill('9');
  await page.getByLabel(/^comment/).fill('Clear and short.');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('.field-error', { hasText: /rating: Value must be less than or equal to 5/ }).waitFor();
  assert.equal(await rating.getAttribute('aria-invalid'), 'true');
  await shot(page, 'run-schema-form-refused');
  assert.equal(await statusOf(runId), 'paused', 'the refused value was not sent');

  await rating.fill('4');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('#run-status[data-status="completed"]').waitFor();
  const run = await api('GET', `/runs/${runId}`);
  assert.deepEqual(run.result ?? run.steps[0].output, { input: { rating: 4, comment: 'Clear and short.' } });
  await shot(page, 'run-schema-form-completed');
  await page.close();
});

test('review a plan: its goal and proposed steps; reject one with a note, approve another', async () => {
  const page = await a.newPage();
  await page.goto('/workflows/new');
  await page.getByLabel('Goal').fill('A weekly digest of our best stories');
  await page.getByRole('button', { name: 'Plan it' }).click();
  await page.waitForURL(/\/workflows\/[0-9a-f-]{36}$/);
  await page.getByRole('heading', { name: 'Plan' }).waitFor();
  await page.getByText('A weekly digest of our best stories').waitFor();
  await page.getByRole('heading', { name: 'Proposed steps' }).waitFor();
  assert.ok(await page.getByText(/collect/).first().isVisible());
  await shot(page, 'plan-review');
  await page.getByLabel(/^Why/).fill('Add a step that checks the links.');
  await page.getByRole('button', { name: 'Reject plan' }).click();
  await page.getByText(/reject of version 1 by admin via api .*Add a step that checks the links/).waitFor();
  const rejected = await api('GET', `/workflows/${page.url().split('/').pop()}`);
  assert.equal(rejected.status, 'draft');
  assert.equal(rejected.plan.state, 'rejected');
  await shot(page, 'plan-rejected');

  await page.goto('/workflows/new');
  await page.getByLabel('Goal').fill('Another weekly digest');
  await page.getByRole('button', { name: 'Plan it' }).click();
  await page.waitForURL(/\/workflows\/[0-9a-f-]{36}$/);
  await page.getByRole('button', { name: 'Approve plan and activate' }).click();
  await page.getByRole('button', { name: 'Run', exact: true }).waitFor();
  const approved = await api('GET', `/workflows/${page.url().split('/').pop()}`);
  assert.equal(approved.status, 'active');
  assert.equal(approved.plan.state, 'approved');
  await page.close();
});

test('a workflow\'s versions, and a batch\'s progress', async () => {
  const workflow = await api('POST', '/workflows', {
    status: 'active',
    definition: { name: 'greetings', steps: [{ name: 'hello', type: 'noop' }] },
  });
  await api('PUT', `/workflows/${workflow.id}`, {
    definition: { name: 'greetings', steps: [{ name: 'hello', type: 'noop' }, { name: 'again', type: 'noop' }] },
  });
  const page = await a.newPage();
  await page.goto(`/workflows/${workflow.id}`);
  await page.getByText('latest: new runs start on it').waitFor();
  await page.getByRole('link', { name: 'Version 1' }).click();
  await page.getByText('An earlier version').waitFor();
  assert.equal(await page.locator('.steps > li').count(), 1, 'version 1 had one step');
  await shot(page, 'workflow-version');

  const batch = await api('POST', `/workflows/${workflow.id}/batches`, { inputs: [{ n: 1 }, { n: 2 }, { n: 3 }] });
  for (let i = 0; i < 100 && (await api('GET', `/batches/${batch.id}`)).progress.unfinished > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await page.goto('/batches');
  await page.locator(`a[href="/batches/${batch.id}"]`).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  const progress = await page.locator('section.card').first().textContent();
  assert.match(progress, /3\s+completed,\s+0\s+failed,\s+of\s+3/);
  assert.equal(await page.locator('a[href^="/runs/"]').count(), 3, 'its three runs');
  await shot(page, 'batch');
  await page.goto('/batches');
  await shot(page, 'batches');
  await page.close();
});

test('a map step\'s items, each with its steps', async () => {
  const workflow = await api('POST', '/workflows', {
    status: 'active',
    definition: {
      name: 'per-item',
      steps: [{ name: 'each', map: { items: '{{ input.items }}', steps: [{ name: 'touch', type: 'noop' }] } }],
    },
  });
  const run = await api('POST', `/workflows/${workflow.id}/runs`, { input: { items: ['a', 'b', 'c'] } });
  assert.equal((await settled(run.id)).status, 'completed');
  const page = await a.newPage();
  await page.goto(`/runs/${run.id}`);
  await page.locator('summary', { hasText: 'each' }).click();
  await page.getByRole('link', { name: 'Each item and its steps' }).click();
  await page.getByRole('heading', { name: 'Items 1 to 3' }).waitFor();
  assert.equal(await page.locator('.timeline > li').count(), 3);
  await shot(page, 'run-map-items');
  await page.close();
});

test('tenant B cannot see tenant A\'s run by its URL', async () => {
  const b = await signedIn(keyB);
  const page = await b.newPage();
  const response = await page.goto(`/runs/${firstRun}`);
  assert.equal(response.status(), 404);
  await page.getByRole('heading', { name: 'Not found' }).waitFor();
  await shot(page, 'tenant-b-not-found');
  const live = await page.request.get(`/runs/${firstRun}/panel`, { headers: { Accept: 'application/json' } });
  assert.equal(live.status(), 404);
  await page.goto('/runs');
  assert.equal(await page.locator(`a[href="/runs/${firstRun}"]`).count(), 0, 'nor in its list');
  await b.close();
});

test('a form post without the CSRF token is refused, and changes nothing', async () => {
  const run = await api('POST', `/workflows/${reviewDraft}/runs`, { input: { topic: 'forged' } });
  const page = await a.newPage();
  await page.goto(`/runs/${run.id}`);
  await page.locator('#run-status[data-status="paused"]').waitFor();
  for (const form of [{}, { csrf: 'cairn_forged' }]) {
    const forged = await page.request.post(`/runs/${run.id}/cancel`, { form });
    assert.equal(forged.status(), 403);
    assert.match(await forged.text(), /did not come from this page/);
  }
  const decided = await page.request.post(`/runs/${run.id}/decide`, { form: { step: 'check', decision: 'approve' } });
  assert.equal(decided.status(), 403);
  assert.equal(await statusOf(run.id), 'paused');

  // The real form, with its token, works.
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: 'Cancel run' }).click();
  await page.locator('#run-status[data-status="cancelled"]').waitFor();
  await page.close();
});

test('pages send a policy that allows no inline script and no framing', async () => {
  const page = await a.newPage();
  const response = await page.goto('/runs');
  const headers = response.headers();
  assert.match(headers['content-security-policy'], /script-src 'self'/);
  assert.doesNotMatch(headers['content-security-policy'], /unsafe-inline/);
  assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.ok(headers['referrer-policy']);
  await shot(page, 'runs');
  await page.close();
});

test('every page passes axe-core\'s WCAG 2.1 A and AA checks, contrast and labels among them', async () => {
  const paused = await api('POST', `/workflows/${reviewDraft}/runs`, { input: { topic: 'accessible' } });
  assert.equal((await settled(paused.id)).status, 'paused');
  // Only this context may inject axe: the pages' own policy forbids it.
  const context = await browser.newContext({ baseURL: url, bypassCSP: true });
  context.setDefaultTimeout(timeout);
  const page = await context.newPage();
  const check = async (path, width) => {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(path);
    await page.addScriptTag({ path: 'tests/browser/node_modules/axe-core/axe.min.js' });
    const result = await page.evaluate(() => axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }));
    const found = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(', ')})`);
    assert.deepEqual(found, [], `${path} at ${width}px`);
  };
  await check('/sign-in', 1280);
  await page.getByLabel('API key').fill(keyA);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/runs$/);
  for (const path of ['/runs', '/workflows', '/workflows/new', `/workflows/${reviewDraft}`,
    `/runs/${paused.id}`, '/approvals', '/batches']) {
    for (const width of [1280, 390]) await check(path, width);
  }
  await context.close();
});

test('signing out ends the session', async () => {
  const context = await signedIn(keyA);
  const page = await context.newPage();
  await page.goto('/runs');
  const session = (await context.cookies()).find((c) => c.name === 'cairn_session').value;
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/sign-in$/);
  await shot(page, 'sign-in');
  // The old cookie, sent again, signs nobody in.
  const again = await fetch(`${url}/runs`, { headers: { Cookie: `cairn_session=${session}` }, redirect: 'manual' });
  assert.equal(again.status, 303);
  assert.match(again.headers.get('location'), /^\/sign-in/);
  await context.close();
});
