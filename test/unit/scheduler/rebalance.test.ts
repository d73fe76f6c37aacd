import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerRecord } from '../../../src/protocol/container.js';
import { DEFAULT_MAX_REBALANCE_MOVES, maxAgentsOf, planRebalance, type AgentPlacement, type PlacementRequest, type PlannedMove } from '../../../src/scheduler/index.js';
import { container, request } from './fixtures.js';

/** `{ a: 3 }` → agents a-0, a-1, a-2 on container a. */
function agentsOn(counts: Record<string, number>, req: Partial<PlacementRequest> = {}, prefix = ''): AgentPlacement[] {
  return Object.entries(counts).flatMap(([containerId, n]) =>
    Array.from({ length: n }, (_, i) => ({ agentId: `${prefix}${containerId}-${i}`, containerId, request: request(req) })),
  );
}

/** Load per container after applying the moves. */
function after(placements: readonly AgentPlacement[], moves: readonly PlannedMove[]): Record<string, number> {
  const where = new Map(placements.map((p) => [p.agentId, p.containerId]));
  for (const m of moves) {
    assert.equal(where.get(m.agentId), m.from, `${m.agentId} moves from where it is`);
    where.set(m.agentId, m.to);
  }
  const load: Record<string, number> = {};
  for (const c of where.values()) load[c] = (load[c] ?? 0) + 1;
  return load;
}

describe('planRebalance', () => {
  const three = [container('a'), container('b'), container('c')];

  test('evens out the containers and says it converged', () => {
    const placements = agentsOn({ a: 10, c: 2 });
    const plan = planRebalance(three, placements, 'least_loaded');
    assert.equal(plan.converged, true);
    assert.deepEqual(after(placements, plan.moves), { a: 4, b: 4, c: 4 });
    assert.equal(plan.moves.length, 6, 'no wasted moves');
    assert.equal(plan.moves[0]?.reason, 'rebalance: a had 10/100 agents, b 0/100');
  });

  test('proposes nothing when already even (within one agent)', () => {
    const plan = planRebalance(three, agentsOn({ a: 5, b: 4, c: 5 }));
    assert.deepEqual(plan, { moves: [], converged: true });
    assert.deepEqual(planRebalance(three, []), { moves: [], converged: true });
  });

  test('is bounded by maxMoves, and says when it stopped early', () => {
    const placements = agentsOn({ a: 60 });
    const plan = planRebalance(three, placements);
    assert.equal(plan.moves.length, DEFAULT_MAX_REBALANCE_MOVES);
    assert.equal(plan.converged, false);
    assert.equal(plan.limit, 'maxMoves');
    const few = planRebalance(three, placements, 'least_loaded', { maxMoves: 3 });
    assert.equal(few.moves.length, 3);
    assert.equal(few.converged, false);
    assert.deepEqual(planRebalance(three, placements, 'least_loaded', { maxMoves: 0 }), { moves: [], converged: false, limit: 'maxMoves' });
    // Carried out and planned again, it gets there.
    let current = placements;
    for (let round = 0; round < 10; round++) {
      const step = planRebalance(three, current, 'least_loaded', { maxMoves: 7 });
      const moved = new Map(step.moves.map((m) => [m.agentId, m.to]));
      current = current.map((p) => ({ ...p, containerId: moved.get(p.agentId) ?? p.containerId }));
      if (step.converged) break;
    }
    assert.deepEqual(after(current, []), { a: 20, b: 20, c: 20 });
  });

  test('evens the share of slots in use when capacities differ', () => {
    const containers = [container('small', { resources: { max_agents: 100 } }), container('big', { resources: { max_agents: 300 } })];
    const plan = planRebalance(containers, agentsOn({ small: 40 }), 'least_loaded', { maxMoves: 100 });
    assert.equal(plan.converged, true);
    assert.deepEqual(after(agentsOn({ small: 40 }), plan.moves), { small: 10, big: 30 });
  });

  test('moves only agents whose own constraints allow the target', () => {
    const containers = [container('a', { labels: { zone: 'a' } }), container('b', { labels: { zone: 'b' }, agentTypes: ['echo'] })];
    const placements = [
      ...agentsOn({ a: 6 }, { constraints: { labels: ['zone == a'] } }, 'pinned-'),
      ...agentsOn({ a: 2 }, { agentType: 'llm' }, 'llm-'),
      ...agentsOn({ a: 2 }, {}, 'free-'),
    ];
    const plan = planRebalance(containers, placements);
    assert.equal(plan.converged, true);
    assert.deepEqual(plan.moves.map((m) => m.agentId), ['free-a-0', 'free-a-1']);
  });

  test('bounds the search when agents cannot move, and says it stopped searching', () => {
    const containers = [container('a', { labels: { zone: 'a' } }), ...['b', 'c', 'd'].map((id) => container(id, { labels: { zone: 'b' } }))];
    const placements = [...agentsOn({ a: 10 }, { constraints: { labels: ['zone == a'] } }), ...agentsOn({ a: 1 }, {}, 'free-')];
    assert.deepEqual(planRebalance(containers, placements, 'least_loaded', { maxChecks: 5 }), { moves: [], converged: false, limit: 'maxChecks' });
    const full = planRebalance(containers, placements);
    assert.equal(full.converged, true);
    assert.deepEqual(full.moves.map((m) => m.agentId), ['free-a-0']);
  });

  test('respects the resources the target has free', () => {
    const containers = [container('a', { resources: { memory_mb: 8_192 } }), container('b', { resources: { memory_mb: 2_048 } })];
    const plan = planRebalance(containers, agentsOn({ a: 6 }, { resourceRequirements: { memory_mb: 1_024 } }));
    assert.deepEqual(after(agentsOn({ a: 6 }), plan.moves), { a: 4, b: 2 });
  });

  test('leaves cordoned, draining and down containers alone, and agents that asked for their container', () => {
    const containers = [
      container('a', { availability: 'cordoned' }),
      container('b', { availability: 'draining' }),
      container('c', { state: 'down' }),
      container('d'),
      container('e'),
    ];
    const placements = [...agentsOn({ a: 9, b: 9, c: 9 }), ...agentsOn({ d: 4 }, { preferredContainer: 'd' })];
    assert.deepEqual(planRebalance(containers, placements), { moves: [], converged: true });
  });

  test('never moves an agent twice in one plan', () => {
    const containers = [container('a'), container('b'), container('c')];
    const plan = planRebalance(containers, agentsOn({ a: 30, b: 30 }));
    assert.equal(new Set(plan.moves.map((m) => m.agentId)).size, plan.moves.length);
    assert.deepEqual(after(agentsOn({ a: 30, b: 30 }), plan.moves), { a: 20, b: 20, c: 20 });
  });

  test('for spread, evens the hosts rather than the containers', () => {
    const containers = [
      container('h1-a', { hostAddress: 'h1' }),
      container('h1-b', { hostAddress: 'h1' }),
      container('h2-a', { hostAddress: 'h2' }),
    ];
    const placements = agentsOn({ 'h1-a': 6, 'h1-b': 6 });
    const byHost = planRebalance(containers, placements, 'spread');
    assert.deepEqual(after(placements, byHost.moves), { 'h1-a': 3, 'h1-b': 3, 'h2-a': 6 });
    assert.equal(byHost.moves[0]?.reason, 'rebalance: host h1 had 12 agents, host h2 0');
    const byContainer = planRebalance(containers, placements, 'least_loaded');
    assert.deepEqual(after(placements, byContainer.moves), { 'h1-a': 4, 'h1-b': 4, 'h2-a': 4 });
  });

  test('converges on random fleets: nothing over capacity, every move allowed, no improving move left', () => {
    let seed = 42;
    const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    for (let round = 0; round < 40; round++) {
      const containers: ContainerRecord[] = Array.from({ length: 2 + Math.floor(random() * 8) }, (_, i) =>
        container(`c${i}`, {
          hostAddress: `h${i % 3}`,
          resources: { max_agents: pick([5, 10, 40, 100]) },
          labels: { zone: pick(['a', 'b']) },
          availability: pick(['schedulable', 'schedulable', 'schedulable', 'cordoned']),
        }),
      );
      const placements: AgentPlacement[] = [];
      for (const c of containers) {
        const n = Math.floor(random() * maxAgentsOf(c));
        for (let i = 0; i < n; i++) {
          const constrained = random() < 0.3;
          placements.push({ agentId: `${c.id}-${i}`, containerId: c.id, request: request(constrained ? { constraints: { labels: [`zone == ${c.labels.zone}`] } } : {}) });
        }
      }
      const strategy = pick(['least_loaded', 'spread'] as const);
      const plan = planRebalance(containers, placements, strategy, { maxMoves: 10_000 });
      assert.equal(plan.converged, true);
      const load = after(placements, plan.moves);
      const byId = new Map(containers.map((c) => [c.id, c]));
      for (const c of containers) assert.ok((load[c.id] ?? 0) <= maxAgentsOf(c), `${c.id} within capacity`);
      for (const m of plan.moves) {
        const to = byId.get(m.to) as ContainerRecord;
        assert.equal(to.availability, 'schedulable');
        const p = placements.find((x) => x.agentId === m.agentId) as AgentPlacement;
        if (p.request.constraints) assert.equal(to.labels.zone, byId.get(m.from)?.labels.zone, 'labels respected');
      }
      // Nothing left to do: planning again from the result proposes no move.
      const moved = new Map(plan.moves.map((m) => [m.agentId, m.to]));
      const settled = placements.map((p) => ({ ...p, containerId: moved.get(p.agentId) ?? p.containerId }));
      assert.equal(planRebalance(containers, settled, strategy).moves.length, 0, `round ${round}`);
    }
  });
});
