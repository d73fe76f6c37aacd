/**
 * The failure detector: marks `down` every container whose lease lapsed. It reads only the
 * store's sorted set of lease deadlines (no HTTP traffic to containers), so its cost grows with
 * the number of failures, not the number of containers. Runs on the leader only.
 */
import type { Logger } from '../../common/logger.js';
import { PeriodicTask } from '../../common/loop.js';
import { EXPIRE_BATCH_LIMIT, type ClusterStore } from '../../store/store.js';

export function startFailureDetector(
  store: ClusterStore,
  intervalMs: number,
  log: Logger,
  stillLeader: () => boolean,
  onDown?: (ids: string[]) => void,
): PeriodicTask {
  return new PeriodicTask(
    'failure-detector',
    intervalMs,
    async () => {
      if (!stillLeader()) return;
      const down = await store.expireLeases(EXPIRE_BATCH_LIMIT);
      if (down.length === 0) return;
      log.warn({ containers: down }, `lease lapsed: marked ${down.length} container(s) down`);
      onDown?.(down);
    },
    log,
  ).start();
}
