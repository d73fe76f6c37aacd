/**
 * "1.2s ago" for timestamps in the CLI's tables. Seconds keep a decimal because a lease is a few
 * seconds long: 0.4s and 2.9s since the last heartbeat mean different things.
 */
const SECOND_MS = 1_000;
const MINUTE_S = 60;
const HOUR_S = 60 * MINUTE_S;
const DAY_S = 24 * HOUR_S;

/** Below this, a timestamp ahead of our clock is just jitter; above it, say so (clock skew). */
const FUTURE_TOLERANCE_MS = SECOND_MS;

/** Two units at most: `1.2s`, `4m 12s`, `3h 5m`, `2d 4h`. Rounds down, as elapsed time should. */
function formatElapsed(ms: number): string {
  const tenths = Math.floor(ms / 100);
  if (tenths < MINUTE_S * 10) return `${(tenths / 10).toFixed(1)}s`;
  const s = Math.floor(ms / SECOND_MS);
  if (s < HOUR_S) return `${Math.floor(s / MINUTE_S)}m ${s % MINUTE_S}s`;
  if (s < DAY_S) return `${Math.floor(s / HOUR_S)}h ${Math.floor((s % HOUR_S) / MINUTE_S)}m`;
  return `${Math.floor(s / DAY_S)}d ${Math.floor((s % DAY_S) / HOUR_S)}h`;
}

/**
 * How long before `nowMs` the ISO timestamp `iso` was. Timestamps come from the cluster's clock,
 * not this machine's, so one slightly in the future is shown as `0.0s ago`, and one far in the
 * future as `in 5.0s` rather than a negative number.
 */
export function formatAgo(iso: string, nowMs: number): string {
  const atMs = Date.parse(iso);
  if (Number.isNaN(atMs)) return 'unknown';
  const elapsedMs = nowMs - atMs;
  if (elapsedMs >= 0) return `${formatElapsed(elapsedMs)} ago`;
  if (-elapsedMs < FUTURE_TOLERANCE_MS) return `${formatElapsed(0)} ago`;
  return `in ${formatElapsed(-elapsedMs)}`;
}
