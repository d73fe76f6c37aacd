/**
 * `echo`: replies with what it got and how many messages it has handled. The count lives in the
 * agent's state, so it doubles as an exactly-once probe: after any failover, the count must equal
 * the number of messages that were accepted.
 */
import { defineAgent } from '../sdk/index.js';

export interface EchoState {
  count: number;
}

export interface EchoResult {
  echo: unknown;
  count: number;
}

/** The saved count, or 0 for a fresh (or foreign-shaped) state. */
function countOf(state: unknown): number {
  const count = (state as Partial<EchoState> | null | undefined)?.count;
  return typeof count === 'number' && Number.isSafeInteger(count) ? count : 0;
}

export const echoAgent = defineAgent<EchoState, Record<string, unknown>, unknown, EchoResult>({
  type: 'echo',
  description: 'Replies with the message it got and the number of messages it has handled (tests, demos).',
  init: () => ({ count: 0 }),
  onMessage(message, ctx) {
    const count = countOf(ctx.state) + 1;
    ctx.state = { count };
    return { echo: message, count };
  },
});
