/**
 * The dashboard's files as the manager serves them (over real HTTP, no browser): the page, its
 * script and styles, with a content security policy that allows only the manager itself; no
 * address elsewhere in the page; revalidation by ETag; public even when the API requires a token;
 * and a clear 503 when the build has not produced them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { MemoryStore } from '../../src/store/index.js';
import { Manager } from '../../src/manager/manager.js';
import { managerConfigFromEnv } from '../../src/manager/config.js';
import { createLogger } from '../../src/common/logger.js';
import { dashboardRoutes, findDashboardDir } from '../../src/manager/routes/dashboard.js';
import { http } from '../helpers/processes.js';
import { testKeys } from '../helpers/auth.js';
import { startManagerAuth, type ApiAuthenticator } from '../../src/auth/index.js';

describe('dashboard files', () => {
  const store = new MemoryStore();
  let manager: Manager;
  let url: string;
  // Real authentication and no token: the API refuses, the page's files must still load (they hold no data).
  const keys = testKeys('dashboard-files');

  before(async () => {
    assert.ok(findDashboardDir() !== undefined, 'dist/dashboard exists (npm run build)');
    const config = managerConfigFromEnv({ CLUSTER_PORT: '0', FLOTILLA_BIND_ADDRESS: '127.0.0.1' });
    const log = createLogger({ test: 'dashboard-files' }, 'silent');
    const auth = startManagerAuth({ mode: 'on', keyDir: keys.keyDir.path, containerTokenTtlMs: 86_400_000, metricsPublic: false }, store, log) as ApiAuthenticator;
    manager = new Manager({ store, config, log, auth });
    await manager.start();
    url = `http://127.0.0.1:${manager.port}`;
  });
  after(async () => {
    await manager.stop();
    await store.close();
    keys.remove();
  });

  test('the page, its script and styles are public; the API behind them is not', async () => {
    const page = await http<string>('GET', `${url}/dashboard/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<script type="module" src="app.js">/);
    assert.doesNotMatch(page.body, /(src|href)="(https?:)?\/\//, 'nothing loaded from elsewhere');
    for (const [path, type] of [
      ['app.js', 'text/javascript'],
      ['styles.css', 'text/css'],
    ] as const) {
      const res = await fetch(`${url}/dashboard/${path}`);
      assert.equal(res.status, 200, path);
      assert.ok(res.headers.get('content-type')?.startsWith(type), `${path}: ${res.headers.get('content-type')}`);
      assert.ok((await res.text()).length > 0);
    }
    assert.equal((await http('GET', `${url}/api/v1/cluster/status`)).status, 401);
  });

  test('a content security policy allows only the manager; /dashboard redirects; ETag revalidation', async () => {
    const res = await fetch(`${url}/dashboard/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    const etag = res.headers.get('etag');
    assert.ok(etag !== null);
    const again = await fetch(`${url}/dashboard/`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    const bare = await fetch(`${url}/dashboard`, { redirect: 'manual' });
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get('location'), '/dashboard/');
    assert.equal((await http('GET', `${url}/dashboard/other.js`)).status, 404);
  });

  test('not built: a 503 that says what to do, as JSON', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'flotilla-nodash-'));
    const app = Fastify();
    try {
      await app.register(dashboardRoutes, { dir: `${empty}/` });
      const res = await app.inject({ method: 'GET', url: '/dashboard/' });
      assert.equal(res.statusCode, 503);
      const body = res.json<{ error: string; message: string }>();
      assert.equal(body.error, 'dashboard_not_built');
      assert.match(body.message, /npm run build/);
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
