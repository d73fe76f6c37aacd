/**
 * The failure detector: marks `down` every container whose lease lapsed. It reads only the
 * store's sorted set of lease deadlines (no HTTP traffic to containers), so its cost grows with
 * the number of failures, not the number of containers. Runs on the leader only.
 */
import type { Logger } from '../../common/logger.js';
import { PeriodicTask } from '../../common/loop.js';
import { EXPIRE_BATCH_LIMIT, type ClusterStore } from '../../store/store.js';

/**
 * A container that has missed this many renewal intervals AND whose Redis connection is gone is
 * down without waiting for its whole lease: a killed process's sockets close at once, so this
 * catches crashes in about 1.5 intervals, while a slow but connected container keeps its lease.
 */
export const SUSPECT_AFTER_MISSED_INTERVALS = 1.5;

/**
 * Sessions are trusted once the store has been up this many renewal intervals: by then every live
 * container has renewed on its new connection (containers with a longer interval than the
 * manager's default may be judged early after a Redis restart; their lease still protects them
 * from being moved twice, and fencing from harm).
 */
export const SESSION_TRUST_AFTER_INTERVALS = 3;

/** How close to lapsing a lease must be for the fast path to look at it. */
export function disconnectWindowMs(leaseTimeoutMs: number, leaseIntervalMs: number): number {
  return Math.max(0, Math.round(leaseTimeoutMs - SUSPECT_AFTER_MISSED_INTERVALS * leaseIntervalMs));
}

export function startFailureDetector(
  store: ClusterStore,
  intervalMs: number,
  windowMs: number,
  trustAfterMs: number,
  log: Logger,
  stillLeader: () => boolean,
  onDown?: (ids: string[]) => void,
): PeriodicTask {
  return new PeriodicTask(
    'failure-detector',
    intervalMs,
    async () => {
      if (!stillLeader()) return;
      const disconnected = await store.expireDisconnected(windowMs, trustAfterMs, EXPIRE_BATCH_LIMIT);
      if (disconnected.length > 0) log.warn({ containers: disconnected }, `missed renewals and connection gone: marked ${disconnected.length} container(s) down`);
      const lapsed = await store.expireLeases(EXPIRE_BATCH_LIMIT);
      if (lapsed.length > 0) log.warn({ containers: lapsed }, `lease lapsed: marked ${lapsed.length} container(s) down`);
      const down = [...disconnected, ...lapsed];
      if (down.length > 0) onDown?.(down);
    },
    log,
  ).start();
}
