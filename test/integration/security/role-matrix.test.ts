/**
 * The role matrix: every route of the manager (read from the app's own route table) × every kind
 * of caller, over real HTTP against an in-process manager with authentication on. Each caller
 * gets a freshly seeded cluster and walks every route with a well-formed request: 2xx when its
 * role may, 403 when it may not, 401 without a valid token (none, expired, signed by a retired
 * key, from another cluster, an old join token). Public routes answer everyone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { MemoryStore } from '../../../src/store/index.js';
import { Manager } from '../../../src/manager/manager.js';
import { managerConfigFromEnv } from '../../../src/manager/config.js';
import { buildManagerApp, routesOf } from '../../../src/manager/app.js';
import { createLogger } from '../../../src/common/logger.js';
import { ApiAuthenticator, mintToken, type Role } from '../../../src/auth/index.js';
import type { Access } from '../../../src/manager/access.js';
import { testKeys, type TestKeys } from '../../helpers/auth.js';
import { CertificateIssuer, initClusterCa } from '../../../src/tls/index.js';
import { OWN, SAMPLES, seedCluster, type Sample } from './api-samples.js';

const log = createLogger({ test: 'role-matrix' }, 'silent');

interface CallerKind {
  name: string;
  token: string | undefined;
  /** What this caller should get on a route of `access`. */
  expect: (access: Access) => 200 | 401 | 403;
}

/** Written out here rather than read from src/auth/roles.ts, so a change there must change this too. */
const ADMITTED: Record<Access, readonly Role[]> = {
  public: ['admin', 'operator', 'viewer', 'container'],
  read: ['admin', 'operator', 'viewer'],
  operate: ['admin', 'operator'],
  admin: ['admin'],
  container: ['admin', 'container'],
  join: ['admin', 'container'],
};

function roleExpect(role: Role, opts: { foreignContainer?: boolean } = {}) {
  return (access: Access): 200 | 403 => {
    if (!ADMITTED[access].includes(role)) return 403;
    // A container token for another container: its own routes name c-own, so they are not its.
    if (opts.foreignContainer === true && (access === 'container' || access === 'join')) return 403;
    return 200;
  };
}
const unauthenticated = (access: Access): 200 | 401 => (access === 'public' ? 200 : 401);

/** Every route (HEAD aside: the same handler and access as its GET). */
async function routeKeys(keys: TestKeys): Promise<Array<{ key: string; access: Access }>> {
  const app = await buildManagerApp({
    store: new MemoryStore(),
    config: managerConfigFromEnv({}),
    log,
    auth: new ApiAuthenticator({ keyDir: keys.keyDir, log }),
    metrics: { render: async () => '', contentType: 'text/plain' } as never,
  });
  await app.ready();
  const routes = routesOf(app)
    .filter((r) => r.method !== 'HEAD')
    .map((r) => ({ key: `${r.method} ${r.url}`, access: r.access }));
  await app.close();
  return routes;
}

async function call(base: string, sample: Sample, state: { epoch: number }, token: string | undefined, method: string) {
  const body = sample.body?.(state);
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(`${base}${sample.path(state)}`, {
    method: method as 'GET',
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  if (sample.stream === true) {
    res.body.on('error', () => undefined);
    res.body.destroy();
    return { status: res.statusCode, body: undefined as unknown };
  }
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (/docs, /metrics)
  }
  return { status: res.statusCode, body: parsed };
}

describe('role matrix: every route × every caller', () => {
  const keys = testKeys('matrix');
  const foreign = testKeys('foreign');
  let callers: CallerKind[];
  let routes: Array<{ key: string; access: Access }>;

  before(async () => {
    // A cluster CA, so the CA route answers and the certificate route signs.
    await initClusterCa(keys.keyDir);
    // A token signed by the first key, which is then rotated out and retired.
    const retired = await keys.token('admin');
    const firstKid = keys.keyDir.load().signing[0]!.kid;
    keys.keyDir.rotate();
    keys.keyDir.retire(firstKid);
    const oldJoin = keys.joinToken();
    keys.keyDir.rotateJoinToken();
    callers = [
      { name: 'admin', token: await keys.token('admin'), expect: roleExpect('admin') },
      { name: 'operator', token: await keys.token('operator'), expect: roleExpect('operator') },
      { name: 'viewer', token: await keys.token('viewer'), expect: roleExpect('viewer') },
      { name: 'container (own)', token: await keys.token('container', { cid: OWN }), expect: roleExpect('container') },
      { name: 'container (another)', token: await keys.token('container', { cid: 'c-stranger' }), expect: roleExpect('container', { foreignContainer: true }) },
      { name: 'join token', token: keys.joinToken(), expect: (a) => (a === 'public' || a === 'join' ? 200 : 403) },
      { name: 'no token', token: undefined, expect: unauthenticated },
      { name: 'expired token', token: await keys.token('admin', { ttlMs: 60_000, atMs: Date.now() - 10 * 60_000 }), expect: unauthenticated },
      { name: 'retired key', token: retired, expect: unauthenticated },
      { name: 'other cluster', token: (await mintToken(foreign.keyDir.load(), { sub: 'x', role: 'admin', ttlMs: 3_600_000 })).token, expect: unauthenticated },
      { name: 'rotated-out join token', token: oldJoin, expect: unauthenticated },
      { name: 'not a JWT', token: 'not-a-token', expect: unauthenticated },
    ];
    routes = await routeKeys(keys);
  });
  after(() => {
    keys.remove();
    foreign.remove();
  });

  test('every route has a sample request (a new route must be added to the matrix)', () => {
    const sampled = new Set(SAMPLES.map(([k]) => k));
    const missing = routes.filter((r) => !sampled.has(r.key)).map((r) => r.key);
    assert.deepEqual(missing, [], 'routes without a sample in api-samples.ts');
    const known = new Set(routes.map((r) => r.key));
    assert.deepEqual(SAMPLES.map(([k]) => k).filter((k) => !known.has(k)), [], 'samples for routes that do not exist');
    assert.ok(routes.length >= 30, `expected the whole API, found ${routes.length} routes`);
    const declared = new Map(SAMPLES.map(([k, s]) => [k, s.access]));
    assert.deepEqual(
      routes.filter((r) => declared.get(r.key) !== r.access).map((r) => `${r.key}: declares ${r.access}, expected ${declared.get(r.key)}`),
      [],
    );
  });

  test('each caller gets 2xx, 401 or 403 exactly as its role says, on every route', async () => {
    const accessOf = new Map(routes.map((r) => [r.key, r.access]));
    const failures: string[] = [];
    let checked = 0;
    for (const caller of callers) {
      const store = new MemoryStore();
      const state = await seedCluster(store);
      const config = managerConfigFromEnv({ CLUSTER_PORT: '0', FLOTILLA_BIND_ADDRESS: '127.0.0.1' });
      // No failure limit here: this test makes hundreds of 401s from one address on purpose.
      const auth = new ApiAuthenticator({ keyDir: keys.keyDir, log, failures: { limit: 1_000_000 } });
      const manager = new Manager({ store, config, log, auth, certificates: new CertificateIssuer(keys.keyDir, 60_000) });
      await manager.start();
      try {
        const base = `http://127.0.0.1:${manager.port}`;
        for (const [key, sample] of SAMPLES) {
          const access = accessOf.get(key) ?? sample.access;
          const want = caller.expect(access);
          const got = await call(base, sample, state, caller.token, key.split(' ')[0]!);
          checked += 1;
          const ok = want === 200 ? got.status >= 200 && got.status < (sample.redirect === true ? 400 : 300) : got.status === want;
          if (!ok) failures.push(`${caller.name} ${key} (${access}): want ${want === 200 ? '2xx' : want}, got ${got.status} ${JSON.stringify(got.body).slice(0, 200)}`);
          if (want !== 200 && typeof got.body === 'object' && got.body !== null) {
            const e = got.body as { error?: unknown; status_code?: unknown };
            if (typeof e.error !== 'string' || e.status_code !== want) failures.push(`${caller.name} ${key}: error body ${JSON.stringify(got.body)}`);
          }
          if (got.status >= 200 && got.status < 300) sample.after?.(state, got.body);
        }
      } finally {
        await manager.stop();
        await store.close();
      }
    }
    assert.deepEqual(failures, []);
    assert.equal(checked, callers.length * SAMPLES.length);
  });
});
