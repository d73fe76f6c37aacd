/**
 * The agent runtime in-process against both stores: turns in order and one at a time, state
 * saved with each turn, failures isolated, send/reply/timeout between containers, topics, and a
 * move to another container that applies every message exactly once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, RedisStore, connectRedis } from '../../src/store/index.js';
import type { ClusterStore, MessageStore } from '../../src/store/index.js';
import { AgentRuntime, AgentTypeRegistry, SWEEP_INTERVAL_MS } from '../../src/runtime/index.js';
import { defineAgent, SendTimeoutError, AgentCallError } from '../../src/sdk/index.js';
import { containerInbox, RING_BODY, type ReplyBody } from '../../src/protocol/runtime.js';
import { createLogger } from '../../src/common/logger.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/processes.js';

type Store = ClusterStore & MessageStore;
const log = createLogger({ test: 'runtime' }, 'silent');

/** Per-test probes the agent types report to. */
const probe = { running: 0, maxRunning: 0, seen: [] as string[], gates: new Map<string, Promise<void>>() };

const counter = defineAgent<{ count: number }, Record<string, unknown>, { n?: number; fail?: boolean; gate?: string }>({
  type: 'counter',
  init: () => ({ count: 0 }),
  async onMessage(msg, ctx) {
    probe.running += 1;
    probe.maxRunning = Math.max(probe.maxRunning, probe.running);
    try {
      ctx.state.count += 1;
      if (msg.gate !== undefined) await probe.gates.get(msg.gate);
      await new Promise((r) => setTimeout(r, 2));
      if (msg.fail === true) throw new Error('asked to fail');
      probe.seen.push(`${ctx.id}:${msg.n}`);
      return { count: ctx.state.count, n: msg.n };
    } finally {
      probe.running -= 1;
    }
  },
});

const caller = defineAgent<null, Record<string, unknown>, { to: string; payload: unknown; timeoutMs?: number; publish?: string }>({
  type: 'caller',
  async onMessage(msg, ctx) {
    if (msg.publish !== undefined) return ctx.publish(msg.publish, msg.payload);
    return ctx.send(msg.to, msg.payload, { timeoutMs: msg.timeoutMs ?? 5_000 });
  },
});

const registry = () => new AgentTypeRegistry([counter, caller]);

function suite(name: string, makeStore: () => Promise<Store>, closeStore: (s: Store) => Promise<void>): void {
  describe(`agent runtime on ${name}`, { timeout: 60_000 }, () => {
    let store: Store;
    const runtimes: AgentRuntime[] = [];
    let seq = 0;

    const runtime = async (containerId: string, epoch = 1): Promise<AgentRuntime> => {
      const rt = new AgentRuntime({ store, containerId, registry: registry(), log });
      runtimes.push(rt);
      await rt.start(epoch);
      return rt;
    };

    const place = async (id: string, containerId: string, epoch = 1): Promise<void> => {
      const [type, agentName] = id.split('/') as [string, string];
      const created = await store.createAgent({ id, type, name: agentName, config: {}, placement: { strategy: 'least_loaded', constraints: {} }, state: 'activating', containerId, epoch });
      if (!created) await store.assignAgent(id, { owner: containerId, epoch }, 'activating');
      await store.pushInbox(containerInbox(containerId), { kind: 'control', ref: id, body: JSON.stringify({ op: 'activate' }) });
    };

    /** The test as an API client: append to the mailbox, ring the owner, collect the reply. */
    const request = async (to: string, body: unknown, inbox = 'test.replies'): Promise<string> => {
      const messageId = `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
      const res = await store.appendMessage(to, { messageId, kind: 'request', from: 'api', replyTo: inbox, body: JSON.stringify(body) });
      assert.equal(res.ok, true);
      const agent = await store.getAgent(to);
      if (agent?.containerId) await store.pushInbox(containerInbox(agent.containerId), { kind: 'ring', ref: to, body: RING_BODY });
      return messageId;
    };

    const replies = async (count: number, inbox = 'test.replies'): Promise<Map<string, ReplyBody>> => {
      const got = new Map<string, ReplyBody>();
      await waitFor(`${count} replies`, async () => {
        const entries = await store.readInbox(inbox, '0-0', 0, 1_000);
        for (const e of entries) got.set(e.ref, JSON.parse(e.body) as ReplyBody);
        return got.size >= count;
      }, 20_000);
      return got;
    };

    before(async () => {
      store = await makeStore();
    });
    after(async () => {
      await Promise.all(runtimes.map((r) => r.stop()));
      await closeStore(store);
    });

    test('turns run one at a time, in order, and state is saved with each', async () => {
      probe.maxRunning = 0;
      probe.seen = [];
      await runtime('ord-c1');
      await place('counter/ord', 'ord-c1');
      const ids: string[] = [];
      for (let n = 1; n <= 30; n++) ids.push(await request('counter/ord', { n }, 'ord.replies'));
      const got = await replies(30, 'ord.replies');
      assert.deepEqual(ids.map((id) => (got.get(id) as { result: { count: number } }).result.count), [...Array(30).keys()].map((i) => i + 1));
      assert.deepEqual(probe.seen.filter((s) => s.startsWith('counter/ord:')), [...Array(30).keys()].map((i) => `counter/ord:${i + 1}`));
      assert.equal(probe.maxRunning, 1);
      assert.equal(await store.loadAgentState('counter/ord'), JSON.stringify({ count: 30 }));
      assert.equal(await store.mailboxDepth('counter/ord'), 0);
    });

    test('a store call that fails (read or commit) is retried by the agent itself: no second ring needed', async () => {
      // The store fails this agent's first two mailbox reads and its first commit, as a timeout would.
      let failReads = 2;
      let failCommits = 1;
      const flaky = new Proxy(store, {
        get(target, prop) {
          if (prop === 'readMailbox') {
            return async (...args: Parameters<Store['readMailbox']>) => {
              if (args[0] === 'counter/flaky' && failReads-- > 0) throw new Error('simulated read timeout');
              return target.readMailbox(...args);
            };
          }
          if (prop === 'commitTurn') {
            return async (...args: Parameters<Store['commitTurn']>) => {
              if (args[0] === 'counter/flaky' && failCommits-- > 0) throw new Error('simulated commit timeout');
              return target.commitTurn(...args);
            };
          }
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const rt = new AgentRuntime({ store: flaky, containerId: 'flaky-c1', registry: registry(), log });
      runtimes.push(rt);
      await rt.start(1);
      await place('counter/flaky', 'flaky-c1');
      await waitFor('the agent hosted', () => rt.agents().includes('counter/flaky'));
      // Appended without a ring each, then one ring: the one chance a real sender gives.
      for (let n = 1; n <= 3; n++) {
        const res = await store.appendMessage('counter/flaky', { messageId: `00000000-0000-4000-9000-00000000000${n}`, kind: 'request', from: 'api', replyTo: 'flaky.replies', body: JSON.stringify({ n }) });
        assert.equal(res.ok, true);
      }
      await store.pushInbox(containerInbox('flaky-c1'), { kind: 'ring', ref: 'counter/flaky', body: RING_BODY });
      const got = await replies(3, 'flaky.replies');
      assert.equal(got.size, 3);
      assert.equal(await store.loadAgentState('counter/flaky'), JSON.stringify({ count: 3 }), 'each applied once');
      assert.equal(await store.mailboxDepth('counter/flaky'), 0);
      assert.ok(failReads < 0 && failCommits < 0, 'the failures happened');
    });

    test('a failing handler fails that message only; its state changes are dropped', async () => {
      await runtime('fail-c1');
      await place('counter/fail', 'fail-c1');
      const a = await request('counter/fail', { n: 1 }, 'fail.replies');
      const b = await request('counter/fail', { n: 2, fail: true }, 'fail.replies');
      const c = await request('counter/fail', { n: 3 }, 'fail.replies');
      const got = await replies(3, 'fail.replies');
      assert.equal(got.get(a)?.ok, true);
      const failed = got.get(b);
      assert.ok(failed && !failed.ok && failed.error.code === 'handler_error' && /asked to fail/.test(failed.error.message));
      assert.deepEqual((got.get(c) as { result: unknown }).result, { count: 2, n: 3 }, 'the failed turn did not count');
    });

    test('send with reply between agents on two containers, and a timeout when nobody answers', async () => {
      await runtime('snd-c1');
      await runtime('snd-c2');
      await place('caller/snd', 'snd-c1');
      await place('counter/snd', 'snd-c2');
      await store.createAgent({ id: 'counter/nobody', type: 'counter', name: 'nobody', config: {}, placement: { strategy: 'least_loaded', constraints: {} }, state: 'pending' });
      const ok = await request('caller/snd', { to: 'counter/snd', payload: { n: 7 } }, 'snd.replies');
      const slow = await request('caller/snd', { to: 'counter/nobody', payload: { n: 1 }, timeoutMs: 300 }, 'snd.replies');
      const missing = await request('caller/snd', { to: 'counter/ghost', payload: {} }, 'snd.replies');
      const got = await replies(3, 'snd.replies');
      assert.deepEqual((got.get(ok) as { result: unknown }).result, { count: 1, n: 7 });
      const timedOut = got.get(slow);
      assert.ok(timedOut && !timedOut.ok && /no reply from counter\/nobody within 300 ms/.test(timedOut.error.message), JSON.stringify(timedOut));
      const ghost = got.get(missing);
      assert.ok(ghost && !ghost.ok && /does not exist/.test(ghost.error.message));
      assert.ok(SendTimeoutError && AgentCallError);
    });

    test('publish gives every subscriber its own durable copy', async () => {
      await runtime('pub-c1');
      await place('caller/pub', 'pub-c1');
      await place('counter/sub-a', 'pub-c1');
      await place('counter/sub-b', 'pub-c1');
      await store.subscribe('news', 'counter/sub-a');
      await store.subscribe('news', 'counter/sub-b');
      const id = await request('caller/pub', { publish: 'news', payload: { n: 99 } }, 'pub.replies');
      const got = await replies(1, 'pub.replies');
      assert.deepEqual((got.get(id) as { result: unknown }).result, 2);
      await waitFor('both subscribers handled it', async () => (await store.loadAgentState('counter/sub-a')) === '{"count":1}' && (await store.loadAgentState('counter/sub-b')) === '{"count":1}', 10_000);
    });

    test('moving an agent mid-turn: the new owner handles that message, the old commit is refused, every message applied once', async () => {
      const old = await runtime('mv-c1');
      await runtime('mv-c2');
      await place('counter/mv', 'mv-c1');
      let open!: () => void;
      probe.gates.set('mv', new Promise<void>((r) => (open = r)));
      for (let n = 1; n <= 5; n++) await request('counter/mv', { n }, 'mv.replies');
      const stuck = await request('counter/mv', { n: 6, gate: 'mv' }, 'mv.replies');
      for (let n = 7; n <= 10; n++) await request('counter/mv', { n }, 'mv.replies');
      await waitFor('turn 6 in progress on c1', async () => (await store.loadAgentState('counter/mv')) === '{"count":5}' && probe.running > 0, 10_000);
      // The control plane moves it: new fence first, then the hints.
      await store.assignAgent('counter/mv', { owner: 'mv-c2', epoch: 1 }, 'activating');
      probe.gates.delete('mv');
      await store.pushInbox(containerInbox('mv-c2'), { kind: 'control', ref: 'counter/mv', body: JSON.stringify({ op: 'activate' }) });
      await waitFor('c2 finished all ten', async () => (await store.loadAgentState('counter/mv')) === '{"count":10}', 10_000);
      open(); // c1's stuck handler returns now; its commit must be refused
      await waitFor('c1 let go', () => !old.agents().includes('counter/mv'), 10_000);
      const got = await replies(10, 'mv.replies');
      assert.equal(await store.loadAgentState('counter/mv'), '{"count":10}', 'each message applied exactly once');
      const r6 = got.get(stuck) as { ok: boolean; container_id: string };
      assert.equal(r6.container_id, 'mv-c2', 'message 6 was answered by the new owner');
      assert.equal((await store.getAgent('counter/mv'))?.state, 'active');
    });

    test('mail without a ring waits; an operator sweep (control message) picks it up', async () => {
      const rt = await runtime('sw-c1');
      await place('counter/sw', 'sw-c1');
      await waitFor('hosted', () => rt.agents().includes('counter/sw'), 5_000);
      await store.appendMessage('counter/sw', { messageId: '00000000-0000-4000-8000-00000000aaaa', kind: 'tell', from: 'api', body: '{"n":1}' });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await store.loadAgentState('counter/sw'), null, 'no ring, no turn: idle agents cost no reads');
      await store.pushInbox(containerInbox('sw-c1'), { kind: 'control', ref: 'sweep', body: JSON.stringify({ message_type: 'sweep', payload: {} }) });
      await waitFor('handled after the sweep', async () => (await store.loadAgentState('counter/sw')) === '{"count":1}', 5_000);
    });

    test('a new epoch drops the agents of the old one until they are re-fenced', async () => {
      const rt = await runtime('ep-c1', 1);
      await place('counter/ep', 'ep-c1', 1);
      await waitFor('hosted', () => rt.agents().includes('counter/ep'), 5_000);
      await rt.start(2);
      assert.deepEqual(rt.agents(), [], 'fence epoch 1 is not ours any more');
      await place('counter/ep', 'ep-c1', 2);
      await waitFor('hosted again', () => rt.agents().includes('counter/ep'), 5_000);
    });

    test('the ownership sweep finds an agent placed without a hint, and lists nothing while nothing changes', async () => {
      let listed = 0;
      // The same store, counting the one call whose cost grows with the agents a container owns.
      const counting = Object.create(store) as Store;
      counting.listAgentsOn = (containerId) => {
        listed += 1;
        return store.listAgentsOn(containerId);
      };
      const rt = new AgentRuntime({ store: counting, containerId: 'own-c1', registry: registry(), log });
      runtimes.push(rt);
      await rt.start(1);
      assert.ok(listed >= 1, 'start() sweeps');
      // No activate control: only the sweep can find it.
      await store.createAgent({ id: 'counter/own', type: 'counter', name: 'own', config: {}, placement: { strategy: 'least_loaded', constraints: {} }, state: 'activating', containerId: 'own-c1', epoch: 1 });
      await waitFor('hosted by the sweep', () => rt.agents().includes('counter/own'), SWEEP_INTERVAL_MS * 3);
      const seen = listed;
      await new Promise((r) => setTimeout(r, SWEEP_INTERVAL_MS * 2 + 300));
      assert.equal(listed, seen, 'no listing while the store reports no change');
      // Moved away without a hint: released by the next sweep.
      await store.assignAgent('counter/own', { owner: 'own-c2', epoch: 1 }, 'migrating');
      await waitFor('released by the sweep', () => !rt.agents().includes('counter/own'), SWEEP_INTERVAL_MS * 3);
    });
  });
}

suite('memory', async () => new MemoryStore(), (s) => s.close());

let redis: RedisServer;
let prefixSeq = 0;
describe('redis', () => {
  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => redis?.stop());
  suite(
    'redis',
    async () => new RedisStore({ redis: connectRedis(redis.url), prefix: `rt${process.pid}-${++prefixSeq}:` }),
    (s) => s.close(),
  );
});
