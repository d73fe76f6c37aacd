/**
 * The shipped log in Redis: one capped stream for the whole cluster. Appends are one pipeline of
 * XADDs (order kept), trimmed with `MAXLEN ~` so Redis trims whole nodes cheaply. Reads filter while
 * they scan, in pages, never more than LOG_SCAN_MAX entries per call.
 */
import {
  LOG_SCAN_MAX,
  LOGS_MAX_LENGTH,
  assertLogQuery,
  capLogText,
  isLogLevel,
  logMatches,
  type LogPage,
  type LogQuery,
  type LogRecord,
  type StoredLog,
} from '../../observability.js';
import { throwFailed, type RedisContext } from '../messaging/context.js';

/** Entries fetched per XRANGE while scanning. */
const SCAN_PAGE = 500;

type StreamEntry = [id: string, fields: string[]];

function encode(record: LogRecord): string[] {
  const fields = ['t', record.time, 'l', record.level, 'm', capLogText(record.msg)];
  if (record.containerId !== null) fields.push('c', record.containerId);
  if (record.agentId !== null) fields.push('a', record.agentId);
  if (record.traceId !== null) fields.push('x', record.traceId);
  if (record.fields !== undefined) fields.push('f', capLogText(record.fields));
  return fields;
}

function decode([id, flat]: StreamEntry): StoredLog {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  const level = h.l;
  return {
    id,
    time: h.t ?? '',
    level: isLogLevel(level) ? level : 'info',
    containerId: h.c ?? null,
    agentId: h.a ?? null,
    traceId: h.x ?? null,
    msg: h.m ?? '',
    ...(h.f === undefined ? {} : { fields: h.f }),
  };
}

export class RedisLogs {
  constructor(
    private readonly ctx: RedisContext,
    private readonly maxLength = LOGS_MAX_LENGTH,
  ) {}

  async append(records: readonly LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    const key = this.ctx.keys.logs;
    await this.ctx.call('appendLogs', async () => {
      const pipeline = this.ctx.redis.pipeline();
      for (const record of records) pipeline.xadd(key, 'MAXLEN', '~', this.maxLength, '*', ...encode(record));
      throwFailed(await pipeline.exec());
    });
  }

  async read(query: LogQuery): Promise<LogPage> {
    assertLogQuery(query);
    return this.ctx.call('readLogs', () => (query.after === undefined ? this.newest(query) : this.forward(query, query.after)));
  }

  /** Oldest first from `after`; `next` is the last entry looked at. */
  private async forward(query: LogQuery, after: string): Promise<LogPage> {
    const key = this.ctx.keys.logs;
    const found: StoredLog[] = [];
    let cursor = after;
    for (let scanned = 0; found.length < query.limit && scanned < LOG_SCAN_MAX; ) {
      const page = (await this.ctx.redis.xrange(key, `(${cursor}`, '+', 'COUNT', Math.min(SCAN_PAGE, LOG_SCAN_MAX - scanned))) as StreamEntry[];
      if (page.length === 0) break;
      for (const entry of page) {
        scanned++;
        cursor = entry[0];
        const log = decode(entry);
        if (logMatches(log, query)) {
          found.push(log);
          if (found.length === query.limit) break;
        }
      }
    }
    return { entries: found, next: cursor };
  }

  /** The newest matching entries, oldest first; `next` is the newest entry of the log. */
  private async newest(query: LogQuery): Promise<LogPage> {
    const key = this.ctx.keys.logs;
    const found: StoredLog[] = [];
    let next: string | null = null;
    let cursor = '+';
    for (let scanned = 0; found.length < query.limit && scanned < LOG_SCAN_MAX; ) {
      const page = (await this.ctx.redis.xrevrange(key, cursor, '-', 'COUNT', Math.min(SCAN_PAGE, LOG_SCAN_MAX - scanned))) as StreamEntry[];
      if (page.length === 0) break;
      next ??= page[0]![0];
      for (const entry of page) {
        scanned++;
        cursor = `(${entry[0]}`;
        const log = decode(entry);
        if (logMatches(log, query)) {
          found.push(log);
          if (found.length === query.limit) break;
        }
      }
    }
    return { entries: found.reverse(), next };
  }
}
