/**
 * The leader's reconciler against fake containers (in-process manager, on the memory store and on
 * a real redis-server): it fails agents over when a lease lapses, drains draining containers,
 * re-fences the agents of a container that re-registered, and keeps agents that fit nowhere
 * pending with the reason visible.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AgentView, DeployResponse } from '../../src/protocol/agents-api.js';
import { connectRedis, MemoryStore, RedisStore, type Store } from '../../src/store/index.js';
import { startAgentCluster, type AgentCluster } from '../helpers/agent-cluster.js';
import { waitFor } from '../helpers/processes.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const SHORT_LEASE = { lease_interval_ms: 100, lease_timeout_ms: 300 };
/** Generous for a loaded CI machine; the reconciler runs every 50 ms here. */
const SETTLE_MS = 5_000;

let redis: RedisServer | undefined;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis?.stop();
});

const STORES: Record<string, () => Store> = {
  memory: () => new MemoryStore(),
  // A fresh key prefix per test: the scenarios share one redis-server.
  redis: () => new RedisStore({ redis: connectRedis((redis as RedisServer).url, { name: 'flotilla-test' }), prefix: `t${randomBytes(4).toString('hex')}:` }),
};

async function deployOn(c: AgentCluster, container: string, name: string, replicas = 1, agentType = 'echo'): Promise<string[]> {
  const res = await c.call<DeployResponse>('POST', '/api/v1/cluster/agents/deploy', { agent_type: agentType, name, replicas, preferred_container: container });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.agents.map((a) => a.agent_id);
}

async function owners(c: AgentCluster, ids: readonly string[]): Promise<Array<string | null>> {
  return Promise.all(ids.map(async (id) => (await c.store.getAgent(id))?.containerId ?? null));
}

async function eventsOf(c: AgentCluster, type: string): Promise<Array<Record<string, unknown>>> {
  return (await c.store.listEvents({ limit: 1_000 })).filter((e) => e.type === type).map((e) => e.data);
}

/** Logging the event is the last step of a move: after it, the fence and the inboxes are written. */
async function waitForEvents(c: AgentCluster, type: string, count: number): Promise<Array<Record<string, unknown>>> {
  return waitFor(`${count} ${type} events`, async () => {
    const events = await eventsOf(c, type);
    return events.length >= count && events;
  }, SETTLE_MS);
}

for (const [kind, makeStore] of Object.entries(STORES)) {
  const withCluster = async (fn: (c: AgentCluster) => Promise<void>): Promise<void> => {
    const cluster = await startAgentCluster(makeStore());
    try {
      await fn(cluster);
    } finally {
      await cluster.close();
    }
  };

  describe(`reconciler (${kind} store)`, () => {
    test('a lapsed lease: its agents fail over with their own strategy, fenced to the new owners', () =>
      withCluster(async (c) => {
        const doomed = await c.container('c1', SHORT_LEASE);
        const c2 = await c.container('c2');
        const c3 = await c.container('c3');
        const ids = await deployOn(c, 'c1', 'f', 4);
        doomed.stopRenewing();

        const failovers = await waitForEvents(c, 'agent_failed_over', 4);
        const placed = await owners(c, ids);
        // least_loaded, one after another: they spread evenly.
        assert.deepEqual(placed.filter((o) => o === 'c2').length, 2);
        assert.deepEqual(placed.filter((o) => o === 'c3').length, 2);
        for (const id of ids) {
          const a = await c.store.getAgent(id);
          assert.equal(a?.state, 'activating');
          assert.equal(a?.epoch, a?.containerId === 'c2' ? c2.epoch : c3.epoch);
        }
        // The dead container is not told anything; the new owners are told to activate.
        assert.deepEqual(
          (await c.controls('c1')).map((x) => x.op),
          ['activate', 'activate', 'activate', 'activate'],
        );
        const activated = [...(await c.controls('c2')), ...(await c.controls('c3'))].map((x) => x.agent).sort();
        assert.deepEqual(activated, [...ids].sort());
        assert.equal(failovers.length, 4);
        assert.ok(failovers.every((e) => e.from === 'c1' && e.cause === 'owner_down'));
      }));

    test('a draining container: its agents move, each owner told, and a stuck one says why', () =>
      withCluster(async (c) => {
        await c.container('c1', { agent_types: ['echo', 'llm'] });
        await c.container('c2');
        const movers = await deployOn(c, 'c1', 'd', 3);
        const [stuck] = await deployOn(c, 'c1', 'solo', 1, 'llm');
        assert.equal((await c.call('POST', '/api/v1/cluster/containers/c1/drain')).status, 200);

        const moved = await waitForEvents(c, 'agent_moved', 3);
        assert.deepEqual(await owners(c, movers), ['c2', 'c2', 'c2']);
        const c1 = await c.controls('c1');
        assert.deepEqual(
          c1.filter((x) => x.op === 'deactivate').map((x) => x.agent),
          movers,
        );
        assert.deepEqual(
          (await c.controls('c2')).map((x) => `${x.op} ${x.agent}`),
          movers.map((id) => `activate ${id}`),
        );
        assert.deepEqual(
          moved.map((e) => [e.agent_id, e.from, e.to, e.cause]),
          movers.map((id) => [id, 'c1', 'c2', 'drain']),
        );

        // Nothing else serves llm: it stays (and keeps running) on c1, with the reason shown.
        const view = await waitFor(
          'a placement error',
          async () => {
            const v = (await c.call<AgentView>('GET', `/api/v1/cluster/agents/${stuck}/deployment`)).body;
            return v.placement_error !== undefined && v;
          },
          SETTLE_MS,
        );
        assert.equal(view.container_id, 'c1');
        assert.match(view.placement_error ?? '', /no container can take agent type llm: .*does not serve llm/);
        await new Promise((r) => setTimeout(r, 400)); // several passes
        assert.equal((await eventsOf(c, 'agent_unplaceable')).length, 1, 'logged once, not every pass');

        await c.container('c9', { agent_types: ['llm'] });
        await waitFor('the llm agent on c9', async () => (await owners(c, [stuck as string]))[0] === 'c9', SETTLE_MS);
        assert.equal((await c.call('GET', '/api/v1/cluster/agents/deployments?container_id=c1')).body.total, 0);
      }));

    test('a container that re-registers gets its agents back, fenced to its new epoch', () =>
      withCluster(async (c) => {
        await c.container('c1');
        await c.container('c2');
        const ids = await deployOn(c, 'c1', 'r', 2);
        const again = await c.container('c1');

        const events = await waitForEvents(c, 'agent_failed_over', 2);
        for (const id of ids) assert.equal((await c.store.getAgent(id))?.epoch, again.epoch);
        assert.deepEqual(await owners(c, ids), ['c1', 'c1']);
        assert.deepEqual(
          (await c.controls('c1')).map((x) => `${x.op} ${x.agent}`),
          [...ids, ...ids].map((id) => `activate ${id}`),
        );
        assert.deepEqual(await c.controls('c2'), []);
        assert.ok(events.every((e) => e.cause === 'owner_restarted' && e.from === 'c1' && e.to === 'c1'));

        // Back without the type: its agents go elsewhere.
        await c.container('c1', { agent_types: ['llm'] });
        await waitFor('moved to c2', async () => (await owners(c, ids)).every((o) => o === 'c2'), SETTLE_MS);
      }));

    test('agents of a dead container that fit nowhere wait as pending, and are placed when room appears', () =>
      withCluster(async (c) => {
        const doomed = await c.container('c1', { ...SHORT_LEASE, agent_types: ['llm'] });
        const [id] = await deployOn(c, 'c1', 'p', 1, 'llm');
        doomed.stopRenewing();

        const view = await waitFor(
          'pending',
          async () => {
            const v = (await c.call<AgentView>('GET', `/api/v1/cluster/agents/${id}`)).body;
            return v.state === 'pending' && v.placement_error !== undefined && v;
          },
          SETTLE_MS,
        );
        assert.equal(view.container_id, null);
        assert.match(view.placement_error ?? '', /no container can take agent type llm: 1 down/);

        const fresh = await c.container('c2', { agent_types: ['llm'] });
        await waitForEvents(c, 'agent_placed', 2); // the deploy, then this
        const placed = await c.store.getAgent(id as string);
        assert.equal(placed?.containerId, 'c2');
        assert.equal(placed?.epoch, fresh.epoch);
        assert.equal(placed?.state, 'activating');
        assert.deepEqual(await c.controls('c2'), [{ agent: id, op: 'activate' }]);
        assert.equal((await eventsOf(c, 'agent_placed')).filter((e) => e.cause === 'pending').length, 1);
        const shown = (await c.call<AgentView>('GET', `/api/v1/cluster/agents/${id}/deployment`)).body;
        assert.equal(shown.placement_error, undefined);
      }));
  });
}
