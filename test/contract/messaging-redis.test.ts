/**
 * The messaging contract on a real redis-server (a random key prefix per test; `peer` is a second
 * store on its own connection), then what only Redis has: key layout and hash tags, the Lua id
 * helpers, the derived agent indexes, and the blocking-read connections.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisStore, StoreUnavailableError, connectRedis, waitForRedis } from '../../src/store/index.js';
import { STREAM_ID_HELPERS } from '../../src/store/redis/scripts/lua-helpers.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { describeMessagingContract, message, newAgent, type MessagingStoreOptions } from './messaging-contract.js';

const READY_TIMEOUT_MS = 5_000;

let server: RedisServer;
let admin: Redis;

before(async () => {
  server = await startRedisServer();
  admin = connectRedis(server.url, { name: 'flotilla-test-admin' });
  await waitForRedis(admin, READY_TIMEOUT_MS);
});

after(async () => {
  await admin?.quit();
  await server?.stop();
});

function randomPrefix(): string {
  return `flotilla-test-${randomBytes(6).toString('hex')}:`;
}

async function connectedStore(prefix: string, options: MessagingStoreOptions = {}, name = 'flotilla-test'): Promise<RedisStore> {
  const redis = connectRedis(server.url, { name });
  await waitForRedis(redis, READY_TIMEOUT_MS);
  return new RedisStore({ redis, prefix, ...options });
}

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

describeMessagingContract('redis', async (options = {}) => {
  const prefix = randomPrefix();
  const store = await connectedStore(prefix, options);
  const peer = await connectedStore(prefix, options, 'flotilla-test-peer');
  return {
    store,
    peer,
    cleanup: async () => {
      const keys = await keysUnder(prefix);
      if (keys.length > 0) await admin.del(...keys);
      await store.close();
      await peer.close();
    },
  };
});

describe('RedisStore messaging only', () => {
  it('keeps each agent under {a:<id>}, topics under {t:…}, inboxes under {i:…} and the indexes in {c}', async () => {
    const prefix = randomPrefix();
    const store = await connectedStore(prefix);
    try {
      await store.createAgent(newAgent('reviewer/alice', { containerId: 'c1', epoch: 1 }));
      const m = message({ messageId: 'm-1' });
      const appended = await store.appendMessage('reviewer/alice', m);
      await store.appendMessage('reviewer/alice', message({ messageId: 'm-2' }));
      assert.ok(appended.ok);
      await store.commitTurn('reviewer/alice', { owner: 'c1', epoch: 1 }, { entryId: appended.entryId, state: '{}', reply: { inbox: 'm1', ref: 'm-1', body: '1' } });
      await store.subscribe('news', 'reviewer/alice');
      await store.pushInbox('m1', { kind: 'reply', ref: 'm-1', body: '1' });
      const keys = (await keysUnder(prefix)).map((k) => k.slice(prefix.length)).sort();
      assert.deepEqual(keys, [
        '{a:reviewer/alice}:agent',
        '{a:reviewer/alice}:dedup:m-1',
        '{a:reviewer/alice}:dedup:m-2',
        '{a:reviewer/alice}:mailbox',
        '{a:reviewer/alice}:reply',
        '{a:reviewer/alice}:state',
        '{c}:agents',
        '{c}:agents-on-version:c1',
        '{c}:agents-on:c1',
        '{i:m1}:inbox',
        '{t:news}:subscribers',
      ]);
      const ttl = await admin.pttl(`${prefix}{a:reviewer/alice}:dedup:m-1`);
      assert.ok(ttl > 23 * 3_600_000, `dedup ttl ${ttl}`);
      assert.deepEqual(await admin.hmget(`${prefix}{a:reviewer/alice}:agent`, 'owner', 'epoch'), ['c1', '1']);
    } finally {
      await store.close();
    }
  });

  it('sets a ttlMs as the inbox key\'s PTTL in the same step, and a plain XADD (as a runtime pushes) keeps it', async () => {
    const prefix = randomPrefix();
    const store = await connectedStore(prefix);
    try {
      const key = `${prefix}{i:reply.m-1}:inbox`;
      await store.pushInbox('reply.m-1', { kind: 'control', ref: 'accepted', body: '{}' }, { ttlMs: 3_600_000 });
      const ttl = await admin.pttl(key);
      assert.ok(ttl > 3_500_000 && ttl <= 3_600_000, `pttl ${ttl}`);
      await admin.xadd(key, '*', 'kind', 'reply', 'ref', 'm-1', 'body', '{}');
      await store.pushInbox('reply.m-1', { kind: 'reply', ref: 'm-1', body: '{}' });
      assert.ok((await admin.pttl(key)) > 3_500_000, 'XADD keeps the TTL');
      await store.pushInbox('plain', { kind: 'ring', ref: 'w/a', body: '{}' });
      assert.equal(await admin.pttl(`${prefix}{i:plain}:inbox`), -1, 'no ttlMs: no expiry');
    } finally {
      await store.close();
    }
  });

  it('compares and steps stream ids as numbers in Lua', async () => {
    const cmp = async (a: string, b: string): Promise<unknown> => admin.eval(`${STREAM_ID_HELPERS}\nreturn cmpId(ARGV[1], ARGV[2])`, 0, a, b);
    assert.equal(await cmp('10-0', '9-5'), 1);
    assert.equal(await cmp('9-5', '10-0'), -1);
    assert.equal(await cmp('5-10', '5-9'), 1);
    assert.equal(await cmp('5-9', '5-9'), 0);
    assert.equal(await cmp('0-0', '0-1'), -1);
    assert.equal(await cmp('18446744073709551615-0', '18446744073709551614-9'), 1);
    assert.equal(await cmp('1700000000000-0', '999999999999-99'), 1);
    const next = async (id: string): Promise<unknown> => admin.eval(`${STREAM_ID_HELPERS}\nreturn nextId(ARGV[1])`, 0, id);
    assert.equal(await next('1700000000000-0'), '1700000000000-1');
    assert.equal(await next('5-9'), '5-10');
  });

  it('reads the indexes against the agent hashes, and a retried change repairs them', async () => {
    const prefix = randomPrefix();
    const store = await connectedStore(prefix);
    try {
      await store.createAgent(newAgent('w/a', { containerId: 'c1', epoch: 1 }));
      // As if a process died between the agent's script and the index write of a move to c2.
      await admin.hset(`${prefix}{a:w/a}:agent`, 'owner', 'c2', 'epoch', '1');
      assert.deepEqual(await store.listAgentsOn('c1'), [], 'a stale entry is not listed');
      assert.deepEqual(await store.listAgentsOn('c2'), [], 'the missing entry is not there yet');
      await store.assignAgent('w/a', { owner: 'c2', epoch: 1 }, 'active');
      assert.deepEqual(await store.listAgentsOn('c2'), ['w/a']);
      // The stale c1 entry stays (removing it on read would race with a move back) but is never listed.
      assert.deepEqual(await store.listAgentsOn('c1'), []);

      // Created, but the index write was lost: a retried createAgent says false and repairs it.
      await admin.srem(`${prefix}{c}:agents`, 'w/a');
      assert.deepEqual(await store.listAgents(), []);
      assert.equal(await store.createAgent(newAgent('w/a')), false);
      assert.deepEqual(
        (await store.listAgents()).map((a) => a.id),
        ['w/a'],
      );

      // An index entry whose agent is gone is skipped.
      await admin.sadd(`${prefix}{c}:agents`, 'w/gone');
      await admin.sadd(`${prefix}{c}:agents-on:c2`, 'w/gone');
      assert.deepEqual(
        (await store.listAgents()).map((a) => a.id),
        ['w/a'],
      );
      assert.deepEqual(await store.listAgentsOn('c2'), ['w/a']);
    } finally {
      await store.close();
    }
  });

  it('opens blocking connections only when a read blocks, one per concurrent read, and closes them', async () => {
    const store = await connectedStore(randomPrefix(), {}, 'flotilla-test-pool');
    const blockingClients = async (): Promise<number> =>
      String(await admin.call('CLIENT', 'LIST')).split('\n').filter((line) => / name=flotilla-test-pool-blocking /.test(line)).length;
    try {
      await store.readInbox('c1', '0-0', 0);
      assert.equal(store.blockingConnections, 0);
      assert.equal(await blockingClients(), 0);
      const reads = [store.readInbox('c1', '0-0', 2_000), store.readInbox('c2', '0-0', 2_000)];
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(store.blockingConnections, 2);
      assert.equal(await blockingClients(), 2);
      await store.pushInbox('c1', { kind: 'ring', ref: 'w/a', body: '{}' });
      await store.pushInbox('c2', { kind: 'ring', ref: 'w/b', body: '{}' });
      await Promise.all(reads);
      await store.readInbox('c1', '0-0', 100);
      assert.equal(store.blockingConnections, 2, 'kept for reuse');
    } finally {
      await store.close();
    }
    assert.equal(store.blockingConnections, 0);
    const deadline = Date.now() + 2_000;
    while ((await blockingClients()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.equal(await blockingClients(), 0);
  });

  it('bounds a blocking read when Redis does not answer', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    assert.ok(address && typeof address === 'object');
    const redis = connectRedis(`redis://127.0.0.1:${address.port}`);
    const store = new RedisStore({ redis, prefix: randomPrefix(), blockingReadGraceMs: 300 });
    try {
      const started = performance.now();
      await assert.rejects(store.readInbox('c1', '0-0', 200), StoreUnavailableError);
      const ms = performance.now() - started;
      assert.ok(ms >= 450 && ms < 2_000, `failed after ${ms} ms`);
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
