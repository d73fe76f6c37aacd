/**
 * A container's own port (8001) in a cluster that authenticates, with TLS off: /health, /ready
 * and /ping stay open (probes, the manager's liveness and reach-back checks, peers' pings);
 * /status and /metrics need a token of this cluster, which the container checks against the keys
 * the manager publishes at /.well-known/jwks.json. Keys rotated on the manager are picked up,
 * retired ones and revoked tokens refused; FLOTILLA_METRICS_PUBLIC opens /metrics alone; repeated failures get 429.
 * Real processes: a manager with a key directory (memory store) and containers that join with
 * the join token.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FlotillaProcess, freePort, http, waitFor, waitForHttp, type HttpResult } from '../../helpers/processes.js';
import { bearer, testKeys, type TestKeys } from '../../helpers/auth.js';
import { runCli } from '../../cli/run-cli.js';

/** The least the container accepts: a retired key is refused within this. */
const JWKS_REFRESH_MS = 5_000;
/** FailureLimiter's default limit per address and window. */
const FAILURE_LIMIT = 20;

describe("a container's port with authentication on and TLS off", { timeout: 180_000 }, () => {
  let keys: TestKeys;
  let stranger: TestKeys;
  let manager: FlotillaProcess;
  let url: string;
  const procs: FlotillaProcess[] = [];
  const ports = new Map<string, number>();

  const keyCli = (args: string[]) => runCli([...args, '--key-dir', keys.keyDir.path]);
  const call = (name: string, path: string, token?: string): Promise<HttpResult<{ error?: string; container_id?: string } & Record<string, unknown>>> =>
    http('GET', `http://127.0.0.1:${ports.get(name)}${path}`, undefined, token === undefined ? {} : bearer(token));

  async function container(name: string, env: Record<string, string> = {}): Promise<void> {
    const port = await freePort();
    ports.set(name, port);
    procs.push(
      new FlotillaProcess(name, ['container'], {
        CENTRAL_MANAGER_URL: url,
        CONTAINER_NAME: name,
        EXTERNAL_IP: '127.0.0.1',
        FLOTILLA_BIND_ADDRESS: '127.0.0.1',
        AGENT_PORT: String(port),
        FLOTILLA_JOIN_TOKEN: keys.joinToken(),
        FLOTILLA_JWKS_REFRESH_MS: String(JWKS_REFRESH_MS),
        ...env,
      }),
    );
    await waitForHttp(`http://127.0.0.1:${port}/health`, 15_000);
  }

  before(async () => {
    keys = testKeys('port');
    stranger = testKeys('stranger');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    manager = new FlotillaProcess('manager', ['manager'], { ...keys.env, FLOTILLA_STORE: 'memory', CLUSTER_PORT: String(port), FLOTILLA_BIND_ADDRESS: '127.0.0.1' });
    await waitForHttp(`${url}/health`, 15_000);
    await container('guarded');
    await container('scraped', { FLOTILLA_METRICS_PUBLIC: 'true' });
    await waitFor('both containers ready', async () => (await call('guarded', '/ready')).status === 200 && (await call('scraped', '/ready')).status === 200, 15_000);
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await manager?.stop();
    keys?.remove();
    stranger?.remove();
  });

  test('/health, /ready and /ping are open; /status and /metrics need a token of this cluster', async () => {
    for (const path of ['/health', '/ready', '/ping']) assert.equal((await call('guarded', path)).status, 200, `${path} is open`);
    for (const path of ['/status', '/metrics']) {
      const none = await call('guarded', path);
      assert.equal(none.status, 401, `${path} without a token: ${JSON.stringify(none.body)}`);
      assert.equal(none.body.error, 'missing_token');
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="flotilla"');
      const garbage = await call('guarded', path, 'not-a-jwt');
      assert.equal(garbage.status, 401);
      assert.equal(garbage.body.error, 'invalid_token');
      const foreign = await call('guarded', path, await stranger.token('admin'));
      assert.equal(foreign.status, 401, `${path} with another cluster's admin token: ${JSON.stringify(foreign.body)}`);
      assert.match(String(foreign.body.message), /not signed by this cluster/);
      const expired = await call('guarded', path, await keys.token('viewer', { atMs: Date.now() - 7_200_000, ttlMs: 3_600_000 }));
      assert.equal(expired.status, 401);
      assert.equal(expired.body.error, 'token_expired');
    }
    // Any role of this cluster reads: a viewer, and a container's own token.
    const status = await call('guarded', '/status', await keys.token('viewer'));
    assert.equal(status.status, 200, JSON.stringify(status.body));
    assert.equal(status.body.container_id, 'guarded');
    const metrics = await call('guarded', '/metrics', await keys.token('container', { cid: 'scraped' }));
    assert.equal(metrics.status, 200);
    assert.match(String(metrics.body), /^# HELP /m, 'Prometheus text');
  });

  test('FLOTILLA_METRICS_PUBLIC opens /metrics and nothing else', async () => {
    const metrics = await call('scraped', '/metrics');
    assert.equal(metrics.status, 200, JSON.stringify(metrics.body).slice(0, 200));
    assert.equal((await call('scraped', '/status')).status, 401);
    assert.equal((await call('guarded', '/metrics')).status, 401, 'only on the container that set it');
  });

  test('keys rotate: the new key is accepted within a couple of seconds; the old one, retired, is refused within the refresh time', async () => {
    const before = await keys.token('viewer');
    assert.equal((await call('scraped', '/status', before)).status, 200);
    const oldKid = JSON.parse((await keyCli(['keys', 'list', '--json'])).stdout).keys[0].kid as string;
    assert.equal((await keyCli(['keys', 'rotate'])).code, 0);
    const fresh = (await keyCli(['token', 'create', '--role', 'viewer', '--ttl', '10m'])).stdout.trim();
    // An unknown key id makes the container read the keys again (at most once a second).
    const rotatedAt = Date.now();
    await waitFor('a token of the new key accepted', async () => (await call('scraped', '/status', fresh)).status === 200, 10_000, 500);
    const acceptedMs = Date.now() - rotatedAt;
    assert.equal((await call('scraped', '/status', before)).status, 200, 'the old key still verifies until retired');
    assert.equal((await keyCli(['keys', 'retire', oldKid])).code, 0);
    const retiredAt = Date.now();
    await waitFor('the retired key refused', async () => (await call('scraped', '/status', before)).status === 401, JWKS_REFRESH_MS * 3, 250);
    console.log(`# container port: a new key's token accepted ${acceptedMs} ms after \`keys rotate\`; a retired key refused ${Date.now() - retiredAt} ms after \`keys retire\` (FLOTILLA_JWKS_REFRESH_MS=${JWKS_REFRESH_MS})`);
    assert.equal((await call('scraped', '/status', fresh)).status, 200, 'the new key keeps working');
  });

  test('token revoke: a revoked token is refused by the container within the refresh time, others are not', async () => {
    const made = async () => JSON.parse((await keyCli(['token', 'create', '--role', 'viewer', '--ttl', '10m', '--json'])).stdout) as { token: string; jti: string };
    const [revoked, kept] = [await made(), await made()];
    await waitFor('the new tokens accepted', async () => (await call('scraped', '/status', revoked.token)).status === 200, 10_000, 500);
    assert.equal((await keyCli(['token', 'revoke', revoked.jti])).code, 0);
    const at = Date.now();
    await waitFor('the revoked token refused', async () => (await call('scraped', '/status', revoked.token)).body.error === 'token_revoked', JWKS_REFRESH_MS * 3, 250);
    console.log(`# container port: a revoked token refused ${Date.now() - at} ms after \`token revoke\``);
    assert.equal((await call('scraped', '/status', kept.token)).status, 200);
  });

  test(`after ${FAILURE_LIMIT} failed authentications an address gets 429, even with a good token`, async () => {
    // Earlier tests already failed some from 127.0.0.1: keep failing until the limit answers.
    let last = 0;
    for (let i = 0; i <= FAILURE_LIMIT && last !== 429; i++) last = (await call('guarded', '/status', 'not-a-jwt')).status;
    assert.equal(last, 429);
    const good = await call('guarded', '/status', await keys.token('viewer'));
    assert.equal(good.status, 429);
    assert.equal(good.body.error, 'too_many_auth_failures');
    assert.ok(Number(good.headers['retry-after']) > 0, 'Retry-After says when');
    assert.equal((await call('guarded', '/health')).status, 200, 'open paths are not limited');
  });
});
