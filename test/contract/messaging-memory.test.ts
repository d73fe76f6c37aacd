/** The messaging contract on the memory store, then what only it can show (an injected clock). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MESSAGE_DEDUP_TTL_MS, MemoryStore, StoreUnavailableError, compareStreamIds } from '../../src/store/index.js';
import { describeMessagingContract, message, newAgent } from './messaging-contract.js';

describeMessagingContract('memory', async (options = {}) => {
  const store = new MemoryStore(options);
  return { store, peer: store, cleanup: () => store.close() };
});

describe('MemoryStore messaging with an injected clock', () => {
  it('numbers mailbox entries like a Redis stream and compares them as numbers across a digit boundary', async () => {
    let now = 9;
    const store = new MemoryStore({ clock: () => now });
    const fence = { owner: 'c1', epoch: 1 };
    await store.createAgent(newAgent('w/a', { containerId: 'c1', epoch: 1 }));
    const ids: string[] = [];
    for (const at of [9, 9, 9, 10, 8, 11]) {
      now = at;
      const r = await store.appendMessage('w/a', message());
      assert.ok(r.ok);
      ids.push(r.entryId);
    }
    // The clock went back (8): ids keep increasing within the last millisecond.
    assert.deepEqual(ids, ['9-0', '9-1', '9-2', '10-0', '10-1', '11-0']);
    for (const entryId of ids) assert.deepEqual(await store.commitTurn('w/a', fence, { entryId }), { ok: true }, entryId);
    // '9-2' sorts after '10-1' as text; as an id it is before, so it is a duplicate, not a new turn.
    assert.deepEqual(await store.commitTurn('w/a', fence, { entryId: '9-2' }), { ok: false, reason: 'duplicate' });
    assert.equal((await store.getAgent('w/a'))?.lastHandled, '11-0');
  });

  it('remembers a message id for exactly the dedup TTL of its clock', async () => {
    let now = 1_000;
    const store = new MemoryStore({ clock: () => now });
    await store.createAgent(newAgent('w/a'));
    const m = message();
    const first = await store.appendMessage('w/a', m);
    assert.ok(first.ok);
    now += MESSAGE_DEDUP_TTL_MS;
    assert.deepEqual(await store.appendMessage('w/a', m), { ...first, duplicate: true }, 'a PX key lives through its last millisecond');
    now += 1;
    const later = await store.appendMessage('w/a', m);
    assert.ok(later.ok && !later.duplicate);
    assert.ok(compareStreamIds(later.entryId, first.entryId) > 0);
  });

  it('stamps agents and entries with its clock', async () => {
    let now = 42_000;
    const store = new MemoryStore({ clock: () => now });
    await store.createAgent(newAgent('w/a', { containerId: 'c1', epoch: 1 }));
    now = 43_000;
    const r = await store.appendMessage('w/a', message());
    assert.ok(r.ok);
    assert.equal(r.entryId, '43000-0');
    now = 44_000;
    await store.commitTurn('w/a', { owner: 'c1', epoch: 1 }, { entryId: r.entryId });
    const record = await store.getAgent('w/a');
    assert.equal(record?.createdAtMs, 42_000);
    assert.equal(record?.updatedAtMs, 44_000);
  });

  it('keeps an inbox pushed with ttlMs through exactly its last millisecond of its clock', async () => {
    let now = 5_000;
    const store = new MemoryStore({ clock: () => now });
    await store.pushInbox('reply.m-1', { kind: 'control', ref: 'accepted', body: '{}' }, { ttlMs: 1_000 });
    now = 5_500;
    await store.pushInbox('reply.m-1', { kind: 'reply', ref: 'm-1', body: '{}' });
    now = 6_000;
    assert.equal((await store.readInbox('reply.m-1', '0-0', 0)).length, 2, 'a plain push kept the deadline 6000');
    now = 6_001;
    assert.deepEqual(await store.readInbox('reply.m-1', '0-0', 0), []);
    await store.pushInbox('reply.m-1', { kind: 'reply', ref: 'm-1', body: '{}' });
    now = 1_000_000;
    assert.equal((await store.readInbox('reply.m-1', '0-0', 0)).length, 1, 'started anew, without the old expiry');
  });

  it('fails calls once closed', async () => {
    const store = new MemoryStore();
    await store.close();
    await assert.rejects(store.createAgent(newAgent('w/a')), StoreUnavailableError);
    await assert.rejects(store.pushInbox('c1', { kind: 'ring', ref: 'w/a', body: '{}' }), StoreUnavailableError);
  });
});
