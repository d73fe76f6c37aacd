/**
 * Failed authentication, counted per source address in fixed windows: past the limit an address
 * gets 429 until its window ends. Memory is bounded: at most `maxTracked` addresses are kept, the
 * oldest forgotten first (a flood of spoofed sources forgets entries; it cannot grow the map).
 */
export const DEFAULT_AUTH_FAILURE_LIMIT = 20;
export const DEFAULT_AUTH_FAILURE_WINDOW_MS = 60_000;
export const DEFAULT_AUTH_FAILURE_TRACKED = 10_000;

export interface FailureLimiterSettings {
  limit: number;
  windowMs: number;
  maxTracked: number;
}

interface Window {
  startMs: number;
  failures: number;
}

export class FailureLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly s: FailureLimiterSettings;

  constructor(settings: Partial<FailureLimiterSettings> = {}) {
    this.s = {
      limit: settings.limit ?? DEFAULT_AUTH_FAILURE_LIMIT,
      windowMs: settings.windowMs ?? DEFAULT_AUTH_FAILURE_WINDOW_MS,
      maxTracked: settings.maxTracked ?? DEFAULT_AUTH_FAILURE_TRACKED,
    };
  }

  get tracked(): number {
    return this.windows.size;
  }

  /** Milliseconds until `source` may try again; 0 when it may now. */
  retryAfterMs(source: string, nowMs: number = Date.now()): number {
    const w = this.windows.get(source);
    if (w === undefined) return 0;
    const endsMs = w.startMs + this.s.windowMs;
    if (endsMs <= nowMs) {
      this.windows.delete(source);
      return 0;
    }
    return w.failures >= this.s.limit ? endsMs - nowMs : 0;
  }

  failed(source: string, nowMs: number = Date.now()): void {
    const w = this.windows.get(source);
    if (w !== undefined && w.startMs + this.s.windowMs > nowMs) {
      w.failures += 1;
      return;
    }
    this.windows.delete(source);
    // Maps iterate in insertion order: the first key is the oldest window.
    while (this.windows.size >= this.s.maxTracked) {
      const oldest = this.windows.keys().next().value;
      if (oldest === undefined) break;
      this.windows.delete(oldest);
    }
    this.windows.set(source, { startMs: nowMs, failures: 1 });
  }
}
