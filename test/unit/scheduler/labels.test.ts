import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLabelConstraint, LabelConstraintError, matchesLabel, parseLabelConstraint, InvalidPlacementRequestError } from '../../../src/scheduler/index.js';

describe('parseLabelConstraint', () => {
  test('accepts ==, !=, = and bare / negated keys, with or without spaces', () => {
    assert.deepEqual(parseLabelConstraint('node.role == worker'), { op: '==', key: 'node.role', value: 'worker' });
    assert.deepEqual(parseLabelConstraint('zone!=b'), { op: '!=', key: 'zone', value: 'b' });
    assert.deepEqual(parseLabelConstraint('  zone = a '), { op: '==', key: 'zone', value: 'a' });
    assert.deepEqual(parseLabelConstraint('gpu'), { op: 'exists', key: 'gpu' });
    assert.deepEqual(parseLabelConstraint('!gpu'), { op: 'absent', key: 'gpu' });
    assert.deepEqual(parseLabelConstraint('! gpu'), { op: 'absent', key: 'gpu' });
    assert.deepEqual(parseLabelConstraint('kubernetes.io/zone == eu-west-1a'), { op: '==', key: 'kubernetes.io/zone', value: 'eu-west-1a' });
  });

  test('quoted values may hold spaces and operators, or be empty', () => {
    assert.deepEqual(parseLabelConstraint('region == "us east"'), { op: '==', key: 'region', value: 'us east' });
    assert.deepEqual(parseLabelConstraint("expr != 'a==b'"), { op: '!=', key: 'expr', value: 'a==b' });
    assert.deepEqual(parseLabelConstraint('tier == ""'), { op: '==', key: 'tier', value: '' });
  });

  const malformed: Array<[string, RegExp]> = [
    ['', /is empty/],
    ['   ', /is empty/],
    ['zone ==', /no value after "=="/],
    ['== a', /no label key before "=="/],
    ['zone === a', /unknown operator "==="/],
    ['zone =! a', /unknown operator "=!"/],
    ['zone ! a', /unknown operator "!"/],
    ['!zone == a', /negates a bare key only.*key != value/],
    ['!', /names no label/],
    ['node role', /contains a space/],
    ['zone == a == b', /put it in quotes/],
    ['zone == us east', /put it in quotes/],
    ['zone == "a', /no closing "/],
    ['zone == "a"b"', /inside its quotes/],
  ];
  for (const [expression, problem] of malformed) {
    test(`rejects ${JSON.stringify(expression)} with a clear error`, () => {
      assert.throws(
        () => parseLabelConstraint(expression, 'constraints.labels[0]'),
        (err: unknown) => {
          assert.ok(err instanceof LabelConstraintError);
          assert.ok(err instanceof InvalidPlacementRequestError, 'a request error: the API answers 400');
          assert.match(err.message, /^label constraint ".*" is malformed: /);
          assert.match(err.message, problem);
          assert.equal(err.expression, expression);
          assert.equal(err.field, 'constraints.labels[0]');
          return true;
        },
      );
    });
  }

  test('formats back to the canonical text', () => {
    for (const [input, canonical] of [
      ['zone=a', 'zone == a'],
      ['zone!=b', 'zone != b'],
      ['gpu', 'gpu'],
      ['! gpu', '!gpu'],
      ['region=="us east"', 'region == "us east"'],
      ['tier == ""', 'tier == ""'],
    ] as const) {
      assert.equal(formatLabelConstraint(parseLabelConstraint(input)), canonical);
    }
  });
});

describe('matchesLabel', () => {
  const labels = { zone: 'a', 'node.role': 'worker', gpu: '' };
  const m = (e: string, l: Record<string, string> = labels): boolean => matchesLabel(l, parseLabelConstraint(e));

  test('== and != compare values; != also holds where the label is missing (as in Swarm)', () => {
    assert.equal(m('zone == a'), true);
    assert.equal(m('zone == b'), false);
    assert.equal(m('node.role == worker'), true);
    assert.equal(m('zone != b'), true);
    assert.equal(m('zone != a'), false);
    assert.equal(m('rack != r1'), true, 'no rack label: not in r1');
    assert.equal(m('rack == r1'), false);
  });

  test('a bare key needs the label (even an empty one); !key needs it absent', () => {
    assert.equal(m('gpu'), true);
    assert.equal(m('!gpu'), false);
    assert.equal(m('tpu'), false);
    assert.equal(m('!tpu'), true);
  });

  test('looks through the Swarm prefix node.labels. when no label has the full key', () => {
    assert.equal(m('node.labels.zone == a'), true);
    assert.equal(m('node.labels.zone != a'), false);
    assert.equal(m('node.labels.zone', { 'node.labels.zone': 'x' }), true);
    assert.equal(m('node.labels.zone == x', { 'node.labels.zone': 'x', zone: 'a' }), true, 'the full key wins');
  });

  test('prototype members are not labels', () => {
    assert.equal(m('constructor', {}), false);
    assert.equal(m('!toString', {}), true);
    assert.equal(m('__proto__ != x', {}), true);
  });
});
