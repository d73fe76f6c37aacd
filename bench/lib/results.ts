/**
 * How every benchmark ends: its figures written as JSON next to the table it prints, and an exit
 * code that tells a pass (0) from a missed target (1), a failed run (2) and an interrupted one (130).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import type { Teardown } from './teardown.js';

export interface Report {
  text: string;
  passed: boolean;
  verdicts?: unknown;
}

/** Writes `results` (with the report's verdicts and pass) to `file`, prints the table; 0 or 1. */
export function publishResults(file: string, results: object, report: Report): number {
  mkdirSync(dirname(file), { recursive: true });
  const verdicts = report.verdicts === undefined ? {} : { verdicts: report.verdicts };
  writeFileSync(file, `${JSON.stringify({ ...results, ...verdicts, passed: report.passed }, null, 2)}\n`);
  console.log(`\n${report.text}\n\nfigures written to ${file}`);
  return report.passed ? 0 : 1;
}

/** A run that threw: 130 when a signal interrupted it, else 2, with the error and `context` printed. */
export function failureExitCode(err: unknown, teardown: Teardown, context?: () => string): number {
  if (teardown.interrupted !== undefined) {
    console.error(`benchmark interrupted by ${teardown.interrupted}: no figures`);
    return 130;
  }
  console.error(`\nbenchmark failed: ${inspect(err, { depth: 3 })}`);
  const more = context?.();
  if (more) console.error(more);
  return 2;
}
