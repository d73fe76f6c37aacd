/**
 * Authentication with the real processes: a manager with a key directory, containers that join
 * with the join token and then use their own token, the key commands of the real CLI changing a
 * running manager's mind (keys rotate / retire, join-token --rotate), and `flotilla dev`'s token.
 * The manager runs on the memory store and the containers renew over HTTP (no REDIS_URL), so
 * every lease renewal is an authenticated call.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { FlotillaProcess, freePort, http, waitFor, waitForHttp } from '../../helpers/processes.js';
import { bearer, testKeys, type TestKeys } from '../../helpers/auth.js';
import { runCli } from '../../cli/run-cli.js';
import type { ContainerList, ContainerView, EventView } from '../../../src/protocol/api.js';

describe('authentication with real processes', { timeout: 180_000 }, () => {
  let keys: TestKeys;
  let manager: FlotillaProcess;
  let url: string;
  let admin: string;
  const containers: FlotillaProcess[] = [];

  const keyCli = (args: string[]) => runCli([...args, '--key-dir', keys.keyDir.path]);
  async function container(name: string, joinToken: string): Promise<FlotillaProcess> {
    const proc = new FlotillaProcess(name, ['container'], {
      CENTRAL_MANAGER_URL: url,
      CONTAINER_NAME: name,
      EXTERNAL_IP: '127.0.0.1',
      FLOTILLA_BIND_ADDRESS: '127.0.0.1',
      AGENT_PORT: String(await freePort()),
      FLOTILLA_JOIN_TOKEN: joinToken,
      FLOTILLA_AUTH: 'on',
      FLOTILLA_LEASE_INTERVAL_MS: '200',
      FLOTILLA_LEASE_TIMEOUT_MS: '1500',
    });
    containers.push(proc);
    return proc;
  }
  async function c_new_rejoins(): Promise<void> {
    const proc = containers.find((c) => c.label === 'c-new')!;
    await waitFor('c-new registered again', () => proc.output.filter((l) => /joined the cluster as c-new/.test(l)).length >= 2, 15_000);
    await waitFor('c-new active', async () => (await view('c-new')).state === 'active', 10_000);
  }
  const view = async (id: string) => (await http<ContainerView>('GET', `${url}/api/v1/cluster/containers/${id}`, undefined, bearer(admin))).body;

  before(async () => {
    keys = testKeys('procs');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    manager = new FlotillaProcess('manager', ['manager'], {
      ...keys.env,
      FLOTILLA_STORE: 'memory',
      CLUSTER_PORT: String(port),
      FLOTILLA_BIND_ADDRESS: '127.0.0.1',
      FLOTILLA_LEASE_INTERVAL_MS: '200',
      FLOTILLA_LEASE_TIMEOUT_MS: '1500',
    });
    await waitForHttp(`${url}/health`, 15_000);
    admin = (await keyCli(['token', 'create', '--role', 'admin', '--ttl', '1h'])).stdout.trim();
  });
  after(async () => {
    await Promise.all(containers.map((c) => c.stop()));
    await manager.stop();
    keys.remove();
  });

  test('the API refuses calls without a token and serves them with one; /health stays open', async () => {
    assert.equal((await http('GET', `${url}/health`)).status, 200);
    const refused = await http<{ error: string; status_code: number }>('GET', `${url}/api/v1/cluster/status`);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'missing_token');
    assert.equal((await http('GET', `${url}/api/v1/cluster/status`, undefined, bearer(admin))).status, 200);
    const jwks = await http<{ keys: Array<{ kid: string; d?: string }> }>('GET', `${url}/.well-known/jwks.json`);
    assert.equal(jwks.status, 200);
    assert.equal(jwks.body.keys.length, 1);
    assert.equal(jwks.body.keys[0]!.d, undefined);
    assert.doesNotMatch(manager.text, /AUTHENTICATION IS OFF/);
  });

  test('a container joins with the join token and renews its lease with its own token', async () => {
    const c = await container('c-join', keys.joinToken());
    await c.waitForOutput(/joined the cluster as c-join/, 15_000);
    const first = await view('c-join');
    assert.equal(first.state, 'active');
    // Renewals go over HTTP with the container's token: the lease keeps being extended.
    await waitFor('a later lease', async () => Date.parse((await view('c-join')).last_heartbeat) > Date.parse(first.last_heartbeat) + 500, 10_000);
  });

  test('a wrong join token is refused: the container says so and exits', async () => {
    const wrong = keys.joinToken().replace(/-[0-9a-f]{48}$/, `-${'0'.repeat(48)}`);
    const c = await container('c-wrong', wrong);
    const { code } = await c.exited;
    assert.notEqual(code, 0);
    assert.match(c.text, /refused the registration: the join token is not the current one/);
    const list = await http<ContainerList>('GET', `${url}/api/v1/cluster/containers?include_inactive=true`, undefined, bearer(admin));
    assert.ok(!list.body.containers.some((x) => x.container_id === 'c-wrong'));
  });

  test('join-token --rotate: the old token admits no new container; a running one is undisturbed', async () => {
    const old = keys.joinToken();
    const running = await container('c-before', old);
    await running.waitForOutput(/joined the cluster/, 15_000);
    const rotated = await keyCli(['join-token', '--rotate']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const fresh = rotated.stdout.trim();
    assert.notEqual(fresh, old);
    assert.equal((await keyCli(['join-token'])).stdout.trim(), fresh);
    // The manager re-reads its keys within a second.
    await waitFor('the old join token refused', async () => {
      const res = await http('POST', `${url}/api/v1/cluster/containers/register`, { container_name: 'probe', host_address: '127.0.0.1' }, bearer(old));
      return res.status === 401;
    }, 10_000);
    const late = await container('c-late', old);
    assert.notEqual((await late.exited).code, 0);
    assert.match(late.text, /join token is not the current one/);
    const newcomer = await container('c-new', fresh);
    await newcomer.waitForOutput(/joined the cluster as c-new/, 15_000);
    // The one that joined before keeps renewing (well past its 1.5 s lease timeout).
    const before = Date.parse((await view('c-before')).last_heartbeat);
    await new Promise((r) => setTimeout(r, 2_000));
    const now = await view('c-before');
    assert.equal(now.state, 'active');
    assert.ok(Date.parse(now.last_heartbeat) > before, 'still renewing');
    const events = await http<{ events: EventView[] }>('GET', `${url}/api/v1/cluster/events?limit=1000`, undefined, bearer(admin));
    assert.ok(events.body.events.some((e) => e.type === 'keys_changed' && e.data.join_token_rotated === true), 'the rotation is an event');
  });

  test('keys rotate: old tokens keep working; keys retire: they are refused; new tokens work', async () => {
    const viewer = (await keyCli(['token', 'create', '--role', 'viewer', '--ttl', '10m'])).stdout.trim();
    const oldKid = JSON.parse((await keyCli(['keys', 'list', '--json'])).stdout).keys[0].kid as string;
    const rotated = await keyCli(['keys', 'rotate', '--json']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const { signing, rotated_out: out } = JSON.parse(rotated.stdout) as { signing: string; rotated_out: Array<{ kid: string }> };
    assert.deepEqual(out.map((k) => k.kid), [oldKid]);
    const status = () => http('GET', `${url}/api/v1/cluster/status`, undefined, bearer(viewer));
    await waitFor('two keys published', async () => (await http<{ keys: unknown[] }>('GET', `${url}/.well-known/jwks.json`)).body.keys.length === 2, 10_000);
    assert.equal((await status()).status, 200, 'a token of the rotated-out key still works');
    const fresh = (await keyCli(['token', 'create', '--role', 'viewer', '--ttl', '10m'])).stdout.trim();
    assert.equal(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid, signing);
    assert.equal((await keyCli(['keys', 'retire', oldKid])).code, 0);
    await waitFor('the retired key refused', async () => {
      const res = await status();
      return res.status === 401 && (res.body as { error?: string }).error === 'key_retired';
    }, 10_000);
    assert.equal((await http('GET', `${url}/api/v1/cluster/status`, undefined, bearer(fresh))).status, 200);
    // The admin token of before() was signed by the retired key too.
    assert.equal((await http('GET', `${url}/api/v1/cluster/status`, undefined, bearer(admin))).status, 401);
    admin = (await keyCli(['token', 'create', '--role', 'admin', '--ttl', '1h'])).stdout.trim();
    // c-new's own token was signed by the retired key: refused, it registers again with its
    // (still current) join token and carries on with a token of the new key.
    await c_new_rejoins();
    const listed = (await keyCli(['keys', 'list', '--json'])).stdout;
    assert.match(listed, /"state": "retired"/);
  });

  test('token revoke: that token is refused within seconds, by token or by id; others are not; garbage and dead tokens are told apart', async () => {
    const made = async () => JSON.parse((await keyCli(['token', 'create', '--role', 'viewer', '--ttl', '10m', '--json'])).stdout) as { token: string; jti: string };
    const [byToken, byId, kept] = [await made(), await made(), await made()];
    const status = (token: string) => http<{ error?: string }>('GET', `${url}/api/v1/cluster/status`, undefined, bearer(token));
    for (const t of [byToken, byId, kept]) assert.equal((await status(t.token)).status, 200);
    const revoked = await keyCli(['token', 'revoke', byToken.token, '--json']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(JSON.parse(revoked.stdout).jti, byToken.jti);
    assert.equal((await keyCli(['token', 'revoke', byId.jti])).code, 0);
    const revokedAt = Date.now();
    // Polled with the later of the two only, and gently: every refusal counts towards the manager's
    // limit of failed authentications per address (429 past it), as the other tests' do.
    await waitFor('the revoked token refused', async () => (await status(byId.token)).status === 401, 10_000, 250);
    console.log(`# token revoke: refused by the manager ${Date.now() - revokedAt} ms after the command`);
    assert.equal((await status(byId.token)).body.error, 'token_revoked');
    assert.equal((await status(byToken.token)).body.error, 'token_revoked');
    assert.equal((await status(kept.token)).status, 200, 'another token of the same key still works');
    const listed = JSON.parse((await keyCli(['token', 'revoked', '--json'])).stdout) as { revoked: { jti: string; sub: string | null }[] };
    assert.deepEqual(listed.revoked.map((r) => r.jti).sort(), [byToken.jti, byId.jti].sort());
    assert.equal(listed.revoked.find((r) => r.jti === byToken.jti)?.sub, 'viewer-token');
    const again = await keyCli(['token', 'revoke', byToken.token]);
    assert.match(again.stdout, /revoked already/);
    const jwks = await http<{ flotilla_revoked: string[] }>('GET', `${url}/.well-known/jwks.json`);
    assert.deepEqual([...jwks.body.flotilla_revoked].sort(), [byToken.jti, byId.jti].sort(), 'published for the containers');
    const events = await http<{ events: EventView[] }>('GET', `${url}/api/v1/cluster/events?limit=1000`, undefined, bearer(admin));
    const recorded = events.body.events.filter((e) => e.type === 'keys_changed').flatMap((e) => e.data.revoked_tokens as string[]);
    assert.ok(recorded.includes(byToken.jti) && recorded.includes(byId.jti), `the revocations are events: ${JSON.stringify(recorded)}`);
    // Garbage and another cluster's token are errors (exit 2), not entries; an expired one needs none.
    const garbage = await keyCli(['token', 'revoke', 'not a token']);
    assert.equal(garbage.code, 2);
    assert.match(garbage.stderr, /expected a token/);
    const other = testKeys('revoke-other');
    try {
      const foreign = await keyCli(['token', 'revoke', await other.token('admin')]);
      assert.equal(foreign.code, 2);
      assert.match(foreign.stderr, /not a token of this cluster/);
    } finally {
      other.remove();
    }
    const dead = await keyCli(['token', 'revoke', await keys.token('viewer', { atMs: Date.now() - 7_200_000, ttlMs: 3_600_000 })]);
    assert.equal(dead.code, 0);
    assert.match(dead.stdout, /expired already: nothing to revoke/);
    assert.equal(JSON.parse((await keyCli(['token', 'revoked', '--json'])).stdout).revoked.length, 2);
  });

  test('the key commands: clear usage errors, and no keys where there are none', async () => {
    const bad = await keyCli(['token', 'create', '--role', 'root']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /admin, operator, viewer, container/);
    const ttl = await keyCli(['token', 'create', '--role', 'admin', '--ttl', '1y']);
    assert.equal(ttl.code, 2);
    assert.match(ttl.stderr, /not a duration/);
    const cid = await keyCli(['token', 'create', '--role', 'container']);
    assert.equal(cid.code, 2);
    assert.match(cid.stderr, /--container-id/);
    const none = await runCli(['token', 'create', '--role', 'admin', '--key-dir', join(keys.dir, 'absent')]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no keys in .*absent/);
    assert.doesNotMatch(none.stderr, /\n\s+at /);
    assert.equal(statSync(keys.keyDir.path).mode & 0o777, 0o700);
  });
});

describe('manager and dev start-up with and without authentication', { timeout: 120_000 }, () => {
  test('flotilla manager creates its key directory on first start; FLOTILLA_AUTH=off warns loudly', async () => {
    const keys = testKeys('first');
    const dir = join(keys.dir, 'fresh');
    const port = await freePort();
    const on = new FlotillaProcess('manager', ['manager'], { FLOTILLA_AUTH: 'on', FLOTILLA_KEY_DIR: dir, FLOTILLA_STORE: 'memory', CLUSTER_PORT: String(port), FLOTILLA_BIND_ADDRESS: '127.0.0.1' });
    try {
      await on.waitForOutput(/created the cluster keys in/, 15_000);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal((await http('GET', `http://127.0.0.1:${port}/api/v1/cluster/status`)).status, 401);
    } finally {
      await on.stop();
    }
    const port2 = await freePort();
    const off = new FlotillaProcess('manager', ['manager'], { FLOTILLA_AUTH: 'off', FLOTILLA_STORE: 'memory', CLUSTER_PORT: String(port2), FLOTILLA_BIND_ADDRESS: '127.0.0.1' });
    try {
      await off.waitForOutput(/AUTHENTICATION IS OFF/, 15_000);
      assert.equal((await http('GET', `http://127.0.0.1:${port2}/api/v1/cluster/status`)).status, 200);
    } finally {
      await off.stop();
      keys.remove();
    }
    const bad = new FlotillaProcess('manager', ['manager'], { FLOTILLA_AUTH: 'maybe', FLOTILLA_STORE: 'memory', CLUSTER_PORT: String(await freePort()) });
    assert.equal((await bad.exited).code, 2);
    assert.match(bad.text, /FLOTILLA_AUTH="maybe" must be on or off/);
  });

  test('flotilla dev prints an admin token and a dashboard link carrying it; the API wants it', async () => {
    const clusterPort = await freePort();
    const dev = new FlotillaProcess('dev', ['dev'], { FLOTILLA_AUTH: 'on', CLUSTER_PORT: String(clusterPort), AGENT_PORT: String(await freePort()) });
    try {
      await dev.waitForOutput(/Flotilla dev is running/, 15_000);
      const link = await dev.waitForOutput(/Dashboard\s+http/);
      const m = new RegExp(`http://127\\.0\\.0\\.1:${clusterPort}/dashboard/#token=([A-Za-z0-9_.-]+)`).exec(link);
      assert.ok(m !== null, link);
      const token = m[1]!;
      assert.match(dev.text, new RegExp(`Admin token\\s+${token.replace(/\./g, '\\.')}`));
      const base = `http://127.0.0.1:${clusterPort}`;
      assert.equal((await http('GET', `${base}/api/v1/cluster/status`)).status, 401);
      const status = await http<{ cluster: { active_containers: number } }>('GET', `${base}/api/v1/cluster/status`, undefined, bearer(token));
      assert.equal(status.status, 200);
      assert.equal(status.body.cluster.active_containers, 1, 'the dev container joined with the join token');
      assert.equal((await dev.stop()).code, 0, dev.text);
    } finally {
      await dev.stop();
    }
  });
});
