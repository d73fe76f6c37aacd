/** The memory store's latency reports: one per container, with an expiry like Redis's PX. */
import { assertLatencyReport, type LatencyReport } from '../../observability.js';

export class MemoryLatency {
  private readonly reports = new Map<string, { json: string; expiresAtMs: number }>();

  constructor(private readonly clock: () => number) {}

  put(report: LatencyReport, ttlMs: number): void {
    assertLatencyReport(report, ttlMs);
    this.reports.set(report.from, { json: JSON.stringify(report), expiresAtMs: this.clock() + ttlMs });
  }

  list(containerIds: readonly string[]): LatencyReport[] {
    const now = this.clock();
    const out: LatencyReport[] = [];
    for (const id of containerIds) {
      const stored = this.reports.get(id);
      if (stored === undefined) continue;
      if (stored.expiresAtMs <= now) {
        this.reports.delete(id);
        continue;
      }
      out.push(JSON.parse(stored.json) as LatencyReport);
    }
    return out;
  }
}
