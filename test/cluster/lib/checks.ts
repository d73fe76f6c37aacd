/**
 * What every fault scenario asserts, from what the client saw (accepted ids, answers) and what
 * Redis holds (each counter's count and fence history):
 * - no accepted message lost and none applied twice: count == accepted − expired (a request whose
 *   deadline passed before its turn is answered `expired` and has no effect, by design; messages
 *   whose fate the client could not learn, `uncertain`, may each count once or not at all);
 * - answers in order;
 * - never active on two hosts at once: the fence segments of each agent, in commit order, do not
 *   overlap in time, and the count runs on without a gap or a step back from one to the next. (A
 *   fence may come back: a live migration away and back keeps the container's epoch.)
 */
import type { LoadReport, Segment } from '../driver/protocol.js';

/** One agent's expected effects in one scenario. */
export interface Tally {
  /** The agent's count when the scenario began. */
  baseline: number;
  /** Messages accepted for this agent during the scenario. */
  accepted: number;
  /** Of those, requests answered `expired`: their deadline passed before their turn, so no effect. */
  expired: number;
  uncertain: number;
  /** Effects expected besides the load (hops of a ring). */
  extra: number;
}

export interface CheckResult {
  lost: number;
  doubled: number;
  overlaps: string[];
  outOfOrder: string[];
}

export function overlapsIn(agent: string, segments: Segment[]): string[] {
  const problems: string[] = [];
  let previous: Segment | undefined;
  for (const seg of segments) {
    const key = `${seg.container}#${seg.epoch}`;
    if (previous !== undefined) {
      if (seg.from < previous.to) problems.push(`${agent}: ${key} started at ${seg.from} before ${previous.container}#${previous.epoch} ended at ${previous.to}`);
      if (seg.first !== previous.last + 1) problems.push(`${agent}: count jumped from ${previous.last} to ${seg.first} between fences`);
    }
    previous = seg;
  }
  return problems;
}

export function outOfOrderIn(agent: string, report: LoadReport): string[] {
  const problems: string[] = [];
  for (let i = 1; i < report.answers.length; i++) {
    const [, before] = report.answers[i - 1]!;
    const [, now] = report.answers[i]!;
    if (now <= before) problems.push(`${agent}: answer ${now} after ${before}`);
  }
  return problems;
}

/** Compares a scenario's expected effects with the agent's count at its end. */
export function compare(tally: Tally, count: number): { lost: number; doubled: number } {
  const low = tally.baseline + tally.accepted - tally.expired + tally.extra;
  const high = low + tally.uncertain;
  return { lost: Math.max(0, low - count), doubled: Math.max(0, count - high) };
}
