/**
 * The ObservabilityStore scenarios (shipped logs, latency reports), run against both stores so
 * that they filter, page and expire alike.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOG_READ_MAX, StoreError, type LogRecord, type ObservabilityStore } from '../../src/store/index.js';
import { LOG_TEXT_MAX } from '../../src/store/observability.js';

export type MakeObservabilityStore = () => Promise<{ store: ObservabilityStore; cleanup(): Promise<void> }>;

function line(msg: string, overrides: Partial<LogRecord> = {}): LogRecord {
  return { time: new Date().toISOString(), level: 'info', containerId: 'c1', agentId: null, traceId: null, msg, ...overrides };
}

async function withStore(make: MakeObservabilityStore, fn: (store: ObservabilityStore) => Promise<void>): Promise<void> {
  const { store, cleanup } = await make();
  try {
    await fn(store);
  } finally {
    await cleanup();
  }
}

export function describeObservabilityContract(name: string, make: MakeObservabilityStore): void {
  describe(`ObservabilityStore contract: ${name}`, () => {
    it('an empty log reads as nothing, with no cursor', () =>
      withStore(make, async (store) => {
        assert.deepEqual(await store.readLogs({ limit: 10 }), { entries: [], next: null });
      }));

    it('keeps lines in append order; without a cursor it gives the newest, oldest first', () =>
      withStore(make, async (store) => {
        await store.appendLogs(['a', 'b', 'c', 'd'].map((m) => line(m)));
        await store.appendLogs([line('e', { level: 'warn', agentId: 'echo/x', traceId: 'ab'.repeat(16), fields: '{"k":1}' })]);
        const page = await store.readLogs({ limit: 3 });
        assert.deepEqual(page.entries.map((e) => e.msg), ['c', 'd', 'e']);
        assert.equal(page.next, page.entries[2]!.id);
        const last = page.entries[2]!;
        assert.equal(last.level, 'warn');
        assert.equal(last.agentId, 'echo/x');
        assert.equal(last.traceId, 'ab'.repeat(16));
        assert.equal(last.fields, '{"k":1}');
        assert.equal(last.containerId, 'c1');
      }));

    it('pages forward from a cursor, and the cursor stays put when nothing is new', () =>
      withStore(make, async (store) => {
        await store.appendLogs(['a', 'b', 'c'].map((m) => line(m)));
        const first = await store.readLogs({ limit: 1 });
        assert.deepEqual(first.entries.map((e) => e.msg), ['c']);
        const all = await store.readLogs({ limit: 10 });
        const fromA = await store.readLogs({ after: all.entries[0]!.id, limit: 1 });
        assert.deepEqual(fromA.entries.map((e) => e.msg), ['b']);
        const rest = await store.readLogs({ after: fromA.next!, limit: 10 });
        assert.deepEqual(rest.entries.map((e) => e.msg), ['c']);
        const none = await store.readLogs({ after: rest.next!, limit: 10 });
        assert.deepEqual(none, { entries: [], next: rest.next });
        await store.appendLogs([line('d')]);
        assert.deepEqual((await store.readLogs({ after: rest.next!, limit: 10 })).entries.map((e) => e.msg), ['d']);
      }));

    it('filters by agent, container and level, and moves the cursor past what did not match', () =>
      withStore(make, async (store) => {
        await store.appendLogs([
          line('1', { agentId: 'echo/a' }),
          line('2', { agentId: 'echo/b', level: 'error' }),
          line('3', { containerId: 'c2', agentId: 'echo/a', level: 'debug' }),
          line('4', { containerId: 'c2' }),
        ]);
        const msgs = async (q: Parameters<ObservabilityStore['readLogs']>[0]): Promise<string[]> => (await store.readLogs(q)).entries.map((e) => e.msg);
        assert.deepEqual(await msgs({ limit: 10, agentId: 'echo/a' }), ['1', '3']);
        assert.deepEqual(await msgs({ limit: 10, containerId: 'c2' }), ['3', '4']);
        assert.deepEqual(await msgs({ limit: 10, minLevel: 'warn' }), ['2']);
        assert.deepEqual(await msgs({ limit: 10, containerId: 'c2', agentId: 'echo/a' }), ['3']);
        const all = await store.readLogs({ limit: 10 });
        const page = await store.readLogs({ after: all.entries[0]!.id, limit: 10, agentId: 'nobody/x' });
        assert.deepEqual(page.entries, []);
        assert.equal(page.next, all.entries[3]!.id, 'the cursor passes the entries that did not match');
      }));

    it('cuts a huge message rather than storing it whole', () =>
      withStore(make, async (store) => {
        await store.appendLogs([line('x'.repeat(LOG_TEXT_MAX * 2))]);
        const [entry] = (await store.readLogs({ limit: 1 })).entries;
        assert.equal(entry!.msg.length, LOG_TEXT_MAX);
      }));

    it('refuses a bad query with a StoreError that says what is wrong', () =>
      withStore(make, async (store) => {
        await assert.rejects(store.readLogs({ limit: 0 }), (err: Error) => err instanceof StoreError && /limit/.test(err.message));
        await assert.rejects(store.readLogs({ limit: LOG_READ_MAX + 1 }), StoreError);
        await assert.rejects(store.readLogs({ limit: 1, after: 'yesterday' }), (err: Error) => err instanceof StoreError && /cursor/.test(err.message));
        await assert.rejects(store.readLogs({ limit: 1, minLevel: 'loud' as never }), StoreError);
      }));

    it('keeps one latency report per container, for the ids asked, until it expires', () =>
      withStore(make, async (store) => {
        const sample = { to: 'redis', medianMs: 0.5, lastMs: 0.4, maxMs: 0.9, samples: 3, error: null, measuredAtMs: 1 };
        await store.putLatency({ from: 'c1', reportedAtMs: 1, entries: [sample] }, 60_000);
        await store.putLatency({ from: 'c1', reportedAtMs: 2, entries: [sample] }, 60_000);
        await store.putLatency({ from: 'c2', reportedAtMs: 3, entries: [] }, 150);
        const reports = await store.listLatency(['c1', 'c2', 'c3']);
        assert.deepEqual(reports.map((r) => [r.from, r.reportedAtMs]), [['c1', 2], ['c2', 3]]);
        assert.deepEqual(reports[0]!.entries, [sample]);
        assert.deepEqual((await store.listLatency(['c2'])).length, 1);
        await sleep(300);
        assert.deepEqual((await store.listLatency(['c1', 'c2'])).map((r) => r.from), ['c1']);
        assert.deepEqual(await store.listLatency([]), []);
        await assert.rejects(store.putLatency({ from: 'bad name', reportedAtMs: 1, entries: [] }, 1_000));
        await assert.rejects(store.putLatency({ from: 'c1', reportedAtMs: 1, entries: [] }, 0), StoreError);
      }));
  });
}
