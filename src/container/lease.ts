/**
 * Keeping this container's lease alive. Renewals go straight to Redis when the container can
 * reach it (the manager then needs no heartbeat traffic), else over HTTP through the manager.
 *
 * Self-fencing: when no renewal has succeeded for a whole lease timeout, the manager may already
 * have declared this container down and moved its work, so the container stops taking work
 * (`onSuspended`) until it knows better. A renewal refused for `down`/`stale_epoch`/`unknown` means
 * this incarnation is over: `onLost` re-registers for a new epoch.
 */
import type { Logger } from '../common/logger.js';
import { PeriodicTask } from '../common/loop.js';
import type { ApiClient} from '../client/api-client.js';
import { ApiError } from '../client/api-client.js';
import type { ClusterStore, RenewFailure, RenewResult } from '../store/store.js';

export type LeaseState = 'held' | 'suspended' | 'lost';

export interface LeaseRenewer {
  /** Where renewals go: the store's kind (`redis`, or `memory` in dev) or `http` via the manager. */
  readonly via: 'redis' | 'memory' | 'http';
  renew(id: string, epoch: number, timeoutMs: number): Promise<RenewResult>;
}

export function storeRenewer(store: ClusterStore): LeaseRenewer {
  return { via: store.kind, renew: (id, epoch, timeoutMs) => store.renewLease(id, epoch, timeoutMs) };
}

const HTTP_REFUSALS: Record<string, RenewFailure> = { container_down: 'down', stale_epoch: 'stale_epoch', not_registered: 'unknown', not_found: 'unknown' };

export interface HttpRenewerHooks {
  /** The manager handed a renewed container token with the heartbeat. */
  onToken?: (token: string | undefined, expiresAt: string | undefined) => void;
  /** The manager refused our token (expired, its key retired): drop it, and register again. */
  onUnauthorized?: () => void;
}

export function httpRenewer(client: ApiClient, hooks: HttpRenewerHooks = {}): LeaseRenewer {
  return {
    via: 'http',
    async renew(id, epoch) {
      try {
        const res = await client.heartbeat(id, epoch);
        hooks.onToken?.(res.token, res.token_expires_at);
        return { ok: true, deadlineMs: Date.parse(res.lease_expires_at) };
      } catch (err) {
        if (err instanceof ApiError && err.statusCode === 401) {
          // Renewing can never succeed with this token; a new registration (join token) can.
          hooks.onUnauthorized?.();
          return { ok: false, reason: 'unknown' };
        }
        const reason = err instanceof ApiError && err.code !== undefined ? HTTP_REFUSALS[err.code] : undefined;
        if (reason !== undefined) return { ok: false, reason };
        throw err;
      }
    },
  };
}

export interface LeaseStats {
  renewals: number;
  misses: number;
  lastRenewalAt: number | null;
}

export interface LeaseKeeperOptions {
  id: string;
  epoch: number;
  intervalMs: number;
  timeoutMs: number;
  renewer: LeaseRenewer;
  log: Logger;
  onSuspended(): void;
  onResumed(): void;
  onLost(reason: RenewFailure): void;
}

export class LeaseKeeper {
  private task: PeriodicTask | null = null;
  private lease: LeaseState = 'held';
  /** When (monotonic ms) the last successful renewal was sent: the lease runs from there. */
  private lastSentOk: number;
  /** Fires when the lease we hold would lapse without another successful renewal. */
  private lapseTimer: NodeJS.Timeout | null = null;
  readonly stats: LeaseStats = { renewals: 0, misses: 0, lastRenewalAt: null };

  constructor(private readonly o: LeaseKeeperOptions) {
    this.lastSentOk = performance.now();
    this.armLapseTimer();
  }

  get state(): LeaseState {
    return this.lease;
  }

  start(): void {
    this.task = new PeriodicTask('lease', this.o.intervalMs, () => this.step(), this.o.log).start();
  }

  async stop(): Promise<void> {
    this.clearLapseTimer();
    await this.task?.stop();
    this.task = null;
  }

  /** Suspend exactly when the lease would have lapsed, not at the next failed renewal after. */
  private armLapseTimer(): void {
    this.clearLapseTimer();
    const remaining = this.o.timeoutMs - (performance.now() - this.lastSentOk);
    this.lapseTimer = setTimeout(() => this.suspend(), Math.max(0, remaining));
    this.lapseTimer.unref();
  }

  private clearLapseTimer(): void {
    if (this.lapseTimer !== null) clearTimeout(this.lapseTimer);
    this.lapseTimer = null;
  }

  private suspend(): void {
    if (this.lease !== 'held') return;
    this.lease = 'suspended';
    const silentFor = Math.round(performance.now() - this.lastSentOk);
    this.o.log.error({ silentForMs: silentFor }, `no lease renewal for ${silentFor} ms: suspending work (self-fencing)`);
    this.o.onSuspended();
  }

  private async step(): Promise<void> {
    if (this.lease === 'lost') return;
    const sentAt = performance.now();
    let result: RenewResult;
    try {
      result = await withTimeout(this.o.renewer.renew(this.o.id, this.o.epoch, this.o.timeoutMs), this.o.intervalMs);
    } catch (err) {
      this.stats.misses += 1;
      this.o.log.warn({ err: (err as Error).message, via: this.o.renewer.via }, 'lease renewal failed; retrying');
      return;
    }
    if (!result.ok) {
      this.clearLapseTimer();
      this.lease = 'lost';
      this.o.log.warn({ reason: result.reason, epoch: this.o.epoch }, `lease refused (${result.reason}): this registration is over`);
      this.o.onLost(result.reason);
      return;
    }
    this.lastSentOk = sentAt;
    this.armLapseTimer();
    this.stats.renewals += 1;
    this.stats.lastRenewalAt = Date.now();
    if (this.lease === 'suspended') {
      this.lease = 'held';
      this.o.log.info('lease renewed again: resuming work');
      this.o.onResumed();
    }
  }
}

class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
