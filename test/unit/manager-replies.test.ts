/**
 * The manager's reply handling in isolation, on the memory store: the reply reader (waiters by
 * ref, timeouts, late replies forwarded, shutdown), reply bodies as the API shows them, and the
 * traceparent check.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/common/logger.js';
import { INVALID_REPLY, outcomeOfReply } from '../../src/manager/message-outcome.js';
import { ReplyReader, ReplyReaderStoppedError } from '../../src/manager/replies.js';
import { validTraceparent } from '../../src/observability/trace-context.js';
import { MemoryStore } from '../../src/store/index.js';
import { waitFor } from '../helpers/processes.js';

const log = createLogger({ test: 'replies' }, 'silent');
const reply = (ref: string, body = '{"ok":true,"result":1}') => ({ kind: 'reply' as const, ref, body });

function reader(store: MemoryStore, forwarded: [string, string][] = []): ReplyReader {
  return new ReplyReader({
    store,
    inbox: 'manager.m1',
    log,
    forward: async (ref, body) => void forwarded.push([ref, body]),
    lateWindowMs: 60_000,
    blockMs: 100,
  });
}

describe('ReplyReader', () => {
  test('hands a reply to every request waiting for its ref, and ignores others', async () => {
    const store = new MemoryStore();
    const replies = reader(store);
    await replies.start();
    const a = replies.wait('m-1', 5_000);
    const b = replies.wait('m-1', 5_000);
    const other = replies.wait('m-2', 5_000);
    assert.equal(replies.waitersFor('m-1'), 2);
    await store.pushInbox('manager.m1', { kind: 'ring', ref: 'm-1', body: '{}' });
    await store.pushInbox('manager.m1', reply('m-1'));
    assert.deepEqual(await a.result, { outcome: 'reply', body: '{"ok":true,"result":1}' });
    assert.deepEqual(await b.result, { outcome: 'reply', body: '{"ok":true,"result":1}' });
    assert.equal(replies.waiting, 1);
    other.cancel();
    assert.deepEqual(await other.result, { outcome: 'aborted' });
    await replies.stop();
    await store.close();
  });

  test('a wait that times out or is aborted gets its late reply forwarded once; a cancelled one does not', async () => {
    const store = new MemoryStore();
    const forwarded: [string, string][] = [];
    const replies = reader(store, forwarded);
    await replies.start();
    assert.deepEqual(await replies.wait('late-1', 50).result, { outcome: 'timeout' });
    const gone = new AbortController();
    const aborted = replies.wait('late-2', 5_000, gone.signal);
    gone.abort();
    assert.deepEqual(await aborted.result, { outcome: 'aborted' });
    replies.wait('never', 5_000).cancel();
    for (const ref of ['late-1', 'late-2', 'never', 'late-1']) await store.pushInbox('manager.m1', reply(ref));
    await waitFor('both forwards', () => forwarded.length >= 2 || undefined, 2_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      forwarded.map(([ref]) => ref),
      ['late-1', 'late-2'],
    );
    await replies.stop();
    await store.close();
  });

  test('stop ends every wait with shutdown, promptly, and refuses to start again', async () => {
    const store = new MemoryStore();
    const replies = new ReplyReader({ store, inbox: 'manager.m1', log, forward: async () => undefined, lateWindowMs: 1_000, blockMs: 5_000 });
    await replies.start();
    const waiting = replies.wait('m-1', 60_000);
    const t0 = performance.now();
    await replies.stop();
    assert.ok(performance.now() - t0 < 1_000, 'the blocked read was woken');
    assert.deepEqual(await waiting.result, { outcome: 'shutdown' });
    assert.deepEqual(await replies.wait('m-2', 60_000).result, { outcome: 'shutdown' });
    await assert.rejects(replies.start(), ReplyReaderStoppedError);
    await store.close();
  });

  test('keeps its inbox alive with an expiry, and reads on after the store fails for a while', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ clock: () => now });
    const replies = reader(store);
    await replies.start();
    now += 59 * 60 * 1_000;
    assert.ok((await store.readInbox('manager.m1', '0-0', 0)).some((e) => e.ref === 'keepalive'));
    now += 2 * 60 * 1_000;
    assert.deepEqual(await store.readInbox('manager.m1', '0-0', 0), [], 'expired an hour after the last keep-alive');
    const waiting = replies.wait('m-1', 5_000);
    await store.pushInbox('manager.m1', reply('m-1'));
    assert.equal((await waiting.result).outcome, 'reply');
    await replies.stop();
    await store.close();
  });
});

describe('reply bodies as the API shows them', () => {
  test('ok, a handler error, and something that is not a reply body', () => {
    assert.deepEqual(outcomeOfReply('m', 'a/b', JSON.stringify({ ok: true, result: { x: 1 }, agent_id: 'a/b', container_id: 'c1' })), {
      message_id: 'm',
      agent_id: 'a/b',
      status: 'completed',
      result: { x: 1 },
      container_id: 'c1',
    });
    assert.deepEqual(outcomeOfReply('m', 'a/b', JSON.stringify({ ok: true, agent_id: 'a/b', container_id: 'c1' })).result, null);
    const failed = outcomeOfReply('m', 'a/b', JSON.stringify({ ok: false, error: { code: 'expired', message: 'too late' }, agent_id: 'a/b', container_id: 'c1' }));
    assert.deepEqual([failed.status, failed.error], ['failed', { code: 'expired', message: 'too late' }]);
    for (const bad of ['not json', '[]', '{"ok":"yes"}', '{"ok":false}']) {
      const o = outcomeOfReply('m', 'a/b', bad);
      assert.deepEqual([o.status, o.error?.code], ['failed', INVALID_REPLY], bad);
    }
  });
});

describe('traceparent', () => {
  const good = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  test('keeps a valid W3C traceparent and drops anything else', () => {
    assert.equal(validTraceparent(good), good);
    assert.equal(validTraceparent(` ${good} `), good);
    for (const bad of [
      undefined,
      [good, good],
      '',
      good.toUpperCase(),
      `ff${good.slice(2)}`,
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
      `${good}-extra`,
    ]) {
      assert.equal(validTraceparent(bad), undefined, String(bad));
    }
  });
});
