/**
 * Latency sampling: run a request `count` times with a fixed number of clients, each waiting for
 * its reply before sending the next (a closed loop, as a person or a dashboard polls), and
 * summarise the samples as percentiles. Every run is bounded in time as well as in count.
 */
import { performance } from 'node:perf_hooks';

export interface LatencySummary {
  /** Requests completed. */
  count: number;
  concurrency: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Completed requests per second over the run. */
  rps: number;
  /** True when the time bound stopped the run before `count`. */
  truncated: boolean;
}

/** The nearest-rank percentile of sorted samples. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(samples: number[], concurrency: number, elapsedMs: number, truncated: boolean): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    concurrency,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    rps: sorted.length / Math.max(1e-3, elapsedMs / 1_000),
    truncated,
  };
}

export interface MeasureOptions {
  count: number;
  concurrency: number;
  /** Stop starting new requests after this long. */
  maxMs: number;
}

/** Runs `call` `count` times over `concurrency` closed-loop clients; a failed call throws. */
export async function measureLatency(call: () => Promise<void>, o: MeasureOptions): Promise<LatencySummary> {
  const samples: number[] = [];
  const started = performance.now();
  const deadline = started + o.maxMs;
  let issued = 0;
  let truncated = false;
  const client = async (): Promise<void> => {
    while (issued < o.count) {
      if (performance.now() > deadline) {
        truncated = true;
        return;
      }
      issued += 1;
      const t = performance.now();
      await call();
      samples.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, client));
  return summarize(samples, o.concurrency, performance.now() - started, truncated);
}
