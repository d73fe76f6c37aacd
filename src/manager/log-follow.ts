/**
 * `GET /api/v1/logs?follow=true`: new log lines as Server-Sent Events. Each follower has its own
 * filters, so each runs its own bounded poll of the shipped log from its cursor (the store filters
 * while it scans, and the cursor moves past what did not match).
 *
 * Bounds: at most LOG_FOLLOWERS_MAX followers per manager (more get 503); a follower whose socket
 * buffer grows past LOG_FOLLOW_MAX_BUFFERED_BYTES is ended; closing the manager ends them all.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../common/logger.js';
import type { LogEntryView } from '../protocol/observability-api.js';
import { LOG_READ_MAX, type LogQuery, type ObservabilityStore, type StoredLog } from '../store/index.js';
import { HttpError } from './errors.js';

export const LOG_FOLLOW_POLL_MS = 500;
export const LOG_FOLLOW_HEARTBEAT_MS = 15_000;
export const LOG_FOLLOWERS_MAX = 32;
export const LOG_FOLLOW_MAX_BUFFERED_BYTES = 1024 * 1024;

export class TooManyFollowersError extends HttpError {
  override readonly name = 'TooManyFollowersError';
  constructor() {
    super(503, 'too_many_followers', `this manager already streams logs to ${LOG_FOLLOWERS_MAX} clients; try again later or read pages with ?after=`);
  }
}

export function toLogEntryView(log: StoredLog): LogEntryView {
  let fields: Record<string, unknown> | undefined;
  if (log.fields !== undefined) {
    try {
      fields = JSON.parse(log.fields) as Record<string, unknown>;
    } catch {
      // A field text cut at LOG_TEXT_MAX no longer parses: keep it, as text.
      fields = { text: log.fields };
    }
  }
  return {
    id: log.id,
    time: log.time,
    level: log.level,
    container_id: log.containerId,
    agent_id: log.agentId,
    trace_id: log.traceId,
    msg: log.msg,
    ...(fields === undefined ? {} : { fields }),
  };
}

export class LogFollowers {
  private readonly closing = new AbortController();
  private count = 0;

  constructor(
    private readonly store: ObservabilityStore,
    private readonly log: Logger,
    private readonly pollMs = LOG_FOLLOW_POLL_MS,
  ) {}

  /** Throws TooManyFollowersError before anything is written, so the route can answer 503. */
  reserve(): void {
    if (this.count >= LOG_FOLLOWERS_MAX) throw new TooManyFollowersError();
    this.count++;
  }

  /** Streams lines after `after` (or from the newest line on) until the client goes or close(). */
  async follow(res: ServerResponse, query: Omit<LogQuery, 'after' | 'limit'>, after: string | null): Promise<void> {
    const gone = new AbortController();
    const end = (): void => gone.abort();
    res.on('close', end);
    this.closing.signal.addEventListener('abort', end, { once: true });
    let lastWrite = Date.now();
    try {
      let cursor = after ?? (await this.store.readLogs({ limit: 1 })).next;
      while (!gone.signal.aborted) {
        const page = cursor === null ? await this.store.readLogs({ ...query, limit: LOG_READ_MAX }) : await this.store.readLogs({ ...query, after: cursor, limit: LOG_READ_MAX });
        if (cursor === null && page.next === null) {
          // Still empty: wait for a first line.
        } else {
          for (const entry of page.entries) res.write(`id: ${entry.id}\nevent: log\ndata: ${JSON.stringify(toLogEntryView(entry))}\n\n`);
          if (page.entries.length > 0) lastWrite = Date.now();
          cursor = page.next;
        }
        if (res.writableLength > LOG_FOLLOW_MAX_BUFFERED_BYTES) {
          res.end(': dropped: the client did not keep up\n\n');
          return;
        }
        if (Date.now() - lastWrite >= LOG_FOLLOW_HEARTBEAT_MS) {
          res.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
        // A full page is followed at once by the next.
        if (page.entries.length < LOG_READ_MAX) await sleep(this.pollMs, undefined, { signal: gone.signal }).catch(() => undefined);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'log follow: reading the log failed');
      if (!res.writableEnded) res.write(': error: could not read the log; reconnect with Last-Event-ID\n\n');
    } finally {
      this.count--;
      res.off('close', end);
      this.closing.signal.removeEventListener('abort', end);
      if (!res.writableEnded) res.end();
    }
  }

  /** Ends every follower (manager shutdown). */
  close(): void {
    this.closing.abort();
  }
}
