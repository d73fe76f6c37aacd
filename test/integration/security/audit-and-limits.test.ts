/**
 * The audit trail (every operator and admin action an `api_action` event with who and what) and
 * the limit on failed authentication per source address, on an in-process manager app.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { MemoryStore } from '../../../src/store/index.js';
import { buildManagerApp } from '../../../src/manager/app.js';
import { managerConfigFromEnv } from '../../../src/manager/config.js';
import { createLogger } from '../../../src/common/logger.js';
import { ApiAuthenticator } from '../../../src/auth/index.js';
import { testKeys, type TestKeys } from '../../helpers/auth.js';
import { OTHER, seedCluster } from './api-samples.js';

const log = createLogger({ test: 'audit' }, 'silent');

describe('audit trail and failure limits', () => {
  let keys: TestKeys;
  let app: FastifyInstance;
  let store: MemoryStore;
  const tokens: Record<string, string> = {};

  before(async () => {
    keys = testKeys('audit');
    store = new MemoryStore();
    await seedCluster(store);
    app = await buildManagerApp({ store, config: managerConfigFromEnv({}), log, auth: new ApiAuthenticator({ keyDir: keys.keyDir, log, failures: { limit: 5, windowMs: 60_000 } }) });
    for (const role of ['admin', 'operator', 'viewer'] as const) tokens[role] = await keys.token(role, { sub: `${role}-alice` });
  });
  after(async () => {
    await app.close();
    await store.close();
    keys.remove();
  });

  const call = (role: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, remoteAddress = '127.0.0.1') =>
    app.inject({ method, url, remoteAddress, headers: { authorization: `Bearer ${tokens[role] ?? role}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  const audits = async () => (await store.listEvents({ limit: 10_000 })).filter((e) => e.type === 'api_action');

  test('operator and admin actions are recorded with who, role, route, ids and status', async () => {
    const cordon = await call('operator', 'POST', `/api/v1/cluster/containers/${OTHER}/cordon`);
    assert.equal(cordon.statusCode, 200);
    const deleted = await call('admin', 'DELETE', '/api/v1/cluster/agents/echo/a1');
    assert.equal(deleted.statusCode, 200);
    const events = await audits();
    assert.equal(events.length, 2);
    assert.deepEqual(
      { ...events[0]!.data, source: undefined },
      { who: 'operator-alice', role: 'operator', method: 'POST', route: '/api/v1/cluster/containers/:id/cordon', params: { id: OTHER }, status: 200, source: undefined },
    );
    assert.equal(events[1]!.data.who, 'admin-alice');
    assert.deepEqual(events[1]!.data.params, { type: 'echo', name: 'a1' });
  });

  test('reads, refusals and bad requests are not actions: nothing recorded, nothing changed', async () => {
    const before = (await audits()).length;
    assert.equal((await call('viewer', 'GET', '/api/v1/cluster/status')).statusCode, 200);
    assert.equal((await call('viewer', 'POST', `/api/v1/cluster/containers/${OTHER}/drain`)).statusCode, 403);
    assert.equal((await store.getContainer(OTHER))?.availability, 'cordoned', 'the refused drain changed nothing');
    assert.equal((await call('operator', 'POST', '/api/v1/cluster/agents/deploy', { agent_type: 'echo', replicas: 'many' })).statusCode, 400);
    assert.equal((await audits()).length, before);
  });

  test('failed authentication is limited per source address; others are not affected', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await call('garbage', 'GET', '/api/v1/cluster/status', undefined, '127.0.0.2')).statusCode, 401);
    const limited = await call('garbage', 'GET', '/api/v1/cluster/status', undefined, '127.0.0.2');
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().error, 'too_many_auth_failures');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    // Even a good token from that address waits: the limit is on the source, not the token.
    assert.equal((await call('viewer', 'GET', '/api/v1/cluster/status', undefined, '127.0.0.2')).statusCode, 429);
    assert.equal((await call('viewer', 'GET', '/api/v1/cluster/status', undefined, '127.0.0.3')).statusCode, 200);
    // Open routes stay open.
    assert.equal((await app.inject({ method: 'GET', url: '/health', remoteAddress: '127.0.0.2' })).statusCode, 200);
  });
});
