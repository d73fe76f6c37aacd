/** Latency reports in Redis: one JSON string per container, expiring unless the container renews it. */
import { assertLatencyReport, type LatencyReport } from '../../observability.js';
import type { RedisContext } from '../messaging/context.js';

export class RedisLatency {
  constructor(private readonly ctx: RedisContext) {}

  async put(report: LatencyReport, ttlMs: number): Promise<void> {
    assertLatencyReport(report, ttlMs);
    await this.ctx.call('putLatency', () => this.ctx.redis.set(this.ctx.keys.latency(report.from), JSON.stringify(report), 'PX', ttlMs));
  }

  async list(containerIds: readonly string[]): Promise<LatencyReport[]> {
    if (containerIds.length === 0) return [];
    const values = await this.ctx.call('listLatency', () => this.ctx.redis.mget(containerIds.map((id) => this.ctx.keys.latency(id))));
    const reports: LatencyReport[] = [];
    for (const value of values) {
      if (value === null) continue;
      try {
        reports.push(JSON.parse(value) as LatencyReport);
      } catch {
        // A report is advisory: one that does not parse is skipped, not an error for the reader.
      }
    }
    return reports;
  }
}
