/**
 * Following `GET /api/v1/cluster/events/stream` (Server-Sent Events): the SSE parser (sse-parser.ts)
 * and a follower that reconnects with `Last-Event-ID` after a disconnect, with backoff, so no
 * event is missed or repeated. Used by `flotilla events -f` and the tests.
 */
import { request, type Dispatcher } from 'undici';
import type { EventView } from '../protocol/api.js';
import { PATHS } from '../protocol/paths.js';
import { ApiError, ManagerUnreachableError } from './api-client.js';
import type { ErrorBody } from '../protocol/api.js';
import { SseParser } from './sse-parser.js';

// The parser lives in its own file (no Node APIs) so that the dashboard can bundle it too.
export { SseParser, type SseMessage } from './sse-parser.js';

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
  /** An https manager's CA (the CLI's --ca-file). */
  dispatcher?: Dispatcher;
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
      ...(opts.dispatcher === undefined ? {} : { dispatcher: opts.dispatcher }),
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
