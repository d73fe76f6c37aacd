/**
 * The live feed behind `GET /api/v1/cluster/events/stream` (Server-Sent Events). One hub per
 * manager runs one poller over the store's event log (`listEvents({afterId})`), and only while at
 * least one client is connected; every event it reads is fanned out to all connections. A
 * connection that resumes (`Last-Event-ID` or `?after=`) first replays the log after that id on its
 * own, then takes the live events it did not already send; ids increase, so a comparison drops
 * the overlap and nothing is sent twice or missed.
 *
 * Bounds: a connection whose socket buffer grows past `maxBufferedBytes` (a reader that does not
 * keep up) is ended with a final comment line; closing the hub (manager shutdown) ends every
 * connection so the server's close does not wait for them.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../common/logger.js';
import type { ClusterEvent } from '../protocol/events.js';
import type { EventView } from '../protocol/api.js';
import type { ClusterStore } from '../store/store.js';

/** How often the shared poller reads the event log while anyone listens. */
export const EVENT_STREAM_POLL_INTERVAL_MS = 250;
/** A comment line this often keeps proxies and load balancers from closing a quiet stream. */
export const EVENT_STREAM_HEARTBEAT_MS = 15_000;
/** Bytes a connection may have unsent before it is dropped as too slow. */
export const EVENT_STREAM_MAX_BUFFERED_BYTES = 1024 * 1024;
/** Events read per store call (poll and replay); a full page is followed at once by the next. */
export const EVENT_STREAM_PAGE = 500;
/** Live events held for a connection while it replays; more and it is dropped as too slow. */
const MAX_PENDING_EVENTS = 10_000;

export interface EventStreamSettings {
  pollIntervalMs: number;
  heartbeatMs: number;
  maxBufferedBytes: number;
}

export const DEFAULT_EVENT_STREAM_SETTINGS: EventStreamSettings = {
  pollIntervalMs: EVENT_STREAM_POLL_INTERVAL_MS,
  heartbeatMs: EVENT_STREAM_HEARTBEAT_MS,
  maxBufferedBytes: EVENT_STREAM_MAX_BUFFERED_BYTES,
};

/** `<ms>-<seq>` ids (Redis stream ids) in their order: negative, zero or positive. */
export function compareEventIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

export function toEventView(e: ClusterEvent): EventView {
  return {
    id: e.id,
    type: e.type,
    timestamp: new Date(e.atMs).toISOString(),
    ...(e.containerId === undefined ? {} : { container_id: e.containerId }),
    ...(e.epoch === undefined ? {} : { epoch: e.epoch }),
    ...(e.managerId === undefined ? {} : { manager_id: e.managerId }),
    data: e.data,
  };
}

/** One SSE message: `id`, `event` and one `data` line (JSON has no raw newlines). */
export function formatSseEvent(e: ClusterEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(toEventView(e))}\n\n`;
}

class StreamConnection {
  /** The newest id written; live events at or before it are already sent. */
  private lastId: string | null;
  /** Live events that arrived during the replay, sent after it. */
  private pending: ClusterEvent[] | null = [];
  closed = false;

  constructor(
    private readonly hub: EventStreamHub,
    private readonly res: ServerResponse,
    startAfter: string | null,
  ) {
    this.lastId = startAfter;
  }

  /** A live event from the poller. */
  deliver(e: ClusterEvent): void {
    if (this.closed) return;
    if (this.pending !== null) {
      if (this.pending.length >= MAX_PENDING_EVENTS) return this.end('dropped: too slow');
      this.pending.push(e);
      return;
    }
    this.send(e);
  }

  /** Replays the log after the start id, then switches to live events. */
  async replay(store: ClusterStore): Promise<void> {
    let after = this.lastId;
    for (;;) {
      if (this.closed || after === null) break;
      const page = await store.listEvents({ afterId: after, limit: EVENT_STREAM_PAGE });
      for (const e of page) this.send(e);
      if (page.length < EVENT_STREAM_PAGE) break;
      after = page.at(-1)!.id;
    }
    const pending = this.pending ?? [];
    this.pending = null;
    for (const e of pending) this.send(e);
  }

  private send(e: ClusterEvent): void {
    if (this.closed) return;
    if (this.lastId !== null && compareEventIds(e.id, this.lastId) <= 0) return;
    this.lastId = e.id;
    this.write(formatSseEvent(e));
  }

  write(chunk: string): void {
    if (this.closed) return;
    if (this.res.destroyed || this.res.writableEnded) return this.hub.detach(this);
    if (this.res.writableLength > this.hub.settings.maxBufferedBytes) return this.end('dropped: too slow');
    this.res.write(chunk);
  }

  /** Ends the stream with a last comment line saying why. */
  end(reason: string): void {
    if (this.closed) return;
    if (!this.res.destroyed && !this.res.writableEnded) this.res.end(`: ${reason}\n\n`);
    this.hub.detach(this);
  }
}

export class EventStreamHub {
  readonly settings: EventStreamSettings;
  private readonly connections = new Set<StreamConnection>();
  private cursor: string | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private running = false;
  /** Bumped on every start and stop, so a late callback of an earlier run does nothing. */
  private generation = 0;
  private closedForGood = false;
  /** Store reads made by the poller, for tests: one poller whatever the number of clients. */
  polls = 0;

  constructor(
    private readonly store: ClusterStore,
    private readonly log: Logger,
    settings: Partial<EventStreamSettings> = {},
  ) {
    this.settings = { ...DEFAULT_EVENT_STREAM_SETTINGS, ...settings };
  }

  get size(): number {
    return this.connections.size;
  }

  get closed(): boolean {
    return this.closedForGood;
  }

  /**
   * Streams to `res` (headers already written) from after `resumeAfter`, or from now when null.
   * Resolves once the replay is written; the stream then runs until the client goes or close().
   */
  async attach(res: ServerResponse, resumeAfter: string | null): Promise<void> {
    // "From now": the newest id before subscribing, so nothing appended after it is missed.
    const start = resumeAfter ?? (await this.store.lastEventId());
    const conn = new StreamConnection(this, res, start);
    if (this.closedForGood) return conn.end('manager shutting down');
    if (res.destroyed || res.writableEnded) return; // the client left while we read the store
    res.on('close', () => this.detach(conn));
    this.connections.add(conn);
    await this.ensureRunning();
    try {
      await conn.replay(this.store);
    } catch (err) {
      this.log.warn({ err }, 'event stream: replay failed');
      conn.end('error: could not read the event log');
    }
  }

  detach(conn: StreamConnection): void {
    conn.closed = true;
    if (!this.connections.delete(conn)) return;
    if (this.connections.size === 0) this.stopTimers();
  }

  /** Ends every stream and stops polling; later attaches are ended at once. */
  async close(): Promise<void> {
    this.closedForGood = true;
    for (const conn of [...this.connections]) conn.end('manager shutting down');
    this.stopTimers();
    await this.polling;
  }

  private async ensureRunning(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const generation = ++this.generation;
    try {
      this.cursor = await this.store.lastEventId();
    } catch (err) {
      this.log.warn({ err }, 'event stream: could not read the newest event id');
      this.cursor = null;
    }
    if (generation !== this.generation) return; // every client left meanwhile
    this.heartbeatTimer = setInterval(() => {
      for (const conn of [...this.connections]) conn.write(': heartbeat\n\n');
    }, this.settings.heartbeatMs);
    this.heartbeatTimer.unref();
    this.schedule(generation);
  }

  private schedule(generation: number): void {
    if (generation !== this.generation) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.polling = this.poll(generation).finally(() => {
        this.polling = null;
        this.schedule(generation);
      });
    }, this.settings.pollIntervalMs);
    this.pollTimer.unref();
  }

  private async poll(generation: number): Promise<void> {
    try {
      for (;;) {
        if (generation !== this.generation) return;
        this.polls++;
        const page = await this.store.listEvents({ ...(this.cursor === null ? {} : { afterId: this.cursor }), limit: EVENT_STREAM_PAGE });
        if (generation !== this.generation) return;
        for (const e of page) {
          if (this.cursor !== null && compareEventIds(e.id, this.cursor) <= 0) continue;
          this.cursor = e.id;
          for (const conn of [...this.connections]) conn.deliver(e);
        }
        if (page.length < EVENT_STREAM_PAGE) return;
      }
    } catch (err) {
      this.log.warn({ err }, 'event stream: poll failed; retrying');
    }
  }

  private stopTimers(): void {
    this.running = false;
    this.generation++;
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.pollTimer = null;
    this.heartbeatTimer = null;
  }
}
