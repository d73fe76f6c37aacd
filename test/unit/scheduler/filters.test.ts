import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_AGENTS, InvalidPlacementRequestError, LabelConstraintError, MAX_SUMMARY_GROUPS, place, STRATEGIES } from '../../../src/scheduler/index.js';
import { container, placed, refused, request } from './fixtures.js';

describe('filters (every strategy)', () => {
  test('down, cordoned and draining containers get nothing new, whatever the strategy', () => {
    const containers = [
      container('a-down', { state: 'down' }),
      container('b-cordoned', { availability: 'cordoned' }),
      container('c-draining', { availability: 'draining' }),
      container('d-ok'),
    ];
    // Every other container is emptier than d-ok and sorts before it: only the filter keeps them out.
    const load = { 'd-ok': 50 };
    for (const strategy of STRATEGIES) assert.equal(placed({ containers, load, request: { strategy } }).containerId, 'd-ok', strategy);
    const err = refused({ containers: containers.slice(0, 3) });
    assert.equal(err.message, 'no container can take agent type echo: 1 down, 1 cordoned, 1 draining');
  });

  test('only containers serving the agent type', () => {
    const containers = [container('a', { agentTypes: ['echo'] }), container('b', { agentTypes: ['echo', 'llm'] }), container('c', { agentTypes: [] })];
    assert.equal(placed({ containers, request: { agentType: 'llm' } }).containerId, 'b');
    const err = refused({ containers, request: { agentType: 'http' } });
    assert.equal(err.message, 'no container can take agent type http: 3 does not serve http');
    assert.equal(err.details.rejections.find((r) => r.containerId === 'c')?.detail, 'serves no agent types');
  });

  test(`capacity: max_agents, or ${DEFAULT_MAX_AGENTS} when undeclared`, () => {
    const containers = [container('a'), container('b', { resources: { max_agents: 2 } }), container('c', { resources: { max_agents: 0 } })];
    assert.equal(placed({ containers, load: { a: 99, b: 1 }, request: { strategy: 'round_robin' }, cursor: 'a' }).containerId, 'b');
    assert.equal(placed({ containers, load: { a: 99, b: 2 } }).containerId, 'a');
    const err = refused({ containers, load: { a: DEFAULT_MAX_AGENTS, b: 2 } });
    assert.equal(err.message, 'no container can take agent type echo: 1 full (100/100 agents), 1 full (2/2 agents), 1 full (0/0 agents)');
  });

  test('label constraints, all of which must hold', () => {
    const containers = [
      container('a', { labels: { zone: 'a', 'node.role': 'manager' } }),
      container('b', { labels: { zone: 'b', 'node.role': 'worker' } }),
      container('c', { labels: { zone: 'a', 'node.role': 'worker', gpu: 'true' } }),
      container('d', { labels: { zone: 'a', 'node.role': 'worker' } }),
    ];
    const pick = (labels: string[]): string => placed({ containers, request: { constraints: { labels } } }).containerId;
    assert.equal(pick(['node.role == worker', 'zone != b']), 'c');
    assert.equal(pick(['node.role == worker', 'zone != b', '!gpu']), 'd');
    assert.equal(pick(['gpu']), 'c');
    assert.equal(pick(['zone = b']), 'b');
    const err = refused({ containers, request: { constraints: { labels: ['zone == a', 'node.role=worker', 'gpu', 'rack'] } } });
    assert.equal(err.message, 'no container can take agent type echo: 1 fails label node.role == worker, 1 fails label zone == a, 1 fails label rack, 1 fails label gpu');
    assert.equal(err.details.rejections.find((r) => r.containerId === 'b')?.detail, 'fails label zone == a (zone is "b")');
  });

  test('capabilities, all of which must be advertised', () => {
    const containers = [container('a', { capabilities: ['gpu'] }), container('b', { capabilities: ['gpu', 'cuda12'] }), container('c')];
    assert.equal(placed({ containers, request: { constraints: { capabilities: ['gpu', 'cuda12'] } } }).containerId, 'b');
    const err = refused({ containers, request: { constraints: { capabilities: ['tpu'] } } });
    assert.equal(err.message, 'no container can take agent type echo: 3 lacks capability tpu');
  });

  test('minimum resources compare what a container declared, whatever is in use', () => {
    const containers = [
      container('a', { resources: { cpu_cores: 2, memory_mb: 8_192 } }),
      container('b', { resources: { cpu_cores: 8, memory_mb: 4_096 } }),
      container('c', { resources: { cpu_cores: 8, memory_mb: 16_384, gpus: 1 } }),
    ];
    const used = { c: { cpu_cores: 8, memory_mb: 16_384 } };
    const min = (minResources: Record<string, number>): string => placed({ containers, used, request: { constraints: { minResources } } }).containerId;
    assert.equal(min({ cpu_cores: 4, memory_mb: 8_000 }), 'c', 'c is busy but big enough');
    assert.equal(min({ max_agents: 100 }), 'a', 'max_agents defaults to 100 here too');
    const err = refused({ containers, request: { constraints: { minResources: { gpus: 2 } } } });
    assert.equal(err.message, 'no container can take agent type echo: 3 has under 2 gpus');
    assert.equal(err.details.rejections.find((r) => r.containerId === 'a')?.detail, 'declares 0 gpus, at least 2 required');
  });

  test('resource requirements need that much free beyond what is already used', () => {
    const containers = [
      container('a', { resources: { cpu_cores: 4, memory_mb: 4_096 } }),
      container('b', { resources: { cpu_cores: 4, memory_mb: 4_096, gpus: 1 } }),
      container('c', { resources: { cpu_cores: 16, memory_mb: 65_536, tpu: 4 } }),
    ];
    const used = { a: { cpu_cores: 3.5 }, b: { memory_mb: 3_584 }, c: { tpu: 3 } };
    const need = (resourceRequirements: Record<string, number>): string => placed({ containers, used, request: { resourceRequirements } }).containerId;
    assert.equal(need({ cpu_cores: 1, memory_mb: 1_024 }), 'c', 'a has 0.5 cores free, b 512 MB');
    assert.equal(need({ cpu_cores: 0.5 }), 'a', 'exactly what is left fits');
    assert.equal(need({ tpu: 1 }), 'c', 'any declared resource counts');
    assert.equal(need({ max_agents: 500 }), 'a', 'max_agents is not consumable: an agent takes one slot');
    const err = refused({ containers, used, request: { resourceRequirements: { gpus: 1, memory_mb: 1_024 } } });
    assert.equal(err.message, 'no container can take agent type echo: 2 has under 1 gpus free, 1 has under 1024 memory_mb free');
    const err2 = refused({ containers, used, request: { resourceRequirements: { memory_mb: 1_024, tpu: 2 } } });
    assert.equal(err2.message, 'no container can take agent type echo: 2 has under 2 tpu free, 1 has under 1024 memory_mb free');
    assert.equal(err2.details.rejections.find((r) => r.containerId === 'b')?.detail, '512 of 4096 memory_mb free, 1024 required');
    assert.equal(err2.details.rejections.find((r) => r.containerId === 'c')?.detail, '1 of 4 tpu free, 2 required');
  });

  test('fractional amounts that add up exactly still fit', () => {
    const containers = [container('a', { resources: { cpu_cores: 0.3 } })];
    assert.equal(placed({ containers, used: { a: { cpu_cores: 0.1 } }, request: { resourceRequirements: { cpu_cores: 0.2 } } }).containerId, 'a');
  });

  test('the first failing filter is the one reported, in a fixed order', () => {
    const containers = [container('a', { availability: 'cordoned', agentTypes: [] }), container('b', { agentTypes: [], resources: { max_agents: 1 } })];
    const err = refused({ containers, load: { b: 1 } });
    assert.deepEqual(
      err.details.rejections.map((r) => [r.containerId, r.code]),
      [
        ['a', 'cordoned'],
        ['b', 'type_not_served'],
      ],
    );
  });

  test('nothing fits: one clear message, every container accounted for in details', () => {
    const containers = [
      container('c1', { availability: 'cordoned' }),
      container('c2', { availability: 'cordoned' }),
      container('c3', { agentTypes: ['echo'] }),
      container('c4', { labels: { zone: 'a' } }),
      container('c5', { labels: { zone: 'b' } }),
    ];
    const err = refused({ containers, load: { c4: 100 }, request: { agentType: 'llm', strategy: 'spread', constraints: { labels: ['zone == a'] } } });
    assert.equal(err.name, 'NoPlacementError');
    assert.equal(err.code, 'no_placement');
    assert.equal(err.message, 'no container can take agent type llm: 2 cordoned, 1 does not serve llm, 1 full (100/100 agents), 1 fails label zone == a');
    assert.equal(err.details.candidates, 5);
    assert.equal(err.details.strategy, 'spread');
    assert.equal(err.details.rejections.length, 5);
    assert.equal(err.cause, err.details);
  });

  test('an empty fleet says so', () => {
    assert.equal(refused({ containers: [] }).message, 'no container can take agent type echo: no containers are registered');
  });

  test(`the message lists at most ${MAX_SUMMARY_GROUPS} reasons, then counts the rest`, () => {
    const containers = Array.from({ length: 20 }, (_, i) => container(`c${String(i).padStart(2, '0')}`, { resources: { max_agents: i + 1 } }));
    const load = Object.fromEntries(containers.map((c) => [c.id, c.resources.max_agents ?? 0]));
    const err = refused({ containers, load });
    assert.match(err.message, /: 1 full \(1\/1 agents\), .*, 1 full \(8\/8 agents\), 12 more for other reasons$/);
    assert.equal(err.details.rejections.length, 20);
  });

  test('ids that are prototype members are plain ids', () => {
    const containers = [container('constructor'), container('toString')];
    assert.equal(placed({ containers, load: { toString: 1 } }).containerId, 'constructor');
    assert.equal(placed({ containers, load: {} }).containerId, 'constructor');
    assert.equal(placed({ containers, load: { constructor: 3 } }).containerId, 'toString');
  });

  test('a malformed request throws instead of reporting a full fleet', () => {
    const containers = [container('a')];
    assert.throws(() => place({ containers, load: {}, request: request({ constraints: { labels: ['zone =='] } }) }), LabelConstraintError);
    assert.throws(() => place({ containers, load: {}, request: request({ strategy: 'random' as never }) }), /unknown strategy "random": use one of round_robin, least_loaded/);
    assert.throws(() => place({ containers, load: {}, request: request({ agentType: '' }) }), InvalidPlacementRequestError);
    assert.throws(
      () => place({ containers, load: {}, request: request({ resourceRequirements: { cpu_cores: -1 } }) }),
      (err: unknown) => err instanceof InvalidPlacementRequestError && err.field === 'resourceRequirements.cpu_cores',
    );
    assert.throws(() => place({ containers, load: {}, request: request({ constraints: { minResources: { memory_mb: Number.NaN } } }) }), /minResources.memory_mb must be a non-negative number/);
    assert.throws(() => place({ containers, load: {}, request: request({ constraints: { capabilities: [''] } }) }), /capabilities\[0\] must be a non-empty string/);
  });
});
