/**
 * Connections for blocking reads. A connection blocked in XREAD serves nothing else until the
 * block ends, so blocking reads never use the store's own connection (other calls would queue
 * behind them), nor share one with each other: each read takes an idle connection, or opens one
 * (lazily: a store that never blocks opens none), and gives it back after. A few idle ones are
 * kept for the next reads; close() ends them all, failing reads still blocked.
 *
 * These connections have no command timeout (a block may be longer than it), so each read is
 * bounded here instead: blockMs + BLOCKING_READ_GRACE_MS, after which the connection is dropped
 * (a reply may still be on its way) and the read fails with StoreUnavailableError.
 */
import type { Redis } from 'ioredis';
import { StoreUnavailableError } from '../../store.js';
import { duplicateForBlocking } from '../connection.js';

/** How long past its block a read may take before Redis is taken as not answering. */
export const BLOCKING_READ_GRACE_MS = 5_000;
/** Idle blocking connections kept for reuse; more are closed when given back. */
export const BLOCKING_IDLE_MAX = 4;

export class BlockingPool {
  private readonly idle: Redis[] = [];
  private readonly busy = new Set<Redis>();
  private closed = false;
  /** The latest error of any blocking connection (without a listener ioredis would log it). */
  lastError: Error | undefined;
  private readonly onError = (err: Error): void => {
    this.lastError = err;
  };

  constructor(
    private readonly base: Redis,
    private readonly graceMs: number = BLOCKING_READ_GRACE_MS,
  ) {}

  /** Number of open blocking connections (idle + in use), for tests and metrics. */
  get size(): number {
    return this.idle.length + this.busy.size;
  }

  /** Runs `read` on a blocking connection of its own, bounded by `blockMs` + grace. */
  async run<T>(blockMs: number, read: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('the store is closed');
    const redis = this.idle.pop() ?? this.open();
    this.busy.add(redis);
    let healthy = false;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        redis.disconnect();
        reject(new StoreUnavailableError(`Redis did not answer a blocking read within ${blockMs + this.graceMs} ms`, { cause: this.lastError }));
      }, blockMs + this.graceMs);
    });
    try {
      const result = await Promise.race([read(redis), bound]);
      healthy = true;
      return result;
    } finally {
      clearTimeout(timer);
      this.release(redis, healthy);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle, ...this.busy];
    this.idle.length = 0;
    this.busy.clear();
    await Promise.all(all.map((redis) => closeConnection(redis)));
  }

  private open(): Redis {
    const redis = duplicateForBlocking(this.base);
    redis.on('error', this.onError);
    return redis;
  }

  private release(redis: Redis, healthy: boolean): void {
    if (!this.busy.delete(redis)) return; // close() already took it
    if (healthy && !this.closed && this.idle.length < BLOCKING_IDLE_MAX && redis.status !== 'end') {
      this.idle.push(redis);
    } else {
      redis.disconnect();
    }
  }
}

async function closeConnection(redis: Redis): Promise<void> {
  // An idle connection can QUIT; a blocked one must be cut (its read then fails).
  if (redis.status === 'ready') {
    try {
      await Promise.race([redis.quit(), new Promise((resolve) => setTimeout(resolve, 100))]);
    } catch {
      // Disconnect below.
    }
  }
  redis.disconnect();
}
