/**
 * The reconciler's decisions without HTTP or timers: the pure plan (limits, settled agents, what
 * stays on a draining container) and the pass (only on the leader, only when something changed).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/common/logger.js';
import { planReconcile } from '../../src/manager/control/reconcile-plan.js';
import { FULL_SCAN_INTERVAL_MS, Reconciler } from '../../src/manager/control/reconciler.js';
import type { ContainerRegistration } from '../../src/protocol/container.js';
import { MemoryStore, type AgentState } from '../../src/store/index.js';

const log = createLogger({ test: 'reconciler' }, 'silent');
const LEASE_MS = 1_000;

function registration(name: string, overrides: Partial<ContainerRegistration> = {}): ContainerRegistration {
  return {
    name,
    hostAddress: '127.0.0.1',
    apiPort: 8001,
    capabilities: [],
    labels: {},
    resources: { max_agents: 1_000 },
    metadata: {},
    agentTypes: ['echo'],
    leaseIntervalMs: LEASE_MS / 4,
    leaseTimeoutMs: LEASE_MS,
    ...overrides,
  };
}

/** A store with a controllable clock, containers, and `n` agents on `on`. */
async function fleet(names: string[], on: string, n: number, state: AgentState = 'active') {
  let now = 1_000_000;
  const store = new MemoryStore({ clock: () => now });
  const epochs = new Map<string, number>();
  for (const name of names) epochs.set(name, (await store.registerContainer(registration(name))).epoch);
  for (let i = 0; i < n; i++) {
    const name = `a${String(i).padStart(3, '0')}`;
    await store.createAgent({
      id: `echo/${name}`,
      type: 'echo',
      name,
      config: {},
      placement: { strategy: 'least_loaded', constraints: {} },
      state,
      containerId: on,
      epoch: epochs.get(on) ?? 1,
    });
  }
  return { store, advance: (ms: number) => (now += ms) };
}

describe('reconcile plan', () => {
  test('moves off a draining container are bounded per pass; the plan says there is more', async () => {
    const { store } = await fleet(['c1', 'c2'], 'c1', 60);
    await store.setAvailability('c1', 'draining');
    const plan = planReconcile(await store.listContainers(), await store.listAgents(), { maxActions: 1_000, maxDrainMoves: 50 });
    assert.equal(plan.actions.length, 50);
    assert.ok(plan.actions.every((a) => a.kind === 'move' && a.move.cause === 'drain' && a.move.to.id === 'c2'));
    assert.equal(plan.more, true);
  });

  test('failovers are bounded by maxActions; stopped and failed agents are left alone', async () => {
    const { store, advance } = await fleet(['c1', 'c2'], 'c1', 10);
    await store.setAgentState('echo/a000', 'failed', { error: 'init threw' });
    await store.setAgentState('echo/a001', 'stopped');
    advance(LEASE_MS + 1);
    await store.renewLease('c2', 1, LEASE_MS);
    assert.deepEqual(await store.expireLeases(), ['c1']);
    const plan = planReconcile(await store.listContainers(), await store.listAgents(), { maxActions: 5, maxDrainMoves: 50 });
    assert.deepEqual(
      plan.actions.map((a) => a.agent.id),
      ['echo/a002', 'echo/a003', 'echo/a004', 'echo/a005', 'echo/a006'],
    );
    assert.ok(plan.actions.every((a) => a.kind === 'move' && a.move.cause === 'owner_down'));
    assert.equal(plan.more, true);
  });

  test('a draining container keeps what fits nowhere else; nothing else is written for it', async () => {
    const { store } = await fleet(['c1'], 'c1', 2);
    await store.setAvailability('c1', 'draining');
    const plan = planReconcile(await store.listContainers(), await store.listAgents(), { maxActions: 100, maxDrainMoves: 50 });
    assert.deepEqual(
      plan.actions.map((a) => (a.kind === 'unplaceable' ? [a.agent.id, a.unplace, a.error] : a.kind)),
      [
        ['echo/a000', false, 'no container can take agent type echo: 1 excluded (being moved off)'],
        ['echo/a001', false, 'no container can take agent type echo: 1 excluded (being moved off)'],
      ],
    );
  });
});

describe('reconciler pass', () => {
  test('does nothing while not the leader', async () => {
    const { store } = await fleet(['c1', 'c2'], 'c1', 3);
    await store.setAvailability('c1', 'draining');
    let leader = false;
    const reconciler = new Reconciler(store, log, () => leader);
    assert.deepEqual(await reconciler.pass(), { scanned: false, moved: 0, unplaceable: 0 });
    assert.deepEqual(await store.listAgentsOn('c2'), []);
    leader = true;
    assert.equal((await reconciler.pass()).moved, 3);
    assert.equal((await store.listAgentsOn('c2')).length, 3);
  });

  test('reports each move it carries out with its cause (the failover metric counts owner_* causes)', async () => {
    const { store, advance } = await fleet(['c1', 'c2'], 'c1', 3);
    advance(LEASE_MS + 1);
    await store.renewLease('c2', 1, LEASE_MS);
    assert.deepEqual(await store.expireLeases(), ['c1']);
    const reconciler = new Reconciler(store, log, () => true);
    const seen: string[] = [];
    reconciler.onMoved = (move) => seen.push(`${move.agentId}:${move.cause}`);
    assert.equal((await reconciler.pass()).moved, 3);
    assert.deepEqual(seen.sort(), ['echo/a000:owner_down', 'echo/a001:owner_down', 'echo/a002:owner_down']);
  });

  test('reads the agents only when the containers changed, work was left, or a while passed', async () => {
    const { store } = await fleet(['c1', 'c2'], 'c1', 1);
    let now = 0;
    const reconciler = new Reconciler(store, log, () => true, () => now);
    assert.equal((await reconciler.pass()).scanned, true); // first pass after election
    assert.equal((await reconciler.pass()).scanned, false);
    await store.setAvailability('c2', 'cordoned');
    assert.equal((await reconciler.pass()).scanned, true);
    assert.equal((await reconciler.pass()).scanned, false);
    now += FULL_SCAN_INTERVAL_MS;
    assert.equal((await reconciler.pass()).scanned, true);
  });
});
