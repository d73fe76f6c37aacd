/**
 * Leader election through a lease in the store. Every manager runs this loop; the one holding the
 * lease runs the control loops. `isLeader` turns false as soon as the lease may have lapsed (no
 * successful renewal for a whole lease), even while a renewal is still hanging, and leader-only
 * loops check it before every step; the loop then steps down properly at its next step.
 * A leader that died is replaced within one step of a standby (a third of the lease), not the
 * whole lease: the store tells when the connection it renewed on is gone (endDeadLeadership).
 */
import type { Logger } from '../../common/logger.js';
import { PeriodicTask } from '../../common/loop.js';
import type { ClusterStore, ManagerInfo } from '../../store/store.js';

/** Renew this many times per lease: a leader survives two missed renewals. */
export const LEADER_RENEWALS_PER_LEASE = 3;

export type LeadershipState = 'follower' | 'leader';

export interface LeaderCallbacks {
  /** Start the leader-only loops. */
  onElected(term: number): void;
  /** Stop them; awaited before the next step. */
  onDeposed(reason: string): Promise<void>;
}

export class LeaderElector {
  private task: PeriodicTask | null = null;
  private state: LeadershipState = 'follower';
  private term = 0;
  private lastRenewedAt = 0;

  constructor(
    private readonly store: ClusterStore,
    private readonly info: ManagerInfo,
    private readonly leaseMs: number,
    private readonly callbacks: LeaderCallbacks,
    private readonly log: Logger,
  ) {}

  /**
   * True only while the lease we last renewed is certainly still ours: a step stuck on a slow
   * store must not let this manager act on a lease that may have passed to another.
   */
  get isLeader(): boolean {
    return this.state === 'leader' && Date.now() - this.lastRenewedAt < this.leaseMs;
  }

  get currentTerm(): number {
    return this.term;
  }

  start(): void {
    this.task = new PeriodicTask('leader-election', Math.floor(this.leaseMs / LEADER_RENEWALS_PER_LEASE), () => this.step(), this.log).start();
  }

  async stop(): Promise<void> {
    await this.task?.stop();
    this.task = null;
    if (this.state === 'leader') await this.stepDown('shutting down');
    try {
      await this.store.releaseLeadership(this.info.id);
      await this.store.removeManager(this.info.id);
    } catch (err) {
      this.log.warn({ err }, 'could not release leadership on shutdown; it lapses on its own');
    }
  }

  private async step(): Promise<void> {
    const startedAt = Date.now();
    try {
      await this.store.heartbeatManager(this.info, this.leaseMs);
      let result = await this.store.acquireLeadership(this.info.id, this.leaseMs);
      // A standby takes over at once from a leader whose process died (its Redis connection is
      // gone) instead of waiting out the rest of its lease. Sessions are trusted once Redis has
      // been up a whole lease: by then a live leader has renewed on its new connection.
      if (!result.isLeader && result.leaderId !== null && result.leaderId !== this.info.id && (await this.store.endDeadLeadership(result.leaderId, this.leaseMs))) {
        this.log.warn({ leader: result.leaderId }, `leader ${result.leaderId} lost its Redis connection (its process died): taking over without waiting for its lease`);
        result = await this.store.acquireLeadership(this.info.id, this.leaseMs);
      }
      if (result.isLeader) {
        this.lastRenewedAt = startedAt;
        if (this.state !== 'leader' || result.term !== this.term) {
          this.state = 'leader';
          this.term = result.term;
          this.log.info({ term: result.term }, 'elected leader; running the control loops');
          this.callbacks.onElected(result.term);
        }
      } else if (this.state === 'leader') {
        await this.stepDown(`lease now held by ${result.leaderId ?? 'nobody'}`);
      }
    } catch (err) {
      // Measured from the start of the last successful renewal: the store's lease may be older.
      if (this.state === 'leader' && Date.now() - this.lastRenewedAt >= this.leaseMs) {
        await this.stepDown(`could not renew the leader lease: ${(err as Error).message}`);
      } else {
        throw err;
      }
    }
  }

  private async stepDown(reason: string): Promise<void> {
    this.state = 'follower';
    this.log.warn({ reason }, 'no longer leader; stopping the control loops');
    await this.callbacks.onDeposed(reason);
  }
}
