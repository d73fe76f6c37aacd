/**
 * Ships a process's log lines to the store's shared log, so that `flotilla logs` reads every host
 * in one place. It is a pino destination: pino writes each JSON line to it (beside stdout), it
 * keeps them in a bounded buffer and a background loop appends them in batches.
 *
 * Logging must never hold up or break the work being logged: when the store is slow or down the
 * buffer fills and the oldest lines are dropped (and counted), and nothing is retried forever.
 * Problems of the shipper itself go to stdout only, never through the shipped logger (a loop).
 */
import { PeriodicTask } from '../common/loop.js';
import type { Logger } from '../common/logger.js';
import { LOG_LEVELS, type LogLevelName, type LogRecord, type ObservabilityStore } from '../store/index.js';

/** How often buffered lines are appended (a full batch goes at once). */
export const LOG_SHIP_INTERVAL_MS = 250;
/** Lines per append. */
export const LOG_SHIP_BATCH_MAX = 500;
/** Lines kept while the store cannot take them; older ones are dropped beyond this. */
export const LOG_SHIP_BUFFER_MAX = 10_000;
/** How long stop() waits for the last lines to go. */
export const LOG_SHIP_FINAL_FLUSH_MS = 2_000;

/** pino's fields that are carried in their own columns, or that say nothing useful here. */
const OWN_FIELDS = new Set(['level', 'time', 'msg', 'container', 'agent', 'trace_id', 'pid', 'hostname', 'role']);

const LEVEL_NAMES = new Map<number, LogLevelName>(LOG_LEVELS.map((name, i) => [(i + 1) * 10, name]));

/** A pino JSON line as a LogRecord; null for a line that is not one. */
export function logRecordFromLine(line: string): LogRecord | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const o = parsed as Record<string, unknown>;
  const rest: Record<string, unknown> = {};
  let hasRest = false;
  for (const [k, v] of Object.entries(o)) {
    if (OWN_FIELDS.has(k)) continue;
    rest[k] = v;
    hasRest = true;
  }
  const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
  return {
    time: typeof o.time === 'string' ? o.time : new Date(typeof o.time === 'number' ? o.time : Date.now()).toISOString(),
    level: LEVEL_NAMES.get(typeof o.level === 'number' ? o.level : 30) ?? 'info',
    containerId: str(o.container),
    agentId: str(o.agent),
    traceId: str(o.trace_id),
    msg: typeof o.msg === 'string' ? o.msg : '',
    ...(hasRest ? { fields: JSON.stringify(rest) } : {}),
  };
}

export interface LogShipperOptions {
  intervalMs?: number;
  batchMax?: number;
  bufferMax?: number;
}

export class LogShipper {
  private buffer: LogRecord[] = [];
  private store: ObservabilityStore | null = null;
  private task: PeriodicTask | null = null;
  private failing = false;
  private readonly intervalMs: number;
  private readonly batchMax: number;
  private readonly bufferMax: number;
  /** Lines dropped because the buffer was full (the store was slow or down). */
  dropped = 0;
  /** Lines appended to the store. */
  shipped = 0;

  /** `stdoutLog` reports the shipper's own trouble; it must not ship to this shipper. */
  constructor(
    private readonly stdoutLog: Logger,
    options: LogShipperOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? LOG_SHIP_INTERVAL_MS;
    this.batchMax = options.batchMax ?? LOG_SHIP_BATCH_MAX;
    this.bufferMax = options.bufferMax ?? LOG_SHIP_BUFFER_MAX;
  }

  /** The pino destination: one JSON line per call. */
  write(line: string): void {
    const record = logRecordFromLine(line);
    if (record === null) return;
    this.buffer.push(record);
    if (this.buffer.length > this.bufferMax) {
      const excess = this.buffer.length - this.bufferMax;
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.buffer.length >= this.batchMax) this.task?.wake();
  }

  /** Starts shipping to `store` (lines logged before this wait in the buffer). */
  start(store: ObservabilityStore): void {
    this.store = store;
    this.task ??= new PeriodicTask('log shipping', this.intervalMs, () => this.flush(), this.stdoutLog).start();
  }

  /** Stops the loop and ships what is left, for at most LOG_SHIP_FINAL_FLUSH_MS. */
  async stop(): Promise<void> {
    await this.task?.stop();
    this.task = null;
    const deadline = Date.now() + LOG_SHIP_FINAL_FLUSH_MS;
    while (this.buffer.length > 0 && Date.now() < deadline) {
      if (!(await this.flushOnce())) break;
    }
  }

  private async flush(): Promise<void> {
    while (this.buffer.length > 0 && (await this.flushOnce()));
  }

  /** Appends one batch; false when the store refused it (the lines stay buffered). */
  private async flushOnce(): Promise<boolean> {
    if (this.store === null || this.buffer.length === 0) return false;
    const batch = this.buffer.slice(0, this.batchMax);
    try {
      await this.store.appendLogs(batch);
    } catch (err) {
      if (!this.failing) this.stdoutLog.warn({ err: (err as Error).message }, 'log shipping failed; keeping lines until the store answers');
      this.failing = true;
      return false;
    }
    if (this.failing) this.stdoutLog.info({ dropped: this.dropped }, 'log shipping resumed');
    this.failing = false;
    // Lines written meanwhile went behind the batch; lines dropped meanwhile came off its front, so
    // what is left of the batch ends where its last line now is (or was dropped whole).
    const end = this.buffer.lastIndexOf(batch[batch.length - 1]!, batch.length - 1);
    if (end >= 0) this.buffer.splice(0, end + 1);
    this.shipped += batch.length;
    return true;
  }
}
