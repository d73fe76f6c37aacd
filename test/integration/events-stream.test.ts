/**
 * `GET /api/v1/cluster/events/stream` on an in-process manager (MemoryStore, short leases) over
 * real HTTP: a container registered through the API and never renewed shows up on the stream as
 * `container_down`; a stream resumed with Last-Event-ID (or ?after=) gets only later events;
 * stopping the manager ends open streams instead of waiting for them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { MemoryStore } from '../../src/store/index.js';
import { Manager } from '../../src/manager/manager.js';
import { managerConfigFromEnv } from '../../src/manager/config.js';
import { createLogger } from '../../src/common/logger.js';
import { SseParser, type SseMessage } from '../../src/client/event-stream.js';
import type { EventView, RegisterResponse } from '../../src/protocol/api.js';
import { http } from '../helpers/processes.js';

const log = createLogger({ test: 'events-stream' }, 'silent');
const STREAM = '/api/v1/cluster/events/stream';
/** Leader election, a missed lease and the detector, on a loaded CI machine. */
const EVENT_WAIT_MS = 15_000;
const HEARTBEAT_MS = 200;

interface Stream {
  status: number;
  contentType: string;
  messages: SseMessage[];
  raw: () => string;
  /** The first message (from index `from`) that matches, waiting at most `timeoutMs`. */
  next: (match: (m: SseMessage, view: EventView) => boolean, timeoutMs?: number) => Promise<SseMessage & { view: EventView }>;
  /** Resolves when the server ends the body. */
  ended: Promise<void>;
  close: () => void;
}

async function openStream(url: string, headers: Record<string, string> = {}): Promise<Stream> {
  const controller = new AbortController();
  const res = await request(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal, headersTimeout: 5_000, bodyTimeout: 0 });
  const messages: SseMessage[] = [];
  let raw = '';
  const waiters = new Set<() => void>();
  const parser = new SseParser();
  res.body.setEncoding('utf8');
  const ended = (async () => {
    try {
      for await (const chunk of res.body as AsyncIterable<string>) {
        raw += chunk;
        messages.push(...parser.feed(chunk));
        for (const w of waiters) w();
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  })();
  const next: Stream['next'] = (match, timeoutMs = EVENT_WAIT_MS) =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        for (const m of messages) {
          const view = JSON.parse(m.data) as EventView;
          if (match(m, view)) {
            waiters.delete(check);
            clearTimeout(timer);
            return resolve({ ...m, view });
          }
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching event within ${timeoutMs} ms; got ${messages.map((m) => m.event).join(', ') || 'none'}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return {
    status: res.statusCode,
    contentType: String(res.headers['content-type']),
    messages,
    raw: () => raw,
    next,
    ended,
    close: () => controller.abort(),
  };
}

function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

describe('the cluster event stream (SSE)', { timeout: 60_000 }, () => {
  const store = new MemoryStore();
  let manager: Manager;
  let base: string;
  const streams: Stream[] = [];
  const open = async (path: string, headers?: Record<string, string>): Promise<Stream> => {
    const s = await openStream(`${base}${path}`, headers);
    streams.push(s);
    return s;
  };
  const register = async (name: string): Promise<RegisterResponse> => {
    const res = await http<RegisterResponse>('POST', `${base}/api/v1/cluster/containers/register`, {
      container_name: name,
      host_address: '127.0.0.1',
      api_port: 9,
      lease_interval_ms: 100,
      lease_timeout_ms: 300,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  before(async () => {
    const config = managerConfigFromEnv({
      CLUSTER_PORT: '0',
      FLOTILLA_BIND_ADDRESS: '127.0.0.1',
      FLOTILLA_LEASE_INTERVAL_MS: '100',
      FLOTILLA_LEASE_TIMEOUT_MS: '300',
      FLOTILLA_LEADER_LEASE_MS: '300',
      FLOTILLA_DETECTOR_INTERVAL_MS: '50',
    });
    manager = new Manager({ store, config, log, eventStream: { heartbeatMs: HEARTBEAT_MS } });
    await manager.start();
    base = `http://127.0.0.1:${manager.port}`;
  });
  after(async () => {
    for (const s of streams) s.close();
    await manager.stop();
    await store.close();
  });

  let joined: SseMessage & { view: EventView };
  let down: SseMessage & { view: EventView };

  test("delivers a container's failure event (container_down) as it happens", async () => {
    const live = await open(STREAM);
    assert.equal(live.status, 200);
    assert.match(live.contentType, /^text\/event-stream/);
    const { container_id: id } = await register('sse-box');
    // Never renewed: the lease lapses and the leader's failure detector marks it down.
    joined = await live.next((_, v) => v.type === 'container_joined' && v.container_id === id);
    down = await live.next((_, v) => v.type === 'container_down' && v.container_id === id);
    assert.equal(down.event, 'container_down');
    assert.equal(down.id, down.view.id, 'the SSE id is the event id');
    assert.ok(down.view.timestamp.endsWith('Z'));
    // The same event as GET /cluster/events gives.
    const listed = await http<{ events: EventView[] }>('GET', `${base}/api/v1/cluster/events?limit=1000`);
    assert.deepEqual(
      listed.body.events.find((e) => e.id === down.id),
      down.view,
    );
    // Each event once, in id order.
    const ids = live.messages.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length);
    // Heartbeat comments keep a quiet stream open.
    await within('a heartbeat', 5_000, (async () => {
      while (!live.raw().includes(': heartbeat\n\n')) await new Promise((r) => setTimeout(r, 20));
    })());
  });

  test('resuming with Last-Event-ID or ?after= replays only the later events', async () => {
    const replay = await open(STREAM, { 'last-event-id': joined.id! });
    const first = await replay.next(() => true);
    assert.notEqual(first.view.type, 'container_joined');
    assert.ok(replay.messages.every((m) => m.id !== joined.id), 'not the event it resumed after');
    await replay.next((m) => m.id === down.id);

    const byQuery = await open(`${STREAM}?after=${encodeURIComponent(down.id!)}`);
    const header = await open(`${STREAM}?after=1-0`, { 'last-event-id': down.id! });
    const { container_id: second } = await register('sse-box-2');
    for (const s of [byQuery, header]) {
      const e = await s.next((_, v) => v.container_id === second);
      assert.equal(e.view.type, 'container_joined');
      assert.equal(s.messages[0]?.id, e.id, 'nothing from before the resume point (the header wins over ?after=)');
    }
  });

  test('a malformed Last-Event-ID is a 400', async () => {
    const res = await http('GET', `${base}${STREAM}`, undefined, { 'last-event-id': 'nope' });
    assert.equal(res.status, 400);
  });

  test('stopping the manager ends open streams and does not hang', async () => {
    const a = await open(STREAM);
    const b = await open(STREAM, { 'last-event-id': down.id! });
    await within('manager.stop()', 5_000, manager.stop());
    await within('the streams to end', 5_000, Promise.all([a.ended, b.ended]));
    assert.match(a.raw(), /: manager shutting down\n\n$/);
  });
});
