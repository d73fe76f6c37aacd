/**
 * Joining the cluster: POST the registration to the manager, retrying with backoff while the
 * manager is unreachable or failing (5xx), with one clear log line per attempt. A 4xx is a
 * configuration mistake that retrying cannot fix: it is thrown as JoinRefusedError.
 */
import { backoffDelay, sleep } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import { ApiError, type ApiClient } from '../client/api-client.js';
import type { RegisterBody, RegisterResponse } from '../protocol/api.js';

export class JoinRefusedError extends Error {
  override readonly name = 'JoinRefusedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Resolves with the registration, or null when `signal` aborted first. */
export async function joinCluster(client: ApiClient, body: RegisterBody, log: Logger, signal: AbortSignal): Promise<RegisterResponse | null> {
  for (let attempt = 0; !signal.aborted; attempt += 1) {
    try {
      const res = await client.register(body);
      log.info({ containerId: res.container_id, epoch: res.epoch, manager: client.baseUrl }, `joined the cluster as ${res.container_id} (epoch ${res.epoch})`);
      return res;
    } catch (err) {
      if (err instanceof ApiError && err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 429) {
        throw new JoinRefusedError(`the manager at ${client.baseUrl} refused the registration: ${err.body?.message ?? err.message}`, { cause: err });
      }
      const delay = backoffDelay(attempt);
      log.warn(
        { attempt: attempt + 1, retryInMs: delay, manager: client.baseUrl },
        `cannot register with the manager (${(err as Error).message}); retrying in ${(delay / 1_000).toFixed(1)} s`,
      );
      await sleep(delay, signal);
    }
  }
  return null;
}
