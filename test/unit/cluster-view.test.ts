import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/index.js';
import { ClusterView } from '../../src/manager/cluster-view.js';

const reg = (name: string) => ({
  name, hostAddress: '127.0.0.1', apiPort: 8001, capabilities: [], labels: {}, resources: {}, metadata: {}, agentTypes: [],
  leaseIntervalMs: 1_000, leaseTimeoutMs: 60_000,
});

describe('ClusterView', () => {
  test('reuses the list while the store version and the age allow, and shares one refresh', async () => {
    const store = new MemoryStore();
    let lists = 0;
    const list = store.listContainers.bind(store);
    store.listContainers = async () => {
      lists += 1;
      return list();
    };
    let now = 0;
    const view = new ClusterView(store, () => now);
    await store.registerContainer(reg('a'));
    assert.equal((await view.containers(1_000)).length, 1);
    assert.equal((await view.containers(1_000)).length, 1);
    assert.equal(lists, 1, 'same version, young entry: no second read');
    await Promise.all([store.registerContainer(reg('b')), undefined]);
    const [x, y] = await Promise.all([view.containers(1_000), view.containers(1_000)]);
    assert.deepEqual([x.length, y.length, lists], [2, 2, 2], 'a new version: one shared refresh');
    const c = (await store.getContainer('a'))!;
    await store.renewLease('a', c.epoch, 60_000); // no event: the version does not move
    now += 999;
    await view.containers(1_000);
    assert.equal(lists, 2);
    now += 1;
    await view.containers(1_000);
    assert.equal(lists, 3, 'too old: read again even at the same version');
    await store.close();
  });

  test('agent counts follow placements', async () => {
    const store = new MemoryStore();
    const view = new ClusterView(store);
    await store.registerContainer(reg('a'));
    await store.createAgent({ id: 'echo/x', type: 'echo', name: 'x', config: {}, placement: { strategy: 'least_loaded', constraints: {} }, state: 'activating', containerId: 'a', epoch: 1 });
    await store.createAgent({ id: 'echo/y', type: 'echo', name: 'y', config: {}, placement: { strategy: 'least_loaded', constraints: {} }, state: 'pending' });
    await store.appendEvent('agent_placed', { data: {} }); // what deploy logs; it moves the version
    const counts = await view.agentCounts();
    assert.deepEqual([Object.fromEntries(counts.perContainer), counts.total], [{ a: 1 }, 2]);
    assert.deepEqual(Object.fromEntries(counts.byState), { activating: 1, pending: 1 });
    await store.close();
  });
});
