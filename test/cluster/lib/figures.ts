/**
 * The figures of the fault scenarios: per scenario, the time from the fault to its detection
 * (the `container_down` or `leader_elected` event) and to the agents answering again, over the
 * repetitions, with what the checks found (lost, doubled, overlapping, moved). Printed as a table
 * at the end of the run; nothing here asserts a timing target (see faults.test.ts).
 */

export interface Repetition {
  detectionMs: number | null;
  answerMs: number | null;
}

export interface ScenarioFigures {
  scenario: string;
  reps: Repetition[];
  accepted: number;
  /** Accepted requests answered `expired` (their 3 s deadline passed while the agent was between hosts). */
  expired: number;
  lost: number;
  doubled: number;
  overlaps: number;
  /** Agents moved off a host that should have kept them (the latency scenario), or null when moves are expected. */
  unwantedMoves: number | null;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

function cell(values: (number | null)[]): string {
  const known = values.filter((v): v is number => v !== null);
  if (known.length === 0) return '–';
  const missing = values.length - known.length;
  return `${median(known)} / ${Math.max(...known)}${missing > 0 ? ` (${missing} n/a)` : ''}`;
}

export function figuresTable(rows: ScenarioFigures[]): string {
  const header = ['scenario', 'reps', 'detection ms (median / worst)', 'answering again ms (median / worst)', 'accepted', 'expired', 'lost', 'doubled', 'overlaps', 'unwanted moves'];
  const body = rows.map((r) => [
    r.scenario,
    String(r.reps.length),
    cell(r.reps.map((x) => x.detectionMs)),
    cell(r.reps.map((x) => x.answerMs)),
    String(r.accepted),
    String(r.expired),
    String(r.lost),
    String(r.doubled),
    String(r.overlaps),
    r.unwantedMoves === null ? '–' : String(r.unwantedMoves),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
