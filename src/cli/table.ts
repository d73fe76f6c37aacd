/**
 * Plain-text tables and key/value blocks for the CLI's human output: no colours, no
 * dependencies, output that stays readable when piped to `grep` or `less`.
 */
export type Align = 'left' | 'right';

export interface Column {
  header: string;
  /** Numbers read best right-aligned; everything else left. */
  align?: Align;
}

/** Space between columns. */
export const COLUMN_GAP = '  ';

/**
 * Cell text comes from remote containers (names, metadata, event details): a newline would break
 * the alignment and an escape sequence could rewrite the operator's terminal, so control
 * characters are shown as `?`.
 */
const CONTROL_CHARS = /\p{Cc}/gu;

function clean(text: string): string {
  return text.replace(CONTROL_CHARS, '?');
}

/** Width in code points, not UTF-16 units (wide CJK characters and emoji still count as one). */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, to: number, align: Align): string {
  const fill = ' '.repeat(Math.max(0, to - width(text)));
  return align === 'right' ? fill + text : text + fill;
}

/**
 * One row of columns with set widths (wider cells are not cut), for output printed a row at a
 * time, such as a followed stream; the last column takes the rest of the line.
 */
export function formatFixedRow(columns: readonly (Column & { width: number })[], row: readonly string[]): string {
  return columns
    .map((c, i) => {
      const cell = clean(row[i] ?? '');
      return i === columns.length - 1 ? cell : pad(cell, c.width, c.align ?? 'left');
    })
    .join(COLUMN_GAP);
}

/** A header row and the rows below it, each column as wide as its widest cell. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const cells = [columns.map((c) => c.header), ...rows.map((row) => columns.map((_, i) => clean(row[i] ?? '')))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => width(row[i] ?? ''))));
  return cells
    .map((row) =>
      row
        .map((cell, i) => pad(cell, widths[i] ?? 0, columns[i]?.align ?? 'left'))
        .join(COLUMN_GAP)
        .trimEnd(),
    )
    .join('\n');
}

/** `Key:  value` lines with the values lined up, for one object's details. */
export function formatKeyValues(pairs: readonly (readonly [string, string])[]): string {
  const keyWidth = Math.max(0, ...pairs.map(([key]) => width(key) + 1));
  return pairs.map(([key, value]) => `${pad(`${key}:`, keyWidth, 'left')}${COLUMN_GAP}${clean(value)}`.trimEnd()).join('\n');
}
