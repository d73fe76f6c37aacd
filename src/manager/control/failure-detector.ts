/**
 * The failure detector: marks `down` every container whose lease lapsed. It reads the store's
 * sorted set of lease deadlines, so its cost grows with the number of failures, not the number of
 * containers. Runs on the leader only.
 *
 * Three ways to be found down, fastest first:
 *  - its Redis connection is gone and it missed renewals (a killed process: ~1.5 intervals);
 *  - it is late with its renewal and does not answer a probe of its /ping (a paused process, a
 *    host cut off: ~1.2 intervals + the probe's timeout). The only HTTP traffic the detector
 *    sends, and only to containers already late;
 *  - its lease lapsed (the default timeout, 3 s): the rule that holds when the others cannot tell.
 * Moving an agent before the old owner's lease lapses is safe because every write carries the
 * owner's epoch (fencing): a paused process that wakes cannot apply anything.
 */
import type { Logger } from '../../common/logger.js';
import { PeriodicTask } from '../../common/loop.js';
import { EXPIRE_BATCH_LIMIT, type ClusterStore, type LateContainer } from '../../store/store.js';
import { probeLiveness, type LivenessProbeOptions } from './liveness-probe.js';

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

/**
 * A container that has not renewed for this many of its own intervals is late: the detector
 * probes it. 1.2 leaves room for a renewal delayed by a slow link (100 ms each way) or a busy
 * event loop, while a paused or cut-off container is probed 1.2 s after its last renewal.
 */
export const PROBE_AFTER_MISSED_INTERVALS = 1.2;
/** At most this many late containers are probed in one round (all at once). */
export const MAX_PROBES_PER_ROUND = 64;
/** A late container that answered is asked again after this long if it is still late. */
export const PROBE_AGAIN_AFTER_MS = 1_000;

export interface ProbeSettings extends LivenessProbeOptions {
  /** Off: only lost connections and lapsed leases count (FLOTILLA_LIVENESS_PROBE=off). */
  enabled: boolean;
}

/** How close to lapsing a lease must be for the fast path to look at it. */
export function disconnectWindowMs(leaseTimeoutMs: number, leaseIntervalMs: number): number {
  return Math.max(0, Math.round(leaseTimeoutMs - SUSPECT_AFTER_MISSED_INTERVALS * leaseIntervalMs));
}

/** The window that bounds the store's scan for late containers (see lateContainers). */
export function lateWindowMs(leaseTimeoutMs: number, leaseIntervalMs: number): number {
  return Math.max(0, Math.round(leaseTimeoutMs - PROBE_AFTER_MISSED_INTERVALS * leaseIntervalMs));
}

export interface FailureDetectorOptions {
  intervalMs: number;
  /** The manager's default lease settings: they bound the store's scans. */
  leaseTimeoutMs: number;
  leaseIntervalMs: number;
  trustAfterMs: number;
  probe: ProbeSettings;
}

/** Remembers which late containers answered, so that one is not asked four times a second. */
class AnsweredRecently {
  private readonly answered = new Map<string, number>();

  private key(c: LateContainer): string {
    return `${c.id}@${c.epoch}@${c.lastRenewalMs}`;
  }

  due(late: LateContainer[], now: number): LateContainer[] {
    const current = new Set(late.map((c) => this.key(c)));
    for (const k of this.answered.keys()) if (!current.has(k)) this.answered.delete(k);
    return late.filter((c) => now - (this.answered.get(this.key(c)) ?? -Infinity) >= PROBE_AGAIN_AFTER_MS);
  }

  note(c: LateContainer, now: number): void {
    this.answered.set(this.key(c), now);
  }
}

async function probeLate(store: ClusterStore, o: FailureDetectorOptions, recently: AnsweredRecently): Promise<LateContainer[]> {
  const late = await store.lateContainers(lateWindowMs(o.leaseTimeoutMs, o.leaseIntervalMs), PROBE_AFTER_MISSED_INTERVALS, MAX_PROBES_PER_ROUND);
  const due = recently.due(late, Date.now());
  const answers = await Promise.all(due.map((c) => probeLiveness(c.hostAddress, c.apiPort, o.probe)));
  const silent: LateContainer[] = [];
  due.forEach((c, i) => (answers[i] === 'silent' ? silent.push(c) : recently.note(c, Date.now())));
  return silent;
}

export function startFailureDetector(
  store: ClusterStore,
  o: FailureDetectorOptions,
  log: Logger,
  stillLeader: () => boolean,
  onDown?: (ids: string[]) => void,
): PeriodicTask {
  const windowMs = disconnectWindowMs(o.leaseTimeoutMs, o.leaseIntervalMs);
  const recently = new AnsweredRecently();
  return new PeriodicTask(
    'failure-detector',
    o.intervalMs,
    async () => {
      if (!stillLeader()) return;
      // The probes run while the store is asked about connections and leases, so a slow probe
      // does not hold back the other two. Both are awaited whatever happens (allSettled): a
      // step never leaves work running behind it, nor a rejection nobody handles.
      const [byStore, byProbe] = await Promise.allSettled([
        (async () => {
          const disconnected = await store.expireDisconnected(windowMs, o.trustAfterMs, EXPIRE_BATCH_LIMIT);
          if (disconnected.length > 0) log.warn({ containers: disconnected }, `missed renewals and connection gone: marked ${disconnected.length} container(s) down`);
          const lapsed = await store.expireLeases(EXPIRE_BATCH_LIMIT);
          if (lapsed.length > 0) log.warn({ containers: lapsed }, `lease lapsed: marked ${lapsed.length} container(s) down`);
          return [...disconnected, ...lapsed];
        })(),
        (async () => {
          if (!o.probe.enabled) return [];
          const unreachable = await store.markUnreachable(await probeLate(store, o, recently));
          if (unreachable.length > 0) log.warn({ containers: unreachable }, `late with renewals and silent to a probe of /ping: marked ${unreachable.length} container(s) down`);
          return unreachable;
        })(),
      ]);
      const down = [byStore, byProbe].flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
      if (down.length > 0) onDown?.(down);
      const failed = [byStore, byProbe].find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
    log,
  ).start();
}
