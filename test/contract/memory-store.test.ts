import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../../src/store/index.js';
import { describeStoreContract, registration } from './store-contract.js';
import { describeObservabilityContract } from './observability-contract.js';

describeStoreContract('memory', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

describeObservabilityContract('memory', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

describe('MemoryStore with an injected clock', () => {
  it('expires leases, leadership and presence by its clock alone', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ clock: () => now });
    await store.registerContainer(registration('c1', { leaseTimeoutMs: 3_000 }));
    await store.acquireLeadership('m1', 3_000);
    await store.heartbeatManager({ id: 'm1', address: 'http://127.0.0.1:8000', version: '0', startedAtMs: now }, 3_000);
    now += 2_999;
    assert.deepEqual(await store.expireLeases(), []);
    assert.equal((await store.getLeader()).leaderId, 'm1');
    assert.equal((await store.listManagers()).length, 1);
    now += 1;
    assert.deepEqual(await store.expireLeases(), ['c1']);
    assert.equal((await store.getContainer('c1'))?.downAtMs, now);
    assert.equal((await store.listManagers()).length, 0);
    // A PX key lives through its last millisecond, as in Redis.
    assert.equal((await store.getLeader()).leaderId, 'm1');
    now += 1;
    assert.equal((await store.getLeader()).leaderId, null);
  });

  it('numbers events like a Redis stream, even if the clock goes back', async () => {
    let now = 5_000;
    const store = new MemoryStore({ clock: () => now });
    const a = await store.appendEvent('container_joined', { data: {} });
    const b = await store.appendEvent('container_joined', { data: {} });
    now = 4_000;
    const c = await store.appendEvent('container_joined', { data: {} });
    now = 6_000;
    const d = await store.appendEvent('container_joined', { data: {} });
    assert.deepEqual([a.id, b.id, c.id, d.id], ['5000-0', '5000-1', '5000-2', '6000-0']);
  });
});
