/**
 * The messaging API over real HTTP with in-process managers: on the memory store, then on a real
 * redis-server with two managers (a reply polled from the other replica, the reply reader's
 * blocking reads, the reply inboxes' TTLs). The test plays the container (helpers/fake-runtime.ts):
 * it sees the rings, reads the mailboxes and pushes the replies.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { request } from 'undici';
import { createLogger } from '../../src/common/logger.js';
import { managerConfigFromEnv } from '../../src/manager/config.js';
import type { MessagingSettings } from '../../src/manager/messaging-context.js';
import { Manager } from '../../src/manager/manager.js';
import { topicCopyId } from '../../src/manager/routes/topics.js';
import type { ErrorBody } from '../../src/protocol/api.js';
import type { CommunicationResponse, MessageOutcome, NoReplyBody, PublishResponse, SubscribersResponse } from '../../src/protocol/messages-api.js';
import { MESSAGE_MAX_BYTES, MESSAGE_PATHS } from '../../src/protocol/messages-api.js';
import { containerInbox, managerInbox } from '../../src/protocol/runtime.js';
import { MemoryStore, RedisStore, connectRedis, waitForRedis, type NewAgent, type Store } from '../../src/store/index.js';
import { FakeRuntime, registerFakeContainer } from '../helpers/fake-runtime.js';
import { http, waitFor } from '../helpers/processes.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const log = createLogger({ test: 'messages-api' }, 'silent');
const FAST: Partial<MessagingSettings> = { replyBlockMs: 200 };
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

type Answer = MessageOutcome & NoReplyBody & ErrorBody;

async function startManager(store: Store, id: string, messaging: Partial<MessagingSettings> = FAST): Promise<{ manager: Manager; url: string }> {
  const config = managerConfigFromEnv({ CLUSTER_PORT: '0', FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_MANAGER_ID: id });
  const manager = new Manager({ store, config, log, messaging });
  await manager.start();
  return { manager, url: `http://127.0.0.1:${manager.port}` };
}

function agent(id: string, containerId: string | null): NewAgent {
  const [type = '', name = ''] = id.split('/');
  return {
    id,
    type,
    name,
    config: {},
    placement: { strategy: 'least_loaded', constraints: {} },
    state: containerId === null ? 'pending' : 'active',
    ...(containerId === null ? {} : { containerId, epoch: 1 }),
  };
}

const sendPath = (agentId: string): string => MESSAGE_PATHS.agentMessages(...(agentId.split('/') as [string, string]));
const pollPath = (agentId: string, messageId: string): string => MESSAGE_PATHS.agentMessage(...(agentId.split('/') as [string, string]), messageId);

describe('messages API on the memory store', () => {
  const store = new MemoryStore();
  const c1 = new FakeRuntime(store, 'c1');
  const c2 = new FakeRuntime(store, 'c2');
  let manager: Manager;
  let url: string;
  const send = (agentId: string, body: unknown, headers: Record<string, string> = {}) => http<Answer>('POST', `${url}${sendPath(agentId)}`, body, headers);
  const poll = (agentId: string, messageId: string) => http<Answer>('GET', `${url}${pollPath(agentId, messageId)}`);

  before(async () => {
    await registerFakeContainer(store, 'c1', ['echo']);
    await registerFakeContainer(store, 'c2', ['echo']);
    ({ manager, url } = await startManager(store, 'mgr-mem'));
    // No container serves `lonely`: the reconciler leaves it unplaced.
    for (const [id, owner] of [
      ['echo/a', 'c1'],
      ['echo/b', 'c1'],
      ['echo/c', 'c2'],
      ['lonely/unplaced', null],
    ] as const) {
      assert.ok(await store.createAgent(agent(id, owner)));
    }
  });
  after(async () => {
    await manager.stop();
    await store.close();
  });

  test('a request is accepted, rings the owner once, and its reply is the 200 answer', async () => {
    await c1.inbox();
    const answer = send('echo/a', { message: { text: 'hi' }, timeout_ms: 5_000 }, { traceparent: TRACEPARENT });
    const entry = await c1.receive('echo/a');
    assert.equal(entry.kind, 'request');
    assert.equal(entry.from, 'api');
    assert.equal(entry.body, '{"text":"hi"}');
    assert.equal(entry.replyTo, managerInbox('mgr-mem'));
    assert.equal(entry.traceparent, TRACEPARENT);
    assert.ok(entry.deadlineMs !== undefined && entry.deadlineMs > Date.now() && entry.deadlineMs <= Date.now() + 5_000);
    assert.match(entry.messageId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const rings = await c1.rings(2_000);
    assert.deepEqual(
      rings.map((r) => [r.kind, r.ref, r.body]),
      [['ring', 'echo/a', '{}']],
    );
    await c1.ok(entry, 'echo/a', { echoed: 'hi' });
    const res = await answer;
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { message_id: entry.messageId, agent_id: 'echo/a', status: 'completed', result: { echoed: 'hi' }, container_id: 'c1' });
  });

  test('a handler error is 200 with status failed and the agent\'s error', async () => {
    const answer = send('echo/a', { message: 'boom' }, { traceparent: 'not-a-traceparent' });
    const entry = await c1.receive('echo/a');
    // An invalid traceparent is dropped, and the message starts a trace of its own.
    assert.match(entry.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.ok(!entry.traceparent!.includes('not-a-traceparent'));
    await c1.fail(entry, 'echo/a', 'handler_error', 'it broke');
    const res = await answer;
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'failed');
    assert.deepEqual(res.body.error, { code: 'handler_error', message: 'it broke' });
  });

  test('no reply in time is 504 with the message id; the message stays accepted and a late reply can be polled', async () => {
    const messageId = randomUUID();
    const res = await send('echo/b', { message: 1, message_id: messageId, timeout_ms: 300 });
    assert.equal(res.status, 504);
    assert.equal(res.body.error, 'reply_timeout');
    assert.equal(res.body.message_id, messageId);
    assert.match(res.body.message, /accepted; no reply within 300 ms; poll GET \/api\/v1\/agents\/echo\/b\/messages\//);
    const entry = await c1.receive('echo/b');
    assert.equal(entry.messageId, messageId, 'still in the mailbox');
    assert.equal((await poll('echo/b', messageId)).body.status, 'pending');
    // The late reply goes to the manager's inbox; the manager forwards it where polls look.
    await c1.ok(entry, 'echo/b', 'late');
    const done = await waitFor('the late reply', async () => {
      const p = await poll('echo/b', messageId);
      return p.body.status === 'completed' ? p : undefined;
    });
    assert.equal(done.status, 200);
    assert.equal(done.body.result, 'late');
  });

  test('a client that gives up waiting leaves the reply to be polled', async () => {
    const messageId = randomUUID();
    const gaveUp = new AbortController();
    const answer = request(`${url}${sendPath('echo/b')}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'bye', message_id: messageId }),
      signal: gaveUp.signal,
    }).catch((err: unknown) => err);
    const entry = await c1.receive('echo/b');
    assert.equal(entry.messageId, messageId);
    // It waits from before the append; once the client is gone the message is marked pending.
    gaveUp.abort();
    await answer;
    await waitFor('the wait to end', async () => (await poll('echo/b', messageId)).body.status === 'pending');
    await c1.ok(entry, 'echo/b', 'too late for the client');
    const done = await waitFor('the forwarded reply', async () => {
      const p = await poll('echo/b', messageId);
      return p.body.status === 'completed' ? p.body : undefined;
    });
    assert.equal(done.result, 'too late for the client');
  });

  test('wait false is 202 at once; the reply goes to the message\'s own inbox and is polled', async () => {
    const res = await send('echo/c', { message: { job: 1 }, wait: false });
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'accepted');
    const messageId = res.body.message_id;
    const entry = await c2.receive('echo/c');
    assert.equal(entry.messageId, messageId);
    assert.equal(entry.replyTo, `reply.${messageId}`);
    const pending = await poll('echo/c', messageId);
    assert.deepEqual([pending.status, pending.body.status], [200, 'pending']);
    await c2.ok(entry, 'echo/c', { done: true });
    const done = await poll('echo/c', messageId);
    assert.deepEqual(done.body, { message_id: messageId, agent_id: 'echo/c', status: 'completed', result: { done: true }, container_id: 'c2' });
    const elsewhere = await poll('echo/a', messageId);
    assert.equal(elsewhere.status, 404, 'not under another agent');
    assert.equal((await poll('echo/c', randomUUID())).status, 404);
  });

  test('a repeated message_id appends nothing, and answers what is known with duplicate: true', async () => {
    const messageId = randomUUID();
    const first = await send('echo/c', { message: 'once', message_id: messageId, wait: false });
    assert.equal(first.status, 202);
    const again = await send('echo/c', { message: 'once', message_id: messageId.toUpperCase(), wait: false });
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, { message_id: messageId, agent_id: 'echo/c', status: 'accepted', duplicate: true });
    const entry = await c2.receive('echo/c');
    assert.equal(entry.messageId, messageId);
    await c2.ok(entry, 'echo/c', 'answered');
    const third = await send('echo/c', { message: 'once', message_id: messageId });
    assert.equal(third.status, 200);
    assert.equal(third.body.result, 'answered');
    assert.equal(third.body.duplicate, true);
    const mailbox = await store.readMailbox('echo/c', '0-0');
    assert.equal(mailbox.filter((e) => e.messageId === messageId).length, 1, 'one entry for three posts');
  });

  test('a tell is 202 with no reply asked for; an unplaced agent gets its message and no ring', async () => {
    await c1.inbox();
    await c2.inbox();
    const tell = await send('echo/a', { message: 'fyi', kind: 'tell' });
    assert.equal(tell.status, 202);
    const entry = await c1.receive('echo/a');
    assert.deepEqual([entry.kind, entry.replyTo, entry.deadlineMs], ['tell', undefined, undefined]);
    const unplaced = await send('lonely/unplaced', { message: 'later', wait: false });
    assert.equal(unplaced.status, 202);
    assert.equal((await store.readMailbox('lonely/unplaced', '0-0')).length, 1);
    const rings = (await c1.rings()).concat(await c2.rings());
    assert.deepEqual(
      rings.map((r) => r.ref),
      ['echo/a'],
    );
  });

  test('bad input is a 400 naming the field, and nothing is appended', async () => {
    const before = (await store.readMailbox('echo/a', '0-0', 100)).length;
    const cases: [unknown, string][] = [
      [{}, 'message'],
      [{ message: 1, message_id: 'not-a-uuid' }, 'message_id'],
      [{ message: 1, timeout_ms: 0 }, 'timeout_ms'],
      [{ message: 1, timeout_ms: 300_001 }, 'timeout_ms'],
      [{ message: 1, timeout_ms: '5' }, 'timeout_ms'],
      [{ message: 1, wait: 'yes' }, 'wait'],
      [{ message: 1, kind: 'shout' }, 'kind'],
      [{ message: 1, colour: 'blue' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const res = await send('echo/a', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error, 'validation_failed');
      assert.equal(res.body.field, field, JSON.stringify(res.body));
    }
    const badName = await http<ErrorBody>('POST', `${url}/api/v1/agents/echo/a%7Bb%7D/messages`, { message: 1 });
    assert.deepEqual([badName.status, badName.body.field], [400, 'name']);
    const big = await send('echo/a', { message: 'x'.repeat(MESSAGE_MAX_BYTES) });
    assert.deepEqual([big.status, big.body.error, big.body.field], [413, 'payload_too_large', 'message']);
    assert.equal((await store.readMailbox('echo/a', '0-0', 100)).length, before);
  });

  test('an unknown agent is 404 for a send and for a poll', async () => {
    for (const wait of [true, false]) {
      const res = await send('echo/nobody', { message: 1, wait });
      assert.deepEqual([res.status, res.body.error], [404, 'not_found']);
      assert.match(res.body.message, /agent "echo\/nobody" not found/);
    }
    assert.equal((await poll('echo/nobody', randomUUID())).status, 404);
  });

  test('a publish gives every subscriber one copy and its owner one ring; a retry adds nothing', async () => {
    const topic = 'news';
    for (const id of ['echo/a', 'echo/b', 'echo/c']) {
      const res = await http('POST', `${url}${MESSAGE_PATHS.topicSubscribers(topic)}`, { agent_id: id });
      assert.equal(res.status, 200);
    }
    await store.createAgent(agent('echo/gone', 'c2'));
    await http('POST', `${url}${MESSAGE_PATHS.topicSubscribers(topic)}`, { agent_id: 'echo/gone' });
    await store.deleteAgent('echo/gone');
    const list = await http<SubscribersResponse>('GET', `${url}${MESSAGE_PATHS.topicSubscribers(topic)}`);
    assert.deepEqual(list.body, { topic, subscribers: ['echo/a', 'echo/b', 'echo/c', 'echo/gone'], count: 4 });
    await c1.inbox();
    await c2.inbox();

    const publishId = randomUUID();
    const res = await http<PublishResponse>('POST', `${url}${MESSAGE_PATHS.topicMessages(topic)}`, { message: { headline: 'x' }, message_id: publishId });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { message_id: publishId, topic, delivered_to: ['echo/a', 'echo/b', 'echo/c'], count: 3, duplicates: 0 });
    for (const [runtime, id] of [
      [c1, 'echo/a'],
      [c1, 'echo/b'],
      [c2, 'echo/c'],
    ] as const) {
      const entry = await runtime.receive(id);
      assert.deepEqual([entry.kind, entry.topic, entry.from, entry.body], ['topic', topic, 'api', '{"headline":"x"}']);
      assert.equal(entry.messageId, topicCopyId(publishId, topic, id));
    }
    const rings = [...(await c1.rings()), ...(await c2.rings())].map((r) => `${r.kind}:${r.ref}`).sort();
    assert.deepEqual(rings, ['ring:echo/a', 'ring:echo/b', 'ring:echo/c']);
    assert.deepEqual((await http<SubscribersResponse>('GET', `${url}${MESSAGE_PATHS.topicSubscribers(topic)}`)).body.count, 3, 'the deleted agent was unsubscribed');

    const retry = await http<PublishResponse>('POST', `${url}${MESSAGE_PATHS.topicMessages(topic)}`, { message: { headline: 'x' }, message_id: publishId });
    assert.deepEqual([retry.body.count, retry.body.duplicates], [3, 3]);
    for (const id of ['echo/a', 'echo/b', 'echo/c']) {
      const copies = (await store.readMailbox(id, '0-0', 100)).filter((e) => e.topic === topic);
      assert.equal(copies.length, 1, id);
    }

    const removed = await http('DELETE', `${url}${MESSAGE_PATHS.topicSubscriber(topic, 'echo', 'b')}`);
    assert.equal(removed.status, 200);
    assert.deepEqual(await store.subscribers(topic), ['echo/a', 'echo/c']);
    const unknown = await http<ErrorBody>('POST', `${url}${MESSAGE_PATHS.topicSubscribers(topic)}`, { agent_id: 'echo/nobody' });
    assert.equal(unknown.status, 404);
    const badAgent = await http<ErrorBody>('POST', `${url}${MESSAGE_PATHS.topicSubscribers(topic)}`, { agent_id: 'no-slash' });
    assert.deepEqual([badAgent.status, badAgent.body.field], [400, 'agent_id']);
    const badTopic = await http<ErrorBody>('POST', `${url}/api/v1/topics/a%7Bb%7D/messages`, { message: 1 });
    assert.deepEqual([badTopic.status, badTopic.body.field], [400, 'topic']);
    const empty = await http<PublishResponse>('POST', `${url}${MESSAGE_PATHS.topicMessages('quiet')}`, { message: 1 });
    assert.deepEqual([empty.status, empty.body.count], [200, 0]);
  });

  test('communication/message puts a control entry in the container\'s inbox', async () => {
    await registerFakeContainer(store, 'box-1', []);
    const box = new FakeRuntime(store, 'box-1');
    const path = `${url}${MESSAGE_PATHS.communication}`;
    const res = await http<CommunicationResponse>('POST', path, { container_id: 'box-1', message_type: 'reload_config', payload: { level: 2 } });
    assert.equal(res.status, 200);
    assert.deepEqual({ ...res.body, entry_id: 'x' }, { success: true, container_id: 'box-1', message_type: 'reload_config', entry_id: 'x' });
    const [entry] = (await box.inbox()).filter((e) => e.kind === 'control' && e.ref === 'reload_config');
    assert.deepEqual(entry, {
      entryId: res.body.entry_id,
      kind: 'control',
      ref: 'reload_config',
      body: JSON.stringify({ message_type: 'reload_config', payload: { level: 2 }, from: 'api' }),
    });
    const unknown = await http<ErrorBody>('POST', path, { container_id: 'nope', message_type: 'x' });
    assert.deepEqual([unknown.status, unknown.body.error], [404, 'not_found']);
    const bad = await http<ErrorBody>('POST', path, { container_id: 'box-1', message_type: 'has space' });
    assert.deepEqual([bad.status, bad.body.field], [400, 'message_type']);
    const missing = await http<ErrorBody>('POST', path, { message_type: 'x' });
    assert.deepEqual([missing.status, missing.body.field], [400, 'container_id']);
  });

  test('stopping the manager ends a waiting send with 503 and the message id, promptly', async () => {
    const own = new MemoryStore();
    await registerFakeContainer(own, 'c1', ['echo']);
    await own.createAgent(agent('echo/a', 'c1'));
    const started = await startManager(own, 'mgr-stopping');
    const answer = http<Answer>('POST', `${started.url}${sendPath('echo/a')}`, { message: 1, timeout_ms: 60_000 });
    await new FakeRuntime(own, 'c1').receive('echo/a');
    const t0 = performance.now();
    await started.manager.stop();
    const res = await answer;
    assert.ok(performance.now() - t0 < 3_000, 'stop did not wait for the send');
    assert.deepEqual([res.status, res.body.error], [503, 'shutting_down']);
    assert.match(res.body.message_id, /^[0-9a-f-]{36}$/);
    await own.close();
  });
});

describe('messages API when the store does not answer', () => {
  test('a send is 503 store_unavailable, whether it waits or not', async () => {
    const own = new MemoryStore();
    const started = await startManager(own, 'mgr-no-store');
    await own.close();
    try {
      for (const wait of [true, false]) {
        const res = await http<ErrorBody>('POST', `${started.url}${sendPath('echo/a')}`, { message: 1, wait });
        assert.deepEqual([res.status, res.body.error], [503, 'store_unavailable'], JSON.stringify(res.body));
      }
    } finally {
      await started.manager.stop();
    }
  });
});

describe('messages API on Redis, two managers', () => {
  let server: RedisServer;
  let admin: Redis;
  const prefix = `flotilla-msg-${randomUUID().slice(0, 8)}:`;
  const stores: RedisStore[] = [];
  let a: { manager: Manager; url: string };
  let b: { manager: Manager; url: string };
  let runtime: FakeRuntime;
  const RETENTION_MS = 2_000;

  async function redisStore(): Promise<RedisStore> {
    const redis = connectRedis(server.url, { name: 'flotilla-test' });
    await waitForRedis(redis, 5_000);
    const store = new RedisStore({ redis, prefix });
    stores.push(store);
    return store;
  }

  before(async () => {
    server = await startRedisServer();
    admin = connectRedis(server.url, { name: 'flotilla-test-admin' });
    await waitForRedis(admin, 5_000);
    const settings = { replyBlockMs: 200, replyRetentionMs: RETENTION_MS };
    a = await startManager(await redisStore(), 'mgr-a', settings);
    b = await startManager(await redisStore(), 'mgr-b', settings);
    const own = await redisStore();
    await registerFakeContainer(own, 'c1', ['echo']);
    runtime = new FakeRuntime(own, 'c1');
    await own.createAgent(agent('echo/r', 'c1'));
  });
  after(async () => {
    await a?.manager.stop();
    await b?.manager.stop();
    for (const store of stores) await store.close();
    await admin?.quit();
    await server?.stop();
  });

  test('a waiting send gets its reply through the blocking reader; the manager\'s inbox expires on its own', async () => {
    const answer = http<Answer>('POST', `${a.url}${sendPath('echo/r')}`, { message: 'hello' });
    const entry = await runtime.receive('echo/r');
    await runtime.ok(entry, 'echo/r', 'world');
    const res = await answer;
    assert.deepEqual([res.status, res.body.status, res.body.result], [200, 'completed', 'world']);
    const ttl = await admin.pttl(`${prefix}{i:${managerInbox('mgr-a')}}:inbox`);
    assert.ok(ttl > 0, `the manager inbox has a TTL (${ttl})`);
    assert.ok((await runtime.inbox()).some((r) => r.kind === 'ring' && r.ref === 'echo/r'));
    assert.equal((await admin.xlen(`${prefix}{i:${containerInbox('c1')}}:inbox`)) > 0, true);
  });

  test('wait false on one manager, polled pending then completed on the other; the reply inbox expires', async () => {
    const res = await http<Answer>('POST', `${a.url}${sendPath('echo/r')}`, { message: 'async', wait: false });
    assert.equal(res.status, 202);
    const messageId = res.body.message_id;
    const key = `${prefix}{i:reply.${messageId}}:inbox`;
    const ttl = await admin.pttl(key);
    // The default deadline is the retention; the inbox outlives it by a retention more.
    assert.ok(ttl > RETENTION_MS && ttl <= 2 * RETENTION_MS, `reply inbox TTL ${ttl}`);
    assert.equal((await http<Answer>('GET', `${b.url}${pollPath('echo/r', messageId)}`)).body.status, 'pending');
    const entry = await runtime.receive('echo/r');
    await runtime.ok(entry, 'echo/r', { n: 42 });
    assert.ok((await admin.pttl(key)) > 0, 'the runtime\'s plain push kept the TTL');
    const done = await http<Answer>('GET', `${b.url}${pollPath('echo/r', messageId)}`);
    assert.deepEqual([done.status, done.body.status, done.body.result], [200, 'completed', { n: 42 }]);
    await waitFor('the reply inbox to expire', async () => (await admin.exists(key)) === 0, RETENTION_MS * 4);
    assert.equal((await http('GET', `${b.url}${pollPath('echo/r', messageId)}`)).status, 404, 'forgotten after the retention');
  });

  test('a 504 on one manager, the late reply forwarded, and polled on the other', async () => {
    const res = await http<Answer>('POST', `${a.url}${sendPath('echo/r')}`, { message: 'slow', timeout_ms: 200 });
    assert.equal(res.status, 504);
    const entry = await runtime.receive('echo/r');
    assert.equal(entry.messageId, res.body.message_id);
    assert.equal((await http<Answer>('GET', `${b.url}${pollPath('echo/r', entry.messageId)}`)).body.status, 'pending');
    await runtime.ok(entry, 'echo/r', 'finally');
    const done = await waitFor('the forwarded reply', async () => {
      const p = await http<Answer>('GET', `${b.url}${pollPath('echo/r', entry.messageId)}`);
      return p.body.status === 'completed' ? p.body : undefined;
    });
    assert.equal(done.result, 'finally');
  });
});
