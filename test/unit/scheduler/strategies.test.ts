import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerRecord } from '../../../src/protocol/container.js';
import { STRATEGIES } from '../../../src/scheduler/index.js';
import { container, placed } from './fixtures.js';

describe('round_robin', () => {
  const fleet = [container('c'), container('a'), container('b')];

  test('cycles through the eligible containers in id order, the caller keeping the cursor', () => {
    let cursor: string | undefined;
    const order: string[] = [];
    const reasons: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = placed({ containers: fleet, request: { strategy: 'round_robin' }, cursor });
      order.push(r.containerId);
      reasons.push(r.reason);
      assert.equal(r.cursor, r.containerId);
      cursor = r.cursor;
    }
    assert.deepEqual(order, ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
    assert.equal(reasons[0], 'round robin: first eligible container');
    assert.equal(reasons[1], 'round robin: next eligible container after a');
    assert.equal(reasons[3], 'round robin: wrapped around after c');
  });

  test('is fair: equal turns, whatever the load', () => {
    const big = fleet.map((c) => ({ ...c, resources: { max_agents: 1_000 } }));
    const load: Record<string, number> = { a: 40 };
    let cursor: string | undefined;
    for (let i = 0; i < 300; i++) {
      const r = placed({ containers: big, load, request: { strategy: 'round_robin' }, cursor });
      load[r.containerId] = (load[r.containerId] ?? 0) + 1;
      cursor = r.cursor;
    }
    assert.deepEqual(load, { a: 140, b: 100, c: 100 });
  });

  test('skips ineligible containers without losing its place', () => {
    const containers = [container('a'), container('b', { availability: 'cordoned' }), container('c', { agentTypes: ['llm'] }), container('d')];
    const seq: string[] = [];
    let cursor: string | undefined = 'a';
    for (let i = 0; i < 4; i++) {
      const r = placed({ containers, request: { strategy: 'round_robin' }, cursor });
      seq.push(r.containerId);
      cursor = r.cursor;
    }
    assert.deepEqual(seq, ['d', 'a', 'd', 'a']);
    // A full container is skipped too, and its turn comes back once it has room.
    const limited = [container('a'), container('b', { resources: { max_agents: 1 } }), container('c')];
    assert.equal(placed({ containers: limited, load: { b: 1 }, request: { strategy: 'round_robin' }, cursor: 'a' }).containerId, 'c');
    assert.equal(placed({ containers: limited, load: { b: 0 }, request: { strategy: 'round_robin' }, cursor: 'a' }).containerId, 'b');
  });

  test('the cursor is an id, so containers joining or leaving do not skip anyone', () => {
    const joined = [...fleet, container('ab')];
    assert.equal(placed({ containers: joined, request: { strategy: 'round_robin' }, cursor: 'a' }).containerId, 'ab', 'the newcomer takes its turn');
    const left = fleet.filter((c) => c.id !== 'b');
    assert.equal(placed({ containers: left, request: { strategy: 'round_robin' }, cursor: 'b' }).containerId, 'c', 'the cursor may name a container that left');
  });

  test('other strategies hand the cursor back unchanged', () => {
    const r = placed({ containers: fleet, request: { strategy: 'least_loaded' }, cursor: 'b' });
    assert.equal(r.cursor, 'b');
  });
});

describe('least_loaded', () => {
  test('the container with the smallest share of its slots in use; ties to the lower id', () => {
    const containers = [container('a'), container('b'), container('c', { resources: { max_agents: 1_000 } })];
    assert.equal(placed({ containers, load: { a: 10, b: 5, c: 100 } }).containerId, 'b');
    assert.equal(placed({ containers, load: { a: 10, b: 12, c: 50 } }).containerId, 'c', '5% beats 10%');
    const r = placed({ containers, load: { a: 3, b: 3, c: 30 } });
    assert.equal(r.containerId, 'a', 'a 3% and c 3%: fewer agents, then id');
    assert.equal(r.reason, 'least loaded: 3/100 agents');
  });
});

describe('resource_based', () => {
  test('the most room left on the tightest resource once the agent is there', () => {
    const containers = [
      container('a', { resources: { cpu_cores: 8, memory_mb: 16_384 } }),
      container('b', { resources: { cpu_cores: 4, memory_mb: 4_096 } }),
    ];
    const used = { a: { cpu_cores: 6 }, b: { memory_mb: 2_048 } };
    const r = placed({ containers, used, request: { strategy: 'resource_based' } });
    assert.equal(r.containerId, 'b', 'a has 25% of its cores left, b half of everything');
    assert.equal(r.reason, 'most free resources: 50% of memory_mb left after placing');
    const least = placed({ containers, used, request: { strategy: 'least_loaded' } });
    assert.equal(least.containerId, 'a', 'least_loaded would not look at resources');
  });

  test('counts what this agent needs, and resources it does not need only if they are cpu or memory', () => {
    const containers = [
      container('a', { resources: { cpu_cores: 8, memory_mb: 8_192, gpus: 2 } }),
      container('b', { resources: { cpu_cores: 8, memory_mb: 8_192, gpus: 2 } }),
    ];
    const used = { a: { gpus: 2 }, b: { cpu_cores: 2 } };
    assert.equal(placed({ containers, used, request: { strategy: 'resource_based' } }).containerId, 'a', 'its GPUs are busy, but this agent needs none');
    const used2 = { a: { gpus: 1 }, b: { cpu_cores: 2 } };
    assert.equal(placed({ containers, used: used2, request: { strategy: 'resource_based', resourceRequirements: { gpus: 1 } } }).containerId, 'b');
  });

  test('agent slots are a resource too, so a container that declares nothing still ranks', () => {
    const containers = [container('a', { resources: { cpu_cores: 4 } }), container('b')];
    assert.equal(placed({ containers, load: { b: 90 }, used: { a: { cpu_cores: 1 } }, request: { strategy: 'resource_based' } }).containerId, 'a');
    assert.equal(placed({ containers, load: { b: 10 }, used: { a: { cpu_cores: 3 } }, request: { strategy: 'resource_based' } }).containerId, 'b');
  });
});

describe('capability_based', () => {
  const containers = [
    container('a-gpu', { capabilities: ['gpu', 'cuda12'], agentTypes: ['echo', 'llm'] }),
    container('b-general', { agentTypes: ['echo', 'llm', 'http', 'group-chat'] }),
    container('c-echo', { agentTypes: ['echo'] }),
    container('d-echo', { agentTypes: ['echo'] }),
  ];

  test('the most specialized container that qualifies, keeping generalists for those who need them', () => {
    assert.equal(placed({ containers, request: { strategy: 'capability_based' } }).containerId, 'c-echo');
    assert.equal(placed({ containers, load: { 'c-echo': 1 }, request: { strategy: 'capability_based' } }).containerId, 'd-echo', 'then the least loaded');
    const llm = placed({ containers, request: { strategy: 'capability_based', agentType: 'llm' } });
    assert.equal(llm.containerId, 'b-general', 'the GPU box stays free');
    assert.equal(llm.reason, 'closest capability match: 0 capabilities beyond those required, serves 4 agent types');
    assert.equal(placed({ containers, request: { strategy: 'capability_based', agentType: 'llm', constraints: { capabilities: ['gpu'] } } }).containerId, 'a-gpu');
  });
});

describe('affinity_based', () => {
  const containers = [container('a'), container('b'), container('c')];
  const locations = { x: 'a', y: 'b', z: 'b', w: 'c' };
  const load = { a: 1, b: 2, c: 1 };
  const affinity = (agents: string[], anti: string[] = []): { containerId: string; reason: string } =>
    placed({ containers, load, locations, request: { strategy: 'affinity_based', affinity: { agents, anti } } });

  test('prefers the container hosting the most affine agents, even when it is busier', () => {
    const r = affinity(['y', 'z', 'x']);
    assert.equal(r.containerId, 'b');
    assert.equal(r.reason, 'affinity: hosts 2 of 3 affine agents; 2/100 agents');
  });

  test('avoids anti-affine agents first', () => {
    assert.equal(affinity(['y'], ['z']).containerId, 'a', 'b hosts z: the least loaded of the others');
    assert.equal(affinity(['w'], ['x', 'y']).containerId, 'c');
  });

  test('anti-affinity is a preference: with no clean container, the fewest conflicts, and it says so', () => {
    const r = affinity([], ['x', 'y', 'z', 'w']);
    assert.equal(r.containerId, 'a');
    assert.equal(r.reason, 'affinity: hosts 1 anti-affine agent (every eligible container hosts some); 1/100 agents');
  });

  test('without affinity, or with agents not placed anywhere, it is least loaded', () => {
    assert.equal(affinity([]).reason, 'affinity: no affinity given; 1/100 agents');
    assert.equal(affinity(['nowhere']).containerId, 'a');
  });

  test('an affine container that is not eligible is passed over', () => {
    const r = placed({
      containers: [container('a'), container('b', { availability: 'cordoned' })],
      locations,
      request: { strategy: 'affinity_based', affinity: { agents: ['y', 'z'] } },
    });
    assert.equal(r.containerId, 'a');
  });

  test('other strategies ignore affinity', () => {
    assert.equal(placed({ containers, load, locations, request: { strategy: 'least_loaded', affinity: { agents: ['y'] } } }).containerId, 'a');
  });
});

describe('spread', () => {
  const fleet = (): ContainerRecord[] => [
    container('c1', { hostAddress: 'h1' }),
    container('c2', { hostAddress: 'h1' }),
    container('c3', { hostAddress: 'h2' }),
    container('c4', { hostAddress: 'h3' }),
  ];

  test('the host with the fewest agents, then its least loaded container', () => {
    const r = placed({ containers: fleet(), load: { c1: 3, c2: 0, c3: 1, c4: 2 }, request: { strategy: 'spread' } });
    assert.equal(r.containerId, 'c3', 'c2 is the emptiest container, but host h1 has 3 agents');
    assert.equal(r.reason, 'spread: host h2 has 1 agent, the fewest; 1/100 agents on this container');
    assert.equal(placed({ containers: fleet(), load: { c1: 3, c2: 0, c3: 4, c4: 5 }, request: { strategy: 'spread' } }).containerId, 'c2');
    assert.equal(placed({ containers: fleet(), load: { c1: 3, c2: 0, c3: 1, c4: 2 }, request: { strategy: 'least_loaded' } }).containerId, 'c2');
  });

  test('a host counts its cordoned containers (their agents stay) but not draining or down ones', () => {
    const containers = [
      ...fleet(),
      container('c5', { hostAddress: 'h2', availability: 'cordoned' }),
      container('c6', { hostAddress: 'h3', availability: 'draining' }),
      container('c7', { hostAddress: 'h3', state: 'down' }),
    ];
    const load = { c1: 2, c2: 2, c3: 0, c4: 0, c5: 5, c6: 9, c7: 9 };
    assert.equal(placed({ containers, load, request: { strategy: 'spread' } }).containerId, 'c4');
  });

  test('sequential placements even out the hosts, however many containers each has', () => {
    const containers = [
      container('a1', { hostAddress: 'h1' }),
      container('a2', { hostAddress: 'h1' }),
      container('a3', { hostAddress: 'h1' }),
      container('b1', { hostAddress: 'h2' }),
      container('c1', { hostAddress: 'h3' }),
      container('c2', { hostAddress: 'h3' }),
    ];
    const load: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const id = placed({ containers, load, request: { strategy: 'spread' } }).containerId;
      load[id] = (load[id] ?? 0) + 1;
    }
    const host = (h: string): number => containers.filter((c) => c.hostAddress === h).reduce((n, c) => n + (load[c.id] ?? 0), 0);
    assert.deepEqual([host('h1'), host('h2'), host('h3')], [10, 10, 10]);
    assert.deepEqual([load.a1, load.a2, load.a3], [4, 3, 3], 'and its containers within a host');
  });
});

describe('every strategy', () => {
  test('is deterministic: the same fleet and request give the same container', () => {
    const containers = [container('b', { hostAddress: 'h' }), container('a', { hostAddress: 'h' })];
    for (const strategy of STRATEGIES) {
      assert.equal(placed({ containers, request: { strategy } }).containerId, 'a', strategy);
      assert.equal(placed({ containers: [...containers].reverse(), request: { strategy } }).containerId, 'a', strategy);
    }
  });
});
