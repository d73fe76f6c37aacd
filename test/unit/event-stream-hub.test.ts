/**
 * The event stream's hub on a MemoryStore with fake responses: one poller whatever the number of
 * clients and none without them, the same events to every client, the SSE framing, heartbeats,
 * slow clients dropped with a final comment, and close() ending every stream.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, test } from 'node:test';
import { compareEventIds, EventStreamHub } from '../../src/manager/event-stream.js';
import { MemoryStore } from '../../src/store/index.js';
import { createLogger } from '../../src/common/logger.js';
import { SseParser } from '../../src/client/event-stream.js';

const log = createLogger({ test: 'event-stream-hub' }, 'silent');
const POLL_MS = 20;

class FakeResponse extends EventEmitter {
  text = '';
  writableLength = 0;
  destroyed = false;
  writableEnded = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  end(chunk?: string): void {
    if (chunk !== undefined) this.text += chunk;
    this.writableEnded = true;
    this.emit('close');
  }
  /** The client going away. */
  hangUp(): void {
    this.destroyed = true;
    this.emit('close');
  }
  ids(): string[] {
    return new SseParser().feed(this.text).map((m) => m.id ?? '');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, probe: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('EventStreamHub', () => {
  let hub: EventStreamHub | undefined;
  afterEach(() => hub?.close());

  test('compares ids by time, then sequence', () => {
    assert.ok(compareEventIds('9-0', '10-0') < 0);
    assert.ok(compareEventIds('10-2', '10-10') < 0);
    assert.equal(compareEventIds('10-1', '10-1'), 0);
    assert.ok(compareEventIds('1700000000001-0', '1700000000000-99') > 0);
  });

  test('one poller for all clients, only while one is connected; each client gets every event once', async () => {
    const store = new MemoryStore();
    hub = new EventStreamHub(store, log, { pollIntervalMs: POLL_MS });
    const before = await store.appendEvent('leader_elected', { managerId: 'm', data: {} });
    const clients = [new FakeResponse(), new FakeResponse(), new FakeResponse()];
    await Promise.all(clients.map((c) => hub!.attach(c as unknown as ServerResponse, null)));
    assert.equal(hub.size, 3);
    const appended = [await store.appendEvent('container_joined', { containerId: 'a', data: {} }), await store.appendEvent('container_down', { containerId: 'a', data: {} })];
    await until('every client to get both events', () => clients.every((c) => c.ids().length === 2));
    for (const c of clients) {
      assert.deepEqual(c.ids(), appended.map((e) => e.id), 'not the event from before they connected');
      assert.match(c.text, /^id: \d+-\d+\nevent: container_joined\ndata: \{.*"container_id":"a".*\}\n\n/);
    }
    assert.notEqual(before.id, appended[0]!.id);
    // Three clients for ~10 intervals: about 10 polls, not 30.
    const polls0 = hub.polls;
    await sleep(POLL_MS * 10);
    assert.ok(hub.polls - polls0 <= 14, `${hub.polls - polls0} polls in 10 intervals`);
    for (const c of clients) c.hangUp();
    assert.equal(hub.size, 0);
    const idle = hub.polls;
    await sleep(POLL_MS * 5);
    assert.ok(hub.polls - idle <= 1, 'no polling without clients');
  });

  test('a client that resumes gets the backlog, then live events, none twice', async () => {
    const store = new MemoryStore();
    hub = new EventStreamHub(store, log, { pollIntervalMs: POLL_MS });
    const first = await store.appendEvent('container_joined', { containerId: 'a', data: {} });
    const second = await store.appendEvent('container_cordoned', { containerId: 'a', data: {} });
    const client = new FakeResponse();
    await hub.attach(client as unknown as ServerResponse, first.id);
    const third = await store.appendEvent('container_down', { containerId: 'a', data: {} });
    await until('the live event', () => client.ids().length === 2);
    await sleep(POLL_MS * 3);
    assert.deepEqual(client.ids(), [second.id, third.id]);
  });

  test('heartbeats; a slow client is dropped with a final comment; close() ends the rest', async () => {
    const store = new MemoryStore();
    hub = new EventStreamHub(store, log, { pollIntervalMs: POLL_MS, heartbeatMs: 30, maxBufferedBytes: 100 });
    const slow = new FakeResponse();
    const fine = new FakeResponse();
    await hub.attach(slow as unknown as ServerResponse, null);
    await hub.attach(fine as unknown as ServerResponse, null);
    await until('a heartbeat', () => fine.text.includes(': heartbeat\n\n'));
    slow.writableLength = 1_000;
    await store.appendEvent('container_joined', { containerId: 'b', data: {} });
    await until('the slow client to be dropped', () => slow.writableEnded);
    assert.match(slow.text, /: dropped: too slow\n\n$/);
    await until('the event', () => fine.ids().length === 1);
    assert.equal(hub.size, 1);
    await hub.close();
    assert.ok(fine.writableEnded);
    assert.match(fine.text, /: manager shutting down\n\n$/);
    assert.equal(hub.size, 0);
    // Later clients are turned away at once.
    const late = new FakeResponse();
    await hub.attach(late as unknown as ServerResponse, null);
    assert.ok(late.writableEnded);
  });
});
