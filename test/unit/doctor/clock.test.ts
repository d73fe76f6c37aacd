import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLOCK_SKEW_WARN_MS, clockSkew, skewTooLarge } from '../../../src/doctor/index.js';

test('clock skew is measured against the midpoint of the exchange, with half the round trip as its uncertainty', () => {
  assert.deepEqual(clockSkew(10_000, 9_000, 9_100), { skewMs: 950, uncertaintyMs: 50 });
  assert.deepEqual(clockSkew(9_050, 9_000, 9_100), { skewMs: 0, uncertaintyMs: 50 });
  assert.deepEqual(clockSkew(8_000, 9_000, 9_000), { skewMs: -1_000, uncertaintyMs: 0 });
});

test('a skew is reported only when it exceeds the limit by more than its uncertainty', () => {
  assert.equal(skewTooLarge(CLOCK_SKEW_WARN_MS + 1, 0), true);
  assert.equal(skewTooLarge(-(CLOCK_SKEW_WARN_MS + 1), 0), true);
  assert.equal(skewTooLarge(CLOCK_SKEW_WARN_MS, 0), false);
  assert.equal(skewTooLarge(CLOCK_SKEW_WARN_MS + 100, 200), false, 'a slow exchange cannot prove a skew');
});
