import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STRATEGIES } from '../../../src/scheduler/index.js';
import { container, placed, refused } from './fixtures.js';

describe('preferred container', () => {
  const containers = [
    container('a'),
    container('b', { labels: { zone: 'b' } }),
    container('c', { availability: 'cordoned' }),
    container('d', { resources: { max_agents: 1 } }),
  ];
  const load = { a: 0, b: 50, d: 1 };

  test('wins over every strategy when it passes the filters', () => {
    for (const strategy of STRATEGIES) {
      const r = placed({ containers, load, request: { strategy, preferredContainer: 'b' } });
      assert.equal(r.containerId, 'b', strategy);
      assert.equal(r.reason, 'preferred container');
    }
  });

  test('by default, a preferred container that cannot take the agent is an error naming why', () => {
    const cordoned = refused({ containers, load, request: { preferredContainer: 'c' } });
    assert.equal(cordoned.message, 'preferred container "c" cannot take agent type echo: cordoned: it takes no new agents');
    assert.equal(cordoned.details.preferredContainer, 'c');
    assert.deepEqual(cordoned.details.rejections.map((r) => r.code), ['cordoned']);

    const full = refused({ containers, load, request: { preferredContainer: 'd' } });
    assert.equal(full.message, 'preferred container "d" cannot take agent type echo: full (1/1 agents)');

    const label = refused({ containers, load, request: { preferredContainer: 'b', constraints: { labels: ['zone == a'] } } });
    assert.equal(label.message, 'preferred container "b" cannot take agent type echo: fails label zone == a (zone is "b")');

    const unknown = refused({ containers, load, request: { preferredContainer: 'zz' } });
    assert.equal(unknown.message, 'preferred container "zz" cannot take agent type echo: is not a registered container');
    assert.deepEqual(unknown.details.rejections, []);
  });

  test('with strictPreference false, it falls back to the strategy and says what it skipped', () => {
    const r = placed({ containers, load, request: { preferredContainer: 'c', strictPreference: false } });
    assert.equal(r.containerId, 'a');
    assert.equal(r.reason, 'preferred container "c" skipped (cordoned: it takes no new agents); least loaded: 0/100 agents');
    assert.match(placed({ containers, load, request: { preferredContainer: 'zz', strictPreference: false } }).reason, /^preferred container "zz" skipped \(is not a registered container\); /);
    const none = refused({ containers: [container('c', { availability: 'cordoned' })], request: { preferredContainer: 'c', strictPreference: false } });
    assert.equal(none.message, 'no container can take agent type echo: 1 cordoned');
  });

  test('under round_robin, a preferred placement does not take a turn', () => {
    const r = placed({ containers, load, request: { strategy: 'round_robin', preferredContainer: 'b' }, cursor: 'a' });
    assert.equal(r.cursor, 'a');
  });
});
