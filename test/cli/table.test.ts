import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatKeyValues, formatTable } from '../../src/cli/table.js';

test('columns are as wide as their widest cell, two spaces apart', () => {
  const out = formatTable([{ header: 'ID' }, { header: 'HOST' }], [
    ['a', '127.0.0.1'],
    ['longer-id', 'h'],
  ]);
  assert.equal(out, ['ID         HOST', 'a          127.0.0.1', 'longer-id  h'].join('\n'));
});

test('right-aligned columns pad on the left, header included', () => {
  const out = formatTable([{ header: 'PORT', align: 'right' }, { header: 'X' }], [['8001', 'a'], ['1', 'b']]);
  assert.equal(out, ['PORT  X', '8001  a', '   1  b'].join('\n'));
});

test('no trailing spaces, and a missing cell is empty', () => {
  const out = formatTable([{ header: 'A' }, { header: 'LONG HEADER' }], [['x']]);
  assert.equal(out, ['A  LONG HEADER', 'x'].join('\n'));
});

test('a table with no rows is its header', () => {
  assert.equal(formatTable([{ header: 'ID' }, { header: 'STATE' }], []), 'ID  STATE');
});

test('control characters from remote data cannot break rows or reach the terminal', () => {
  const out = formatTable([{ header: 'V' }], [['a\nb\u001b[2Jc\u0085']]);
  assert.equal(out, ['V', 'a?b?[2Jc?'].join('\n'));
  assert.equal(formatKeyValues([['K', 'x\ty']]), 'K:  x?y');
});

test('widths count code points, not UTF-16 units', () => {
  // U+1D465 is one narrow character but two UTF-16 units.
  const out = formatTable([{ header: 'N' }, { header: 'X' }], [['\u{1D465}', 'a'], ['ab', 'b']]);
  assert.equal(out, ['N   X', '\u{1D465}   a', 'ab  b'].join('\n'));
});

test('key/value blocks line up their values', () => {
  assert.equal(
    formatKeyValues([
      ['ID', 'c1'],
      ['Last heartbeat', '1.2s ago'],
    ]),
    ['ID:              c1', 'Last heartbeat:  1.2s ago'].join('\n'),
  );
});
