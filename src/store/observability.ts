/**
 * The observability half of the store: the cluster's shipped logs (one capped stream for every
 * host, read back through one API call) and each container's latest latency measurements.
 *
 * Both are best-effort data, unlike the control and data planes: a log line lost to the cap or a
 * latency report that expires is fine, a blocked agent turn is not. So writes are batched and
 * capped, and nothing here is fenced.
 */
import { assertSafeName } from '../protocol/names.js';
import { StoreError } from './store.js';
import { isStreamId } from './stream-id.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** pino's numeric levels, by name. */
export const LOG_LEVEL_VALUES: Readonly<Record<LogLevelName, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** Entries the shipped log keeps (approximately: Redis trims whole nodes, `MAXLEN ~`). */
export const LOGS_MAX_LENGTH = 100_000;
/** Entries one read looks at, at most, while filtering: a read never walks the whole stream. */
export const LOG_SCAN_MAX = 10_000;
/** Entries one read returns, at most. */
export const LOG_READ_MAX = 1_000;
/** A log line's message and extra fields are cut to this many characters each. */
export const LOG_TEXT_MAX = 8_192;

/** One shipped log line. */
export interface LogRecord {
  /** When it was logged (ISO 8601, the logging host's clock). */
  time: string;
  level: LogLevelName;
  containerId: string | null;
  agentId: string | null;
  /** The W3C trace id of the message being handled, when there is one. */
  traceId: string | null;
  msg: string;
  /** The line's other fields as JSON text (cut to LOG_TEXT_MAX), when it has any. */
  fields?: string;
}

export interface StoredLog extends LogRecord {
  /** Position in the shipped log (a stream id): the cursor for the next read. */
  id: string;
}

export interface LogQuery {
  /** Entries after this cursor, oldest first. Without it: the newest matching entries. */
  after?: string;
  /** At most this many entries (1…LOG_READ_MAX). */
  limit: number;
  agentId?: string;
  containerId?: string;
  /** Entries at this level or above. */
  minLevel?: LogLevelName;
}

export interface LogPage {
  /** Oldest first. */
  entries: StoredLog[];
  /**
   * Where the next read starts (`after`): past every entry this read looked at, matching or not,
   * so a filtered follow does not scan the same entries again. Null while the log is empty.
   */
  next: string | null;
}

/** A round-trip summary from one container to one target. */
export interface LatencySample {
  /** `redis`, `manager`, or a peer container's id. */
  to: string;
  medianMs: number | null;
  lastMs: number | null;
  maxMs: number | null;
  /** Successful measurements in the window the figures come from. */
  samples: number;
  /** Why the newest measurement failed, or null when it succeeded. */
  error: string | null;
  /** When the newest measurement was taken (epoch ms), or null before any. */
  measuredAtMs: number | null;
}

export interface LatencyReport {
  /** The measuring container. */
  from: string;
  reportedAtMs: number;
  entries: LatencySample[];
}

export interface ObservabilityStore {
  /** Appends log lines in order, trimming the log to about LOGS_MAX_LENGTH. */
  appendLogs(records: readonly LogRecord[]): Promise<void>;
  readLogs(query: LogQuery): Promise<LogPage>;
  /** Replaces `report.from`'s latency report; it disappears after `ttlMs` unless replaced. */
  putLatency(report: LatencyReport, ttlMs: number): Promise<void>;
  /** The live reports of these containers (missing or expired ones are left out). */
  listLatency(containerIds: readonly string[]): Promise<LatencyReport[]>;
}

export function isLogLevel(value: unknown): value is LogLevelName {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

/** Whether `record` passes the query's filters (both stores filter the same way). */
export function logMatches(record: LogRecord, query: LogQuery): boolean {
  if (query.agentId !== undefined && record.agentId !== query.agentId) return false;
  if (query.containerId !== undefined && record.containerId !== query.containerId) return false;
  if (query.minLevel !== undefined && LOG_LEVEL_VALUES[record.level] < LOG_LEVEL_VALUES[query.minLevel]) return false;
  return true;
}

/** Cuts `text` to LOG_TEXT_MAX characters, marking the cut. */
export function capLogText(text: string): string {
  return text.length <= LOG_TEXT_MAX ? text : `${text.slice(0, LOG_TEXT_MAX - 1)}…`;
}

/** Throws StoreError naming what is wrong with a query (both stores check alike). */
export function assertLogQuery(query: LogQuery): void {
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > LOG_READ_MAX) {
    throw new StoreError(`log limit must be an integer from 1 to ${LOG_READ_MAX}, got ${String(query.limit)}`);
  }
  if (query.after !== undefined && !isStreamId(query.after)) throw new StoreError(`log cursor ${JSON.stringify(query.after)} is not a stream id like 1700000000000-0`);
  if (query.minLevel !== undefined && !isLogLevel(query.minLevel)) throw new StoreError(`log level must be one of ${LOG_LEVELS.join(', ')}`);
}

export function assertLatencyReport(report: LatencyReport, ttlMs: number): void {
  assertSafeName('container id', report.from);
  if (!Number.isInteger(ttlMs) || ttlMs < 1) throw new StoreError(`latency ttl must be a positive integer (ms), got ${String(ttlMs)}`);
  for (const sample of report.entries) {
    if (typeof sample.to !== 'string' || sample.to.length === 0) throw new StoreError('latency sample target must be a non-empty string');
  }
}
