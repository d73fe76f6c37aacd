/**
 * A container's own token: handed out at registration with the join token, renewed on a heartbeat
 * in the last third of its life, usable for its own container only; and the container side
 * (ContainerCredentials) choosing which token to send and checking the cluster fingerprint.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { MemoryStore } from '../../../src/store/index.js';
import { buildManagerApp } from '../../../src/manager/app.js';
import { managerConfigFromEnv } from '../../../src/manager/config.js';
import { createLogger } from '../../../src/common/logger.js';
import { ApiAuthenticator, verifyToken } from '../../../src/auth/index.js';
import { ClusterMismatchError, ContainerCredentials } from '../../../src/container/credentials.js';
import type { HeartbeatResponse, RegisterResponse } from '../../../src/protocol/api.js';
import { testKeys, type TestKeys } from '../../helpers/auth.js';

const log = createLogger({ test: 'container-token' }, 'silent');
const TTL_MS = 3_000;

describe("a container's own token", () => {
  let keys: TestKeys;
  let app: FastifyInstance;
  let store: MemoryStore;

  before(async () => {
    keys = testKeys('ctoken');
    store = new MemoryStore();
    app = await buildManagerApp({ store, config: managerConfigFromEnv({}), log, auth: new ApiAuthenticator({ keyDir: keys.keyDir, log, containerTokenTtlMs: TTL_MS }) });
  });
  after(async () => {
    await app.close();
    await store.close();
    keys.remove();
  });

  const post = (url: string, token: string, payload: object) => app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload });

  test('registration with the join token gives a container-scoped token; a heartbeat late in its life renews it', async () => {
    const reg = await post('/api/v1/cluster/containers/register', keys.joinToken(), { container_name: 'box', host_address: '127.0.0.1', lease_interval_ms: 1_000, lease_timeout_ms: 60_000 });
    assert.equal(reg.statusCode, 200, reg.body);
    const body = reg.json<RegisterResponse>();
    assert.ok(body.token !== undefined);
    const principal = await verifyToken(keys.keyDir.load(), body.token);
    assert.deepEqual({ role: principal.role, cid: principal.cid, sub: principal.sub }, { role: 'container', cid: 'box', sub: 'container:box' });
    assert.equal(body.cluster_fingerprint, keys.joinToken().split('-')[2]);
    // Early in its life: no new token.
    const early = await post('/api/v1/cluster/containers/box/heartbeat', body.token, { epoch: body.epoch });
    assert.equal(early.statusCode, 200, early.body);
    assert.equal(early.json<HeartbeatResponse>().token, undefined);
    // In its last third: a fresh one, for the same container.
    await new Promise((r) => setTimeout(r, TTL_MS * (2 / 3) + 300));
    const late = await post('/api/v1/cluster/containers/box/heartbeat', body.token, { epoch: body.epoch });
    assert.equal(late.statusCode, 200, late.body);
    const renewed = late.json<HeartbeatResponse>().token;
    assert.ok(renewed !== undefined && renewed !== body.token);
    assert.equal((await verifyToken(keys.keyDir.load(), renewed)).cid, 'box');
    // It may not register, heartbeat or deregister another container.
    const other = await post('/api/v1/cluster/containers/register', renewed, { container_name: 'someone-else', host_address: '127.0.0.1' });
    assert.equal(other.statusCode, 403);
    assert.equal(other.json<{ field?: string }>().field, 'container_name');
    assert.equal(await store.getContainer('someone-else'), null);
    // Nor use the join token anywhere but registration.
    assert.equal((await post('/api/v1/cluster/containers/box/heartbeat', keys.joinToken(), { epoch: body.epoch })).statusCode, 403);
    const reregister = await post('/api/v1/cluster/containers/register', renewed, { container_name: 'box', host_address: '127.0.0.1' });
    assert.equal(reregister.statusCode, 200, 'a container re-registers itself with its own token');
    assert.equal(reregister.json<RegisterResponse>().epoch, body.epoch + 1);
  });
});

describe('ContainerCredentials', () => {
  const join = `FLTKN-1-${'a'.repeat(64)}-${'b'.repeat(48)}`;

  test('sends the join token until it has its own, its own until near expiry, then falls back', () => {
    const c = new ContainerCredentials(join, undefined);
    assert.equal(c.current(), join);
    c.accept('own-token', new Date(Date.now() + 60_000).toISOString());
    assert.equal(c.current(), 'own-token');
    // A 5 s token is not dropped 30 s early: its margin is a tenth of its life.
    c.accept('short', new Date(Date.now() + 5_000).toISOString());
    assert.equal(c.current(), 'short');
    c.accept('nearly-gone', new Date(Date.now() - 1).toISOString());
    assert.equal(c.current(), join);
    c.accept('own-token', new Date(Date.now() + 60_000).toISOString());
    c.forget();
    assert.equal(c.current(), join);
    assert.equal(new ContainerCredentials(join, 'configured').current(), 'configured', 'FLOTILLA_TOKEN wins over the join token');
    assert.equal(new ContainerCredentials(undefined, undefined).current(), undefined);
  });

  test("refuses a manager whose fingerprint is not the join token's", () => {
    const c = new ContainerCredentials(join, undefined);
    c.checkFingerprint('a'.repeat(64), 'http://127.0.0.1:8000');
    c.checkFingerprint(undefined, 'http://127.0.0.1:8000');
    assert.throws(() => c.checkFingerprint('c'.repeat(64), 'http://127.0.0.1:8000'), (e: unknown) => e instanceof ClusterMismatchError && /another cluster/.test(e.message));
  });
});

describe('a container that renews its lease in Redis keeps a fresh token', { timeout: 60_000 }, () => {
  test('after its first token expired and the join token was rotated, it still registers again by itself', async () => {
    const { Manager } = await import('../../../src/manager/manager.js');
    const { AgentContainer } = await import('../../../src/container/container.js');
    const { containerConfigFromEnv } = await import('../../../src/container/config.js');
    const { waitFor } = await import('../../helpers/processes.js');
    const keys = testKeys('refresh');
    const store = new MemoryStore();
    const auth = new ApiAuthenticator({ keyDir: keys.keyDir, log, containerTokenTtlMs: TTL_MS });
    const manager = new Manager({ store, config: managerConfigFromEnv({ CLUSTER_PORT: '0', FLOTILLA_BIND_ADDRESS: '127.0.0.1' }), log, auth });
    await manager.start();
    const config = containerConfigFromEnv({
      CENTRAL_MANAGER_URL: `http://127.0.0.1:${manager.port}`,
      CONTAINER_NAME: 'redis-lease',
      EXTERNAL_IP: '127.0.0.1',
      FLOTILLA_BIND_ADDRESS: '127.0.0.1',
      AGENT_PORT: '0',
      FLOTILLA_JOIN_TOKEN: keys.joinToken(),
      FLOTILLA_EXTERNAL_IP_CHECK: 'off',
    });
    const container = new AgentContainer({ config, log, store });
    try {
      await container.start();
      await container.joined();
      assert.equal(container.currentEpoch, 1);
      // Past the first token's life (3 s): only a refreshed token can still register.
      await new Promise((r) => setTimeout(r, TTL_MS * 1.5));
      keys.keyDir.rotateJoinToken();
      await new Promise((r) => setTimeout(r, 1_200)); // the manager re-reads its keys
      // The registration ends (as when the container was declared dead): it must register again.
      assert.ok(await store.deregisterContainer('redis-lease', 1));
      await waitFor('a new registration', () => container.currentEpoch === 2, 15_000);
      assert.equal(container.fatal, null);
    } finally {
      await container.stop();
      await manager.stop();
      await store.close();
      keys.remove();
    }
  });
});
