/** What `flotilla doctor` reports: one finding per check, each failure with what to do. */
export type FindingStatus = 'ok' | 'warn' | 'fail' | 'skipped';

export interface Finding {
  check: string;
  status: FindingStatus;
  message: string;
  /** What to do about it (warn and fail only). */
  fix?: string;
}
