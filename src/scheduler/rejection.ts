/** Why a container was turned down, and the one-line summary a person reads when nothing fits. */

/** In the order the filters run; summaries list groups in this order too. */
export const REJECTION_CODES = [
  'excluded',
  'down',
  'cordoned',
  'draining',
  'type_not_served',
  'full',
  'label',
  'capability',
  'min_resources',
  'insufficient_resources',
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

export interface Rejection {
  containerId: string;
  code: RejectionCode;
  /** Short and shared by containers turned down for the same reason: `fails label zone == a`. */
  summary: string;
  /** This container's own figures: `512 of 1024 memory_mb free`. */
  detail: string;
}

/** Beyond this many distinct reasons the message says "and N more" (5,000 containers must not make a 5,000-part message). */
export const MAX_SUMMARY_GROUPS = 8;

/** `2 cordoned, 1 does not serve llm, 1 full (100/100 agents)`. */
export function summarizeRejections(rejections: readonly Rejection[]): string {
  const groups = new Map<string, { code: RejectionCode; count: number }>();
  for (const r of rejections) {
    const g = groups.get(r.summary);
    if (g) g.count += 1;
    else groups.set(r.summary, { code: r.code, count: 1 });
  }
  const ordered = [...groups.entries()].sort(
    ([, a], [, b]) => REJECTION_CODES.indexOf(a.code) - REJECTION_CODES.indexOf(b.code) || b.count - a.count,
  );
  const shown = ordered.slice(0, MAX_SUMMARY_GROUPS).map(([summary, g]) => `${g.count} ${summary}`);
  const rest = ordered.slice(MAX_SUMMARY_GROUPS).reduce((n, [, g]) => n + g.count, 0);
  if (rest > 0) shown.push(`${rest} more for other reasons`);
  return shown.join(', ');
}
