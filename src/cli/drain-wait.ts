/**
 * `flotilla containers drain` waits until the reconciler has moved every agent off the container,
 * saying how many are left as the number falls and why an agent cannot move when one cannot.
 */
import type { ApiClient } from '../client/api-client.js';
import { WaitTimeoutError } from './errors.js';

export const DRAIN_POLL_MS = 500;
export const DEFAULT_DRAIN_TIMEOUT_S = 300;
/** Agents named in a progress line. */
const NAMED_IN_PROGRESS = 5;

function agents(n: number): string {
  return `${n} agent${n === 1 ? '' : 's'}`;
}

/** Resolves once no agent is left on `containerId`; WaitTimeoutError after `timeoutMs`. */
export async function waitForDrain(client: ApiClient, containerId: string, timeoutMs: number, progress: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let shown: number | undefined;
  const stuck = new Set<string>();
  for (;;) {
    const left = await client.listAgents({ containerId, limit: NAMED_IN_PROGRESS });
    if (left.total === 0) return;
    if (left.total !== shown) {
      const names = left.agents.map((a) => a.agent_id).join(', ');
      const more = left.total > left.agents.length ? `, … ${left.total - left.agents.length} more` : '';
      progress(`draining ${containerId}: ${agents(left.total)} left (${names}${more})`);
      shown = left.total;
    }
    for (const a of left.agents) {
      if (a.placement_error === undefined || stuck.has(a.agent_id)) continue;
      stuck.add(a.agent_id);
      progress(`  ${a.agent_id} cannot move: ${a.placement_error}`);
    }
    if (Date.now() + DRAIN_POLL_MS > deadline) {
      throw new WaitTimeoutError(
        `${containerId} still has ${agents(left.total)} after ${Math.round(timeoutMs / 1_000)} s; it keeps draining (see \`flotilla agents ls --container ${containerId}\`)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
  }
}
