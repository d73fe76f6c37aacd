/**
 * The dashboard in real headless Chromium against a real cluster: a redis-server, a manager and
 * three containers as processes. Through the page only: sign in, see every container, deploy an
 * agent and see it placed, send it a message and read the reply; then the test kills the agent's
 * container with SIGKILL and the page, never reloaded, shows the container down and the agent on
 * another one; a migration from the agent's page, and a drain that reports its progress until the
 * container is empty.
 * Screenshots of the main pages go to test-artifacts/dashboard/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { FlotillaProcess, freePort, http, loopbackContainerEnv, waitFor, waitForHttp } from '../helpers/processes.js';
import { chromiumSkipReason, launchBrowser, screenshot, type Browser } from '../helpers/browser.js';
import { bearer, testKeys } from '../helpers/auth.js';

const CONTAINERS = [
  ['dash-c1', '127.0.0.41'],
  ['dash-c2', '127.0.0.42'],
  ['dash-c3', '127.0.0.43'],
] as const;
/** Generous for a loaded machine: the lease times out in 3 s, the page refetches within 0.2 s of the event. */
const FAILOVER_SEEN_MS = 30_000;
const UI_MS = 15_000;

const skip = chromiumSkipReason();

describe('dashboard against a real cluster', { timeout: 240_000, skip: skip ?? false }, () => {
  let redis: RedisServer;
  let manager: FlotillaProcess;
  let url: string;
  let browser: Browser;
  const prefix = `dash${process.pid}:`;
  const containers = new Map<string, FlotillaProcess>();
  // Authentication on, as a user runs it: the manager's key directory, containers join with the join token.
  const keys = testKeys('dashboard-cluster');
  let headers: Record<string, string>;

  before(async () => {
    redis = await startRedisServer();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    manager = new FlotillaProcess('manager', ['manager'], { REDIS_URL: redis.url, CLUSTER_PORT: String(port), FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_PREFIX: prefix, ...keys.env });
    headers = bearer(await keys.token('admin', { sub: 'dash-test' }));
    await waitForHttp(`${url}/health`);
    for (const [name, ip] of CONTAINERS) {
      containers.set(
        name,
        new FlotillaProcess(name, ['container'], {
          ...(await loopbackContainerEnv(name, ip, { managerUrl: url, redisUrl: redis.url, prefix })),
          FLOTILLA_JOIN_TOKEN: keys.joinToken(),
        }),
      );
    }
    await waitFor('three containers serving echo', async () => {
      const list = await http<{ containers: { agent_types: string[] }[] }>('GET', `${url}/api/v1/cluster/containers`, undefined, headers);
      return list.body.containers?.filter((c) => c.agent_types.includes('echo')).length === 3;
    }, 20_000);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await Promise.all([...containers.values()].map((c) => c.stop()));
    await manager?.stop();
    await redis?.stop();
    keys.remove();
  });

  const containerRow = (name: string) => browser.page.locator(`[data-table=containers] .vt-row:has-text("${name}")`);
  const agentRow = (id: string) => browser.page.locator(`[data-table=agents] .vt-row:has(a:text-is("${id}"))`);

  test('sign in, see every container, deploy, talk to the agent, watch a failover, migrate and drain, without reloading', async () => {
    const { page } = browser;
    page.setDefaultTimeout(UI_MS);

    // Sign in with an operator's token (as `flotilla token create --role operator` prints it); the
    // manager wants one, so the page offers no way around the form.
    await page.goto(`${url}/dashboard/`);
    await page.locator('#signin-form').waitFor();
    assert.equal(await page.locator('#continue-anonymous').isVisible(), false);
    await page.locator('#signin-token').fill(await keys.token('operator', { sub: 'olga' }));
    await page.locator('#signin-form button[type=submit]').click();
    await page.locator('#who', { hasText: 'olga (operator)' }).waitFor();
    for (const [name, ip] of CONTAINERS) {
      await containerRow(name).waitFor();
      assert.match(await containerRow(name).innerText(), new RegExp(`${ip.replace(/\./g, '\\.')}:\\d+[\\s\\S]*active`));
    }
    await page.locator('#live.on').waitFor();
    assert.equal(await page.locator('[data-count=active] b').innerText(), '3');
    // From here on the page is never reloaded: this marker would vanish with a reload.
    await page.evaluate('window.__notReloaded = true');
    await screenshot(page, 'overview');

    // Deploy from the Agents page and see where it was placed.
    await page.locator('nav a[data-view=agents]').click();
    await page.locator('#deploy-form input[name=agent_type]').fill('echo');
    await page.locator('#deploy-form input[name=name]').fill('dash-a');
    await page.locator('#deploy-form select[name=deployment_strategy]').selectOption('least_loaded');
    await page.locator('#deploy-form button[type=submit]').click();
    await page.locator('#ops .op-line.done', { hasText: 'echo/dash-a placed on' }).waitFor();
    await agentRow('echo/dash-a').locator('.badge.active').waitFor();
    const placedOn = (await agentRow('echo/dash-a').locator('[data-container]').innerText()).trim();
    assert.ok(CONTAINERS.some(([name]) => name === placedOn), `placed on ${placedOn}`);
    const api = await http<{ container_id: string }>('GET', `${url}/api/v1/cluster/agents/echo/dash-a`, undefined, headers);
    assert.equal(api.body.container_id, placedOn, 'the page shows where the API says it is');
    await screenshot(page, 'agents');

    // Its page: send a message, read the reply.
    await agentRow('echo/dash-a').locator('a').click();
    await page.locator('#agent-container', { hasText: placedOn }).waitFor();
    await page.locator('#send-form textarea').fill('{"text": "hello from the browser"}');
    await page.locator('#send-form button[type=submit]').click();
    await page.locator('#send-status .ok-text').waitFor();
    const reply = JSON.parse(await page.locator('#reply').innerText()) as { echo: { text: string }; count: number };
    assert.deepEqual(reply, { echo: { text: 'hello from the browser' }, count: 1 });
    assert.match(await page.locator('#logs').innerText(), /not available yet|no log lines|\S/);
    await screenshot(page, 'agent');

    // Kill -9 its container; the overview shows it down, the agent moves, without a reload.
    await page.locator('nav a[data-view=overview]').click();
    await containerRow(placedOn).waitFor();
    containers.get(placedOn)!.kill9();
    await containerRow(placedOn).locator('.badge.down').waitFor({ timeout: FAILOVER_SEEN_MS });
    await page.locator('[data-count=down] b', { hasText: '1' }).waitFor();
    await page.locator('#feed li', { hasText: `${placedOn} is down` }).waitFor();
    await page.locator('#feed li', { hasText: 'echo/dash-a failed over' }).waitFor({ timeout: FAILOVER_SEEN_MS });
    await screenshot(page, 'overview-after-failover');
    await page.locator('nav a[data-view=agents]').click();
    await waitFor('the agent shown on another container', async () => {
      const text = (await agentRow('echo/dash-a').locator('[data-container]').innerText()).trim();
      return text !== placedOn && CONTAINERS.some(([name]) => name === text) ? text : undefined;
    }, FAILOVER_SEEN_MS);
    await agentRow('echo/dash-a').locator('.badge.active').waitFor({ timeout: FAILOVER_SEEN_MS });
    const movedTo = (await agentRow('echo/dash-a').locator('[data-container]').innerText()).trim();
    assert.equal(await page.evaluate('window.__notReloaded === true'), true, 'the page was not reloaded');

    // Migrate it from its page to the one container it has not been on.
    const third = CONTAINERS.map(([name]) => name).find((name) => name !== placedOn && name !== movedTo)!;
    await agentRow('echo/dash-a').locator('a').click();
    await page.locator('#agent-container', { hasText: movedTo }).waitFor();
    await page.locator('#migrate-target').selectOption(third);
    await page.locator('#migrate-form button[type=submit]').click();
    await page.locator('#ops .op-line.done', { hasText: `echo/dash-a moved from ${movedTo} to ${third}` }).waitFor();
    await page.locator('#agent-container', { hasText: third }).waitFor();

    // Drain that container from the page: progress until no agent is left, and the agent moves again.
    await page.locator('nav a[data-view=overview]').click();
    await containerRow(third).locator('button[data-action=drain]').click();
    await page.locator('#ops .op-line.done', { hasText: `${third} drained: no agents left` }).waitFor({ timeout: FAILOVER_SEEN_MS });
    await containerRow(third).locator('.badge.draining').waitFor();
    const last = await http<{ container_id: string }>('GET', `${url}/api/v1/cluster/agents/echo/dash-a`, undefined, headers);
    assert.equal(last.body.container_id, movedTo, 'drained off the third container onto the only other live one');
    assert.equal(await page.evaluate('window.__notReloaded === true'), true, 'the page was not reloaded');

    // Offline: every request the page made went to the manager.
    const elsewhere = browser.requests.filter((u) => !u.startsWith(`${url}/`));
    assert.deepEqual(elsewhere, [], 'the page asked for nothing outside the manager');
  });
});
