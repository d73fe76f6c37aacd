/** The memory store's shipped log: a capped MemoryStream, filtered while scanned like Redis's. */
import {
  LOG_SCAN_MAX,
  LOGS_MAX_LENGTH,
  assertLogQuery,
  capLogText,
  logMatches,
  type LogPage,
  type LogQuery,
  type LogRecord,
  type StoredLog,
} from '../../observability.js';
import { MemoryStream } from '../stream.js';

export class MemoryLogs {
  private readonly stream = new MemoryStream<LogRecord>();

  constructor(
    private readonly clock: () => number,
    private readonly maxLength = LOGS_MAX_LENGTH,
  ) {}

  append(records: readonly LogRecord[]): void {
    const now = this.clock();
    for (const record of records) {
      const copy: LogRecord = { ...record, msg: capLogText(record.msg) };
      if (record.fields !== undefined) copy.fields = capLogText(record.fields);
      this.stream.append(now, copy);
    }
    this.stream.capTo(this.maxLength);
  }

  read(query: LogQuery): LogPage {
    assertLogQuery(query);
    const found: StoredLog[] = [];
    if (query.after !== undefined) {
      let next = query.after;
      for (const item of this.stream.after(query.after, LOG_SCAN_MAX)) {
        next = item.id;
        if (logMatches(item.value, query)) found.push({ id: item.id, ...item.value });
        if (found.length === query.limit) break;
      }
      return { entries: found, next };
    }
    const scanned = this.stream.before(null, LOG_SCAN_MAX);
    for (const item of scanned) {
      if (logMatches(item.value, query)) found.push({ id: item.id, ...item.value });
      if (found.length === query.limit) break;
    }
    return { entries: found.reverse(), next: scanned[0]?.id ?? null };
  }
}
