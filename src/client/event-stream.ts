/**
 * Following `GET /api/v1/cluster/events/stream` (Server-Sent Events): an incremental SSE parser
 * and a follower that reconnects with `Last-Event-ID` after a disconnect, with backoff, so no
 * event is missed or repeated. Used by `flotilla events -f` and the tests.
 */
import { request } from 'undici';
import type { EventView } from '../protocol/api.js';
import { PATHS } from '../protocol/paths.js';
import { ApiError, ManagerUnreachableError } from './api-client.js';
import type { ErrorBody } from '../protocol/api.js';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/**
 * Parses an SSE byte stream fed in chunks of text (split anywhere). Comment lines are ignored;
 * `retry` is not used. One `data` field per message is all the manager sends; several are joined
 * with newlines, as the spec says.
 */
export class SseParser {
  private buffer = '';
  private id: string | undefined;
  private event = '';
  private data: string[] = [];

  feed(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      // A lone \r at the end may be the first half of \r\n: wait for the next chunk.
      if (this.buffer[nl] === '\r' && nl === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + (this.buffer.startsWith('\r\n', nl) ? 2 : 1));
      const message = this.line(line);
      if (message !== undefined) out.push(message);
    }
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return undefined;
      }
      const message: SseMessage = { ...(this.id === undefined ? {} : { id: this.id }), event: this.event || 'message', data: this.data.join('\n') };
      this.event = '';
      this.data = [];
      return message;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id' && !value.includes('\0')) this.id = value;
    else if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    return undefined;
  }
}

/** First wait before a reconnect; doubled after each failure up to the max. */
export const RECONNECT_INITIAL_MS = 250;
export const RECONNECT_MAX_MS = 5_000;
/** Without a stream for this long, the follower gives up (ManagerUnreachableError). */
export const RECONNECT_GIVE_UP_MS = 60_000;
/** How long to wait for the response headers of one attempt. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface FollowOptions<T = EventView> {
  baseUrl: string;
  token?: string;
  /** Start after this event id; else from now. */
  after?: string;
  signal: AbortSignal;
  onEvent: (event: T) => void;
  /** Each time a stream opens (the first time and after every reconnect). */
  onConnect?: () => void;
  /** A disconnect and the wait before the next attempt (for a line on stderr). */
  onReconnect?: (delayMs: number, reason: string) => void;
  /** Overrides of the backoff bounds (tests). */
  backoff?: { initialMs?: number; maxMs?: number; giveUpMs?: number };
}

export type FollowEnd = 'aborted' | 'done';

/** Something answered 2xx that is not an event stream: another service on that port, a proxy page. */
export class NotAnEventStreamError extends Error {
  override readonly name = 'NotAnEventStreamError';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Follows the stream until `signal` aborts ('aborted') or the manager answers 204 No Content,
 * which in SSE means "do not reconnect" ('done'). The first connection failing is a
 * ManagerUnreachableError; after that, disconnects are retried with backoff, resuming after the
 * last event seen, until no stream has been open for `giveUpMs`. 4xx answers are ApiError.
 */
export function followEvents(opts: FollowOptions): Promise<FollowEnd> {
  return followStream(PATHS.eventStream, opts);
}

/**
 * followEvents for any of the manager's SSE streams: `path` (with its query string) answers
 * `text/event-stream` whose messages carry ids to resume from and one JSON value each.
 */
export async function followStream<T>(path: string, opts: FollowOptions<T>): Promise<FollowEnd> {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const initialMs = opts.backoff?.initialMs ?? RECONNECT_INITIAL_MS;
  const maxMs = opts.backoff?.maxMs ?? RECONNECT_MAX_MS;
  const giveUpMs = opts.backoff?.giveUpMs ?? RECONNECT_GIVE_UP_MS;
  let lastId = opts.after;
  let connectedOnce = false;
  let lastConnectedAt = Date.now();
  let delay = initialMs;
  while (!opts.signal.aborted) {
    let reason: string;
    try {
      const outcome = await streamOnce();
      if (outcome === 'done') return 'done';
      reason = 'the stream ended';
    } catch (err) {
      if (opts.signal.aborted) break;
      if (err instanceof ApiError && err.statusCode < 500) throw err;
      if (err instanceof NotAnEventStreamError) throw err;
      if (!connectedOnce) throw err instanceof ApiError ? err : new ManagerUnreachableError(baseUrl, { cause: err });
      if (Date.now() - lastConnectedAt > giveUpMs) throw err instanceof ApiError ? err : new ManagerUnreachableError(baseUrl, { cause: err });
      reason = err instanceof Error ? err.message : String(err);
    }
    if (opts.signal.aborted) break;
    opts.onReconnect?.(delay, reason);
    await sleep(delay, opts.signal);
    delay = Math.min(delay * 2, maxMs);
  }
  return 'aborted';

  async function streamOnce(): Promise<'done' | 'ended'> {
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    if (lastId !== undefined) headers['last-event-id'] = lastId;
    const res = await request(`${baseUrl}${path}`, {
      method: 'GET',
      headers,
      headersTimeout: CONNECT_TIMEOUT_MS,
      // Heartbeats come every 15 s: four missed ones mean the connection is dead.
      bodyTimeout: 60_000,
      signal: opts.signal,
    });
    if (res.statusCode === 204) {
      await res.body.dump();
      return 'done';
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text();
      let body: ErrorBody | undefined;
      try {
        body = JSON.parse(text) as ErrorBody;
      } catch {
        body = undefined;
      }
      throw new ApiError(res.statusCode, body, `GET ${path} → ${res.statusCode}: ${body?.message ?? text.slice(0, 200)}`);
    }
    const type = String(res.headers['content-type'] ?? '');
    if (!type.startsWith('text/event-stream')) {
      await res.body.dump();
      throw new NotAnEventStreamError(`${baseUrl} did not answer with an event stream (content-type ${type || 'none'}); is it the Flotilla manager's address?`);
    }
    opts.onConnect?.();
    connectedOnce = true;
    lastConnectedAt = Date.now();
    delay = initialMs;
    const parser = new SseParser();
    res.body.setEncoding('utf8');
    for await (const chunk of res.body as AsyncIterable<string>) {
      lastConnectedAt = Date.now();
      for (const message of parser.feed(chunk)) {
        if (message.id !== undefined) lastId = message.id;
        let view: T;
        try {
          view = JSON.parse(message.data) as T;
        } catch {
          continue;
        }
        opts.onEvent(view);
      }
    }
    return 'ended';
  }
}
