/** Messages between the benchmark and its lease-simulator child processes (over node IPC). */

export type RenewMode = 'idle' | 'redis' | 'http';

export interface SimContainer {
  id: string;
  epoch: number;
  /** Index of this container in the whole simulated cluster: it fixes its phase in the second. */
  index: number;
}

export type ToSimulator =
  | { type: 'add'; containers: SimContainer[] }
  | { type: 'mode'; mode: RenewMode }
  | { type: 'stats'; reset: boolean }
  | { type: 'stop' };

export interface SimStats {
  mode: RenewMode;
  containers: number;
  /** Containers whose lease was refused (down, stale epoch, unknown): no longer renewed. */
  lost: Record<string, number>;
  /** Renewals accepted since the last reset. */
  renewals: number;
  /** Renewals that failed or timed out (the lease may still hold). */
  failures: number;
  /** Due renewals skipped because the previous one of that container was still in flight. */
  skipped: number;
  /** Round trip of one renewal, ms. */
  rttP50: number;
  rttP99: number;
  rttMax: number;
  /** How late the simulator's scheduler fired a renewal, ms (its own CPU starvation). */
  lateP99: number;
  lateMax: number;
  /** Wall time the counters cover, ms. */
  windowMs: number;
  firstError: string | null;
}

export type FromSimulator = { type: 'ready' } | { type: 'mode'; mode: RenewMode } | { type: 'stats'; stats: SimStats };
