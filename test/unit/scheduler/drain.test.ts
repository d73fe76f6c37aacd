import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelConstraintError, NoPlacementError, planDrain, type AgentPlacement, type PlacementRequest } from '../../../src/scheduler/index.js';
import { container, request } from './fixtures.js';

function agent(agentId: string, containerId: string, req: Partial<PlacementRequest> = {}): AgentPlacement {
  return { agentId, containerId, request: request(req) };
}

function targets(plan: ReturnType<typeof planDrain>): Record<string, string> {
  return Object.fromEntries(plan.moves.map((m) => [m.agentId, m.to]));
}

describe('planDrain', () => {
  test('proposes a target for every agent, placing them one after another so they spread', () => {
    const containers = [container('x', { availability: 'draining' }), container('a'), container('b')];
    const placements = [...['x1', 'x2', 'x3', 'x4', 'x5', 'x6'].map((id) => agent(id, 'x')), agent('b1', 'b'), agent('b2', 'b')];
    const plan = planDrain('x', containers, placements);
    assert.equal(plan.unplaceable.length, 0);
    assert.deepEqual(targets(plan), { x1: 'a', x2: 'a', x3: 'a', x4: 'b', x5: 'a', x6: 'b' });
    assert.ok(plan.moves.every((m) => m.from === 'x'));
    // a and b end even (4 each): had the plan used the starting load for all six, a would have taken them all.
    assert.equal(plan.moves[0]?.reason, 'drain x: least loaded: 0/100 agents');
  });

  test("uses each agent's own strategy and constraints", () => {
    const containers = [
      container('x', { availability: 'draining', hostAddress: 'h1', labels: { zone: 'a' }, capabilities: ['gpu'] }),
      container('a', { hostAddress: 'h1', labels: { zone: 'a' } }),
      container('b', { hostAddress: 'h2', labels: { zone: 'b' } }),
      container('g', { hostAddress: 'h2', labels: { zone: 'b' }, capabilities: ['gpu'] }),
    ];
    const placements = [
      agent('gpu-agent', 'x', { constraints: { capabilities: ['gpu'] } }),
      agent('spread-agent', 'x', { strategy: 'spread' }),
      agent('zone-agent', 'x', { constraints: { labels: ['zone == a'] } }),
      agent('a1', 'a'),
      agent('b1', 'b'),
      agent('b2', 'b'),
      agent('g1', 'g'),
    ];
    const plan = planDrain('x', containers, placements);
    assert.deepEqual(targets(plan), { 'gpu-agent': 'g', 'spread-agent': 'a', 'zone-agent': 'a' });
  });

  test('reports the agents nothing can take, with the reason', () => {
    const containers = [container('x', { availability: 'draining' }), container('a', { agentTypes: ['echo'] })];
    const placements = [agent('e', 'x'), agent('l', 'x', { agentType: 'llm' }), agent('bad', 'x', { constraints: { labels: ['zone =='] } })];
    const plan = planDrain('x', containers, placements);
    assert.deepEqual(targets(plan), { e: 'a' });
    assert.deepEqual(plan.unplaceable.map((u) => u.agentId), ['bad', 'l']);
    assert.ok(plan.unplaceable[0]?.error instanceof LabelConstraintError);
    const refused = plan.unplaceable[1]?.error;
    assert.ok(refused instanceof NoPlacementError);
    assert.equal(refused.message, 'no container can take agent type llm: 1 excluded (being moved off), 1 does not serve llm');
  });

  test('respects capacity and resources as earlier moves use them up', () => {
    const containers = [
      container('x', { availability: 'draining' }),
      container('a', { resources: { max_agents: 2 } }),
      container('b', { resources: { cpu_cores: 4 } }),
      container('c', { resources: { cpu_cores: 2 } }),
    ];
    const placements = [agent('a1', 'a'), ...['x1', 'x2', 'x3', 'x4'].map((id) => agent(id, 'x', { resourceRequirements: { cpu_cores: 2 } }))];
    const hungry = planDrain('x', containers, placements);
    assert.deepEqual(targets(hungry), { x1: 'b', x2: 'c', x3: 'b' });
    assert.deepEqual(hungry.unplaceable.map((u) => u.agentId), ['x4']);
    assert.equal(hungry.unplaceable[0]?.error.message, 'no container can take agent type echo: 1 excluded (being moved off), 3 has under 2 cpu_cores free');

    const small = [container('x', { availability: 'draining' }), container('a', { resources: { max_agents: 2 } }), container('b', { resources: { max_agents: 2 } })];
    const full = planDrain('x', small, [agent('a1', 'a'), ...['x1', 'x2', 'x3', 'x4'].map((id) => agent(id, 'x'))]);
    assert.deepEqual(targets(full), { x1: 'b', x2: 'a', x3: 'b' });
    assert.equal(full.unplaceable[0]?.error.message, 'no container can take agent type echo: 1 excluded (being moved off), 2 full (2/2 agents)');
  });

  test('a preference for the drained container is dropped; one for another container holds, or falls back', () => {
    const containers = [container('x', { availability: 'draining' }), container('a'), container('b'), container('c', { availability: 'cordoned' })];
    const placements = [
      agent('p1', 'x', { preferredContainer: 'x' }),
      agent('p2', 'x', { preferredContainer: 'b' }),
      agent('p3', 'x', { preferredContainer: 'c' }),
    ];
    const plan = planDrain('x', containers, placements);
    assert.deepEqual(targets(plan), { p1: 'a', p2: 'b', p3: 'a' });
    assert.match(plan.moves[2]?.reason ?? '', /preferred container "c" skipped \(cordoned/);
  });

  test('round_robin agents take turns from the cursor, which the plan hands back', () => {
    const containers = [container('x', { availability: 'draining' }), container('a'), container('b'), container('c')];
    const placements = ['r1', 'r2', 'r3', 'r4'].map((id) => agent(id, 'x', { strategy: 'round_robin' }));
    const plan = planDrain('x', containers, placements, { cursor: 'a' });
    assert.deepEqual(targets(plan), { r1: 'b', r2: 'c', r3: 'a', r4: 'b' });
    assert.equal(plan.cursor, 'b');
  });

  test('affinity follows agents that moved earlier in the same plan', () => {
    const containers = [container('x', { availability: 'draining' }), container('a'), container('b')];
    const placements = [agent('a0', 'a'), agent('m1', 'x'), agent('m2', 'x', { strategy: 'affinity_based', affinity: { agents: ['m1'] } })];
    const plan = planDrain('x', containers, placements);
    assert.deepEqual(targets(plan), { m1: 'b', m2: 'b' });
  });

  test('works for a container that is down, or still schedulable (it is excluded by id)', () => {
    for (const over of [{ state: 'down' as const }, {}]) {
      const containers = [container('x', over), container('a')];
      const plan = planDrain('x', containers, [agent('x1', 'x'), agent('x2', 'x')]);
      assert.deepEqual(targets(plan), { x1: 'a', x2: 'a' });
    }
  });

  test('an empty container needs no moves', () => {
    assert.deepEqual(planDrain('x', [container('x'), container('a')], [agent('a1', 'a')]), { moves: [], unplaceable: [], cursor: undefined });
  });
});
