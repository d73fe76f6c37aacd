import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderElector } from '../../src/manager/control/leader.js';
import { MemoryStore } from '../../src/store/index.js';
import { createLogger } from '../../src/common/logger.js';
import { waitFor } from '../helpers/processes.js';

const log = createLogger({ test: 'leader' }, 'silent');
const info = (id: string) => ({ id, address: '127.0.0.1:0', version: 'test', startedAtMs: Date.now() });

describe('LeaderElector', () => {
  test('one of two managers leads; when it stops, the other takes over with a higher term', async () => {
    const store = new MemoryStore();
    const events: string[] = [];
    const make = (id: string) =>
      new LeaderElector(store, info(id), 300, { onElected: (term) => events.push(`${id}+${term}`), onDeposed: async () => void events.push(`${id}-`) }, log);
    const a = make('a');
    const b = make('b');
    a.start();
    await waitFor('a leads', () => a.isLeader, 2_000);
    b.start();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(b.isLeader, false, 'b waits while a renews');
    await a.stop();
    await waitFor('b leads', () => b.isLeader, 2_000);
    await b.stop();
    assert.deepEqual(events, ['a+1', 'a-', 'b+2', 'b-']);
    await store.close();
  });

  test('a leader that cannot reach the store steps down once its lease may have lapsed', async () => {
    const store = new MemoryStore();
    let deposedAt = 0;
    const elector = new LeaderElector(store, info('a'), 300, { onElected() {}, onDeposed: async () => void (deposedAt = Date.now()) }, log);
    elector.start();
    await waitFor('leads', () => elector.isLeader, 2_000);
    const failedAt = Date.now();
    store.acquireLeadership = () => Promise.reject(new Error('ECONNREFUSED'));
    store.heartbeatManager = () => Promise.reject(new Error('ECONNREFUSED'));
    // isLeader turns false as soon as the lease may have passed, before the loop notices.
    await waitFor('not leader', () => !elector.isLeader, 2_000);
    assert.ok(Date.now() - failedAt <= 400, 'isLeader lapses with the lease');
    await waitFor('deposed', () => deposedAt > 0, 2_000);
    await elector.stop();
    await store.close();
  });
});
