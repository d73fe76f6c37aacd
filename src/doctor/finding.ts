/** What `flotilla doctor` reports: one finding per check, each with what to do when it is not ok. */
export type FindingStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Finding {
  /** Stable id of the check (for --json readers). */
  check: string;
  status: FindingStatus;
  /** What was found, in one line. */
  summary: string;
  /** What to do about it (absent when ok). */
  fix?: string;
}

export function ok(check: string, summary: string): Finding {
  return { check, status: 'ok', summary };
}
export function warn(check: string, summary: string, fix: string): Finding {
  return { check, status: 'warn', summary, fix };
}
export function fail(check: string, summary: string, fix: string): Finding {
  return { check, status: 'fail', summary, fix };
}
export function skip(check: string, summary: string): Finding {
  return { check, status: 'skip', summary };
}
