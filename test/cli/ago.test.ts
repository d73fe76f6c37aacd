import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAgo } from '../../src/cli/ago.js';

const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const ago = (ms: number): string => formatAgo(new Date(NOW - ms).toISOString(), NOW);

test('seconds keep one decimal and round down', () => {
  assert.equal(ago(0), '0.0s ago');
  assert.equal(ago(1_250), '1.2s ago');
  assert.equal(ago(59_999), '59.9s ago');
});

test('longer spans use two units', () => {
  assert.equal(ago(60_000), '1m 0s ago');
  assert.equal(ago(4 * 60_000 + 12_900), '4m 12s ago');
  assert.equal(ago(3 * 3_600_000 + 5 * 60_000), '3h 5m ago');
  assert.equal(ago(2 * 86_400_000 + 4 * 3_600_000 + 59_000), '2d 4h ago');
});

test('a timestamp slightly ahead of our clock is now; far ahead says so', () => {
  assert.equal(ago(-400), '0.0s ago');
  assert.equal(ago(-5_000), 'in 5.0s');
});

test('an unreadable timestamp is unknown, not NaN', () => {
  assert.equal(formatAgo('not a date', NOW), 'unknown');
});
