/** The clock-skew finding of `flotilla doctor` (the harness cannot skew one namespace's clock). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLOCK_SKEW_WARN_MS, checkClock } from '../../src/doctor/index.js';

test('clocks within the bound are ok; beyond it a warning that says which way and what to do', () => {
  assert.equal(checkClock('Redis', 10_000, 10_000 + CLOCK_SKEW_WARN_MS).status, 'ok');
  const behind = checkClock('Redis', 20_000, 10_000);
  assert.equal(behind.status, 'warn');
  assert.match(behind.message, /10000 ms behind Redis's/);
  assert.match(behind.fix ?? '', /chrony|timesyncd/);
  assert.match(checkClock('the manager', 10_000, 12_500).message, /2500 ms ahead of the manager's/);
});
