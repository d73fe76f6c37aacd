/**
 * Sign-in and roles in real headless Chromium, against an in-process manager with the real
 * authentication (EdDSA tokens from a key directory of the test's own): the token from `#token=`
 * is kept and removed from the address, sent on every call and on the event stream; a viewer sees
 * no actions; a refused token keeps the user on the sign-in page; a token whose signing key is
 * retired mid-session sends the user back to it.
 */
import { after, before, describe, test } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/index.js';
import { Manager } from '../../src/manager/manager.js';
import { managerConfigFromEnv } from '../../src/manager/config.js';
import { createLogger } from '../../src/common/logger.js';
import { http } from '../helpers/processes.js';
import { chromiumSkipReason, launchBrowser, screenshot, type Browser } from '../helpers/browser.js';
import { testKeys } from '../helpers/auth.js';
import { startManagerAuth, type ApiAuthenticator } from '../../src/auth/index.js';

const UI_MS = 15_000;
const skip = chromiumSkipReason();

describe('dashboard sign-in and roles', { timeout: 120_000, skip: skip ?? false }, () => {
  const store = new MemoryStore();
  let manager: Manager;
  let url: string;
  let browser: Browser;
  const keys = testKeys('dashboard');
  let admin: string;
  let viewer: string;
  /** Paths and Authorization headers the manager received (an onRequest hook of the test's). */
  const seen: { path: string; authorization: string | undefined }[] = [];

  before(async () => {
    const config = managerConfigFromEnv({ CLUSTER_PORT: '0', FLOTILLA_BIND_ADDRESS: '127.0.0.1' });
    const log = createLogger({ test: 'dashboard-auth' }, 'silent');
    const auth = startManagerAuth({ mode: 'on', keyDir: keys.keyDir.path, containerTokenTtlMs: 86_400_000, metricsPublic: false }, store, log) as ApiAuthenticator;
    // The real hook, with a look at each request first.
    const realHook = auth.hook as unknown as (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
    Object.defineProperty(auth, 'hook', {
      value: async (req: FastifyRequest, reply: FastifyReply) => {
        seen.push({ path: req.url.split('?')[0]!, authorization: req.headers.authorization });
        await realHook(req, reply);
      },
    });
    admin = await keys.token('admin', { sub: 'ada' });
    viewer = await keys.token('viewer', { sub: 'vera' });
    manager = new Manager({ store, config, log, auth });
    await manager.start();
    url = `http://127.0.0.1:${manager.port}`;
    const reg = await http('POST', `${url}/api/v1/cluster/containers/register`, { container_name: 'auth-box', host_address: '127.0.0.51', lease_timeout_ms: 600_000, lease_interval_ms: 1_000 }, { authorization: `Bearer ${admin}` });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    seen.length = 0; // from here on, only the page's calls
    browser = await launchBrowser();
    browser.page.setDefaultTimeout(UI_MS);
  });

  after(async () => {
    await browser?.close();
    await manager?.stop();
    await store.close();
    keys.remove();
  });

  test('a token in the address is kept, hidden from the address bar, sent on every call; a viewer sees no actions', async () => {
    const { page } = browser;
    await page.goto(`${url}/dashboard/#token=${viewer}`);
    await page.locator('[data-table=containers] .vt-row', { hasText: 'auth-box' }).waitFor();
    assert.ok(!page.url().includes('token='), `the address still holds the token: ${page.url()}`);
    assert.equal(await page.evaluate("sessionStorage.getItem('flotilla.token')"), viewer);
    assert.equal(await page.locator('#who').innerText(), 'vera (viewer)');
    await page.locator('#live.on').waitFor();
    // Every API call, the event stream included, carried the token.
    const apiCalls = seen.filter((s) => s.path.startsWith('/api/'));
    assert.ok(apiCalls.some((s) => s.path === '/api/v1/cluster/events/stream'), 'the stream was opened');
    assert.deepEqual(apiCalls.filter((s) => s.authorization !== `Bearer ${viewer}`), []);
    // No actions for a viewer.
    assert.equal(await page.locator('[data-table=containers] button[data-action]').count(), 0);
    await page.locator('nav a[data-view=agents]').click();
    await page.locator('#agent-shown', { hasText: '0 agents' }).waitFor();
    assert.equal(await page.locator('#deploy-form').isVisible(), false, 'the deploy form is hidden');
    await screenshot(page, 'viewer');
  });

  test('sign-in: a refused token stays on the form; no "continue without token" when one is required; a good one gets in', async () => {
    const { page } = browser;
    await page.locator('#sign-out').click();
    await page.locator('#signin-form').waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('flotilla.token')"), null);
    await page.locator('#signin-token').fill('not-a-valid-token');
    await page.locator('#signin-form button[type=submit]').click();
    await page.locator('#signin-message', { hasText: 'refused this token (401)' }).waitFor();
    assert.equal(await page.locator('#open-api').isVisible(), false, 'the API needs a token: no way around it offered');
    await screenshot(page, 'sign-in');
    await page.locator('#signin-token').fill(admin);
    await page.locator('#signin-form button[type=submit]').click();
    // Signed in again on the page the user was on (agents): the deploy form is back for an admin.
    await page.locator('#deploy-form').waitFor();
    await page.locator('nav a[data-view=overview]').click();
    await page.locator('[data-table=containers] button[data-action=cordon]').waitFor();
    assert.equal(await page.locator('#who').innerText(), 'ada (admin)');
  });

  test("a token whose signing key is retired mid-session: the next call gets 401 and the page goes back to sign-in", async () => {
    const { page } = browser;
    // The page reads on its own (a poll every few seconds): those reads are held here until the
    // user's click has been answered, so that the click is the next call the manager sees (had a
    // poll gone first, it would already have ended the session and the button would be gone).
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/api/**', async (route) => {
      if (route.request().method() === 'GET') await released;
      await route.continue().catch(() => undefined); // the page may have dropped it meanwhile
    });
    const oldKid = keys.keyDir.load().signing.find((k) => k.rotated_at === null)!.kid;
    keys.keyDir.rotate();
    keys.keyDir.retire(oldKid);
    // The manager re-reads its key directory at most once a second: wait until it refuses the token.
    const deadline = Date.now() + 5_000;
    while ((await http('GET', `${url}/api/v1/cluster/containers`, undefined, { authorization: `Bearer ${admin}` })).status !== 401) {
      assert.ok(Date.now() < deadline, 'the manager still accepts a token whose key was retired 5 s ago');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await page.locator('[data-table=containers] button[data-action=cordon]').click();
    await page.locator('#signin-message', { hasText: 'Your session ended' }).waitFor();
    release();
    await page.unrouteAll({ behavior: 'ignoreErrors' });
    assert.equal(await page.evaluate("sessionStorage.getItem('flotilla.token')"), null);
    assert.equal((await store.getContainer('auth-box'))?.availability, 'schedulable', 'the refused cordon changed nothing');
  });

  test('latency and logs: "not available yet" from a manager without them (an older one); drawn by the contract; read from this manager for real', async () => {
    const { page } = browser;
    admin = await keys.token('admin', { sub: 'ada' });
    await page.locator('#signin-token').fill(admin);
    await page.locator('#signin-form button[type=submit]').click();
    await page.locator('#who', { hasText: 'ada (admin)' }).waitFor();

    // An older manager has neither endpoint: its 404 is said plainly.
    const notFound = { status: 404, json: { error: 'not_found', message: 'no such route', status_code: 404 } };
    await page.route('**/api/v1/cluster/latency', (route) => route.fulfill(notFound));
    await page.route('**/api/v1/logs?**', (route) => route.fulfill(notFound));
    await page.goto(`${url}/dashboard/#/latency`);
    await page.locator('#heatmap [data-unavailable]', { hasText: 'not available yet' }).waitFor();
    await page.goto(`${url}/dashboard/#/agents/echo/someone`);
    await page.locator('#logs [data-unavailable]', { hasText: 'not available yet' }).waitFor();

    await page.unrouteAll();

    // Answers of the contract's shape with chosen values (the only canned data in these tests), to
    // check how the page draws each kind of cell.
    const now = new Date().toISOString();
    await page.route('**/api/v1/cluster/latency', (route) =>
      route.fulfill({
        json: {
          generated_at: now,
          entries: [
            { from: 'auth-box', to: 'redis', median_ms: 1.5, last_ms: 1.2, max_ms: 3, samples: 10, error: null, measured_at: now },
            { from: 'auth-box', to: 'manager', median_ms: 250, last_ms: 240, max_ms: 300, samples: 10, error: null, measured_at: now },
            { from: 'auth-box', to: 'other-box', median_ms: null, last_ms: null, max_ms: null, samples: 0, error: 'connect ECONNREFUSED', measured_at: null },
            { from: 'other-box', to: 'auth-box', median_ms: 12.4, last_ms: 12, max_ms: 20, samples: 5, error: null, measured_at: now },
          ],
        },
      }),
    );
    const logQueries: string[] = [];
    await page.route('**/api/v1/logs?**', (route) => {
      logQueries.push(new URL(route.request().url()).search);
      return route.fulfill({
        json: { entries: [{ id: '1-0', time: now, level: 'warn', container_id: 'auth-box', agent_id: 'echo/someone', trace_id: null, msg: 'handler slow' }], next: '1-0' },
      });
    });
    await page.goto(`${url}/dashboard/#/latency`);
    const table = page.locator('table[data-table=latency]');
    await table.waitFor();
    assert.deepEqual(await table.locator('tr').first().locator('th').allInnerTexts(), ['from \\ to', 'redis', 'manager', 'auth-box', 'other-box']);
    const authRow = table.locator('tr', { has: page.locator('th', { hasText: /^auth-box$/ }) });
    assert.deepEqual(await authRow.locator('td').allInnerTexts(), ['1.50', '250', '–', '×']);
    await screenshot(page, 'latency');
    await page.goto(`${url}/dashboard/#/agents/echo/someone`);
    await page.locator('#logs', { hasText: 'handler slow' }).waitFor();
    assert.ok(logQueries.some((q) => new URLSearchParams(q).get('agent') === 'echo/someone'), logQueries.join(' '));

    // This manager's own endpoints: answered, so nothing says "not available".
    await page.unrouteAll();
    const answers: { url: string; status: number }[] = [];
    page.on('response', (res) => {
      if (/\/api\/v1\/(cluster\/latency|logs)/.test(res.url())) answers.push({ url: res.url(), status: res.status() });
    });
    const answered = async (what: RegExp): Promise<void> => {
      const deadline = Date.now() + UI_MS;
      while (!answers.some((a) => what.test(a.url)) && Date.now() < deadline) await page.waitForTimeout(100);
    };
    await page.goto(`${url}/dashboard/#/latency`);
    await answered(/\/cluster\/latency/);
    await page.goto(`${url}/dashboard/#/agents/echo/someone`);
    await answered(/\/api\/v1\/logs/);
    assert.ok(answers.some((a) => /\/cluster\/latency/.test(a.url)) && answers.some((a) => /\/api\/v1\/logs/.test(a.url)), `answers ${JSON.stringify(answers)}`);
    assert.ok(answers.every((a) => a.status === 200), `answers ${JSON.stringify(answers)}`);
    assert.equal(await page.locator('[data-unavailable]').count(), 0);
  });
});
