/**
 * The store contract on a real redis-server (one per file, a random key prefix per test, as
 * BullMQ's tests do), then what only Redis has: key layout, connection URLs, outages, restarts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import {
  MemoryStore,
  RedisStore,
  StoreError,
  StoreUnavailableError,
  connectRedis,
  createStore,
  parseRedisUrl,
  waitForRedis,
} from '../../src/store/index.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { describeStoreContract, registration } from './store-contract.js';
import { describeObservabilityContract } from './observability-contract.js';

const READY_TIMEOUT_MS = 5_000;
/** How long a call may take to fail once Redis is gone (the connection options promise ~3 s). */
const OUTAGE_FAILURE_BOUND_MS = 8_000;

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

async function connectedStore(url: string, prefix: string): Promise<RedisStore> {
  const redis = connectRedis(url, { name: 'flotilla-test' });
  await waitForRedis(redis, READY_TIMEOUT_MS);
  return new RedisStore({ redis, prefix });
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

/** A store under a prefix of its own; cleanup deletes its keys. */
async function freshStore(): Promise<{ store: RedisStore; cleanup(): Promise<void> }> {
  const prefix = randomPrefix();
  const store = await connectedStore(server.url, prefix);
  return {
    store,
    cleanup: async () => {
      const keys = await keysUnder(prefix);
      if (keys.length > 0) await admin.del(...keys);
      await store.close();
    },
  };
}

describeStoreContract('redis', freshStore);
describeObservabilityContract('redis', freshStore);

describe('RedisStore only', () => {
  it('keeps cluster keys under one hash tag and each fenced resource under its own', async () => {
    const prefix = randomPrefix();
    const store = await connectedStore(server.url, prefix);
    try {
      const record = await store.registerContainer(registration('c1'));
      await store.acquireLeadership('m1', 60_000);
      await store.heartbeatManager({ id: 'm1', address: 'http://127.0.0.1:8000', version: '0', startedAtMs: 0 }, 60_000);
      await store.assignFence('agent:echo/a', { owner: 'c1', epoch: record.epoch });
      await store.fencedWrite('agent:echo/a', { owner: 'c1', epoch: record.epoch }, { state: 'x' });
      const keys = (await keysUnder(prefix)).map((k) => k.slice(prefix.length)).sort();
      assert.deepEqual(keys, [
        '{c}:container:c1',
        '{c}:containers',
        '{c}:epochs',
        '{c}:events',
        '{c}:leader',
        '{c}:leader-session',
        '{c}:leader-term',
        '{c}:leases',
        '{c}:manager-deadlines',
        '{c}:manager:m1',
        '{r:agent:echo/a}:data',
        '{r:agent:echo/a}:fence',
      ]);
      assert.equal(store.keys.containers, `${prefix}{c}:containers`);
    } finally {
      await store.close();
    }
  });

  it('keeps two clusters with different prefixes apart on one Redis', async () => {
    const a = await connectedStore(server.url, randomPrefix());
    const b = await connectedStore(server.url, randomPrefix());
    try {
      await a.registerContainer(registration('c1'));
      assert.deepEqual(await b.listContainers(), []);
      assert.equal((await b.registerContainer(registration('c1'))).epoch, 1);
      assert.equal((await a.acquireLeadership('m1', 60_000)).isLeader, true);
      assert.equal((await b.acquireLeadership('m2', 60_000)).isLeader, true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses a key prefix with braces, which would break the hash tags', () => {
    const redis = connectRedis(server.url);
    try {
      assert.throws(() => new RedisStore({ redis, prefix: 'a{b}:' }), StoreError);
    } finally {
      redis.disconnect();
    }
  });

  it('lists many containers correctly', async () => {
    const store = await connectedStore(server.url, randomPrefix());
    try {
      const count = 500;
      await Promise.all(Array.from({ length: count }, (_, i) => store.registerContainer(registration(`c${String(i).padStart(4, '0')}`))));
      const all = await store.listContainers();
      assert.equal(all.length, count);
      assert.equal(all[0]?.id, 'c0000');
      assert.equal(all.at(-1)?.id, `c${String(count - 1).padStart(4, '0')}`);
    } finally {
      await store.close();
    }
  });
});

describe('REDIS_URL handling', () => {
  const rejects = (url: string, pattern: RegExp): void => {
    assert.throws(
      () => connectRedis(url),
      (err: unknown) => err instanceof StoreError && pattern.test(err.message) && err.message.includes('REDIS_URL') && !err.message.includes('s3cret'),
      url,
    );
  };

  it('explains a malformed URL, a wrong scheme and a bad database, without leaking the password', () => {
    rejects('127.0.0.1:6379', /not a valid URL|must start with redis/);
    rejects('not a url', /not a valid URL/);
    rejects('redis://:s3cret@host:99999', /not a valid URL/);
    rejects('http://:s3cret@127.0.0.1:6379', /must start with redis:\/\/ or rediss:\/\//);
    rejects('redis-sentinel://127.0.0.1:26379', /must start with redis:\/\/ or rediss:\/\//);
    rejects('redis://:s3cret@127.0.0.1:6379/zero', /database "zero" is not a number/);
  });

  it('reads host, port, credentials, database and TLS from the URL', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1'), {
      host: '127.0.0.1',
      port: 6379,
      username: undefined,
      password: undefined,
      db: 0,
      tls: false,
    });
    assert.deepEqual(parseRedisUrl('rediss://alice:p%40ss@127.0.0.1:6380/3'), {
      host: '127.0.0.1',
      port: 6380,
      username: 'alice',
      password: 'p@ss',
      db: 3,
      tls: true,
    });
    assert.equal(parseRedisUrl('redis://[::1]:6379').host, '::1');
  });

  it('refuses a CA file without rediss://', () => {
    assert.throws(() => connectRedis(server.url, { tlsCaFile: '/nonexistent/ca.pem' }), /rediss:\/\//);
  });

  it('authenticates with the password and selects the database of the URL', async () => {
    const secured = await startRedisServer({ args: ['--requirepass', 's3cret'] });
    try {
      const store = await connectedStore(`redis://:s3cret@127.0.0.1:${secured.port}/2`, 'p:');
      await store.registerContainer(registration('c1'));
      await store.close();
      const check = connectRedis(`redis://default:s3cret@127.0.0.1:${secured.port}/2`);
      await waitForRedis(check, READY_TIMEOUT_MS);
      assert.equal(await check.exists('p:{c}:container:c1'), 1);
      await check.select(0);
      assert.equal(await check.exists('p:{c}:container:c1'), 0);
      await check.quit();

      const wrong = connectRedis(`redis://:nope@127.0.0.1:${secured.port}`);
      try {
        const failed = await waitForRedis(wrong, 1_000).then(
          () => null,
          (err: unknown) => err,
        );
        assert.ok(failed instanceof StoreUnavailableError);
        assert.match(failed.message, /WRONGPASS|invalid username-password/i);
      } finally {
        wrong.disconnect();
      }
    } finally {
      await secured.stop();
    }
  });
});

describe('Redis outages', () => {
  it('waitForRedis gives up with StoreUnavailableError when nothing listens', async () => {
    const lonely = await startRedisServer();
    const url = lonely.url;
    await lonely.stop();
    const redis = connectRedis(url);
    try {
      const started = Date.now();
      await assert.rejects(waitForRedis(redis, 500), (err: unknown) => {
        assert.ok(err instanceof StoreUnavailableError);
        assert.match(err.message, /did not become ready within 500 ms.*ECONNREFUSED/);
        return true;
      });
      assert.ok(Date.now() - started < 2_000);
    } finally {
      redis.disconnect();
    }
  });

  it('createStore starts without Redis, fails calls until it is up, then works', { timeout: 60_000 }, async () => {
    const later = await startRedisServer();
    await later.stop();
    const store = await createStore({ redisUrl: later.url, prefix: randomPrefix() });
    try {
      assert.equal(store.kind, 'redis');
      await assert.rejects(store.ping(), StoreUnavailableError);
      const up = await startRedisServer({ port: later.port });
      try {
        await waitUntilAnswering(store as RedisStore);
        assert.equal((await store.registerContainer(registration('c1'))).epoch, 1);
      } finally {
        await up.stop();
      }
    } finally {
      await store.close();
    }
  });

  it('createStore waits when asked, picks memory without a URL, and rejects a bad URL at once', async () => {
    const lonely = await startRedisServer();
    await lonely.stop();
    await assert.rejects(createStore({ redisUrl: lonely.url, readyTimeoutMs: 300 }), StoreUnavailableError);
    await assert.rejects(createStore({ redisUrl: 'http://127.0.0.1:6379' }), /REDIS_URL/);
    assert.ok((await createStore()) instanceof MemoryStore);
    assert.ok((await createStore({ redisUrl: '' })) instanceof MemoryStore);
    const store = await createStore({ redisUrl: server.url, prefix: randomPrefix() });
    assert.equal(store.kind, 'redis');
    await store.close();
  });

  it('fails calls fast with StoreUnavailableError while Redis is down, and recovers when it is back', { timeout: 60_000 }, async () => {
    const own = await startRedisServer();
    const store = await connectedStore(own.url, randomPrefix());
    try {
      const record = await store.registerContainer(registration('c1'));
      own.kill9();
      for (const call of [() => store.ping(), () => store.getContainer('c1'), () => store.renewLease('c1', record.epoch, 1_000)]) {
        const started = Date.now();
        await assert.rejects(call(), StoreUnavailableError);
        assert.ok(Date.now() - started < OUTAGE_FAILURE_BOUND_MS, `failed after ${Date.now() - started} ms`);
      }
      // A crash may lose the last second of writes (appendfsync everysec); what is checked here
      // is that the same connection recovers by itself and scripts run again.
      await own.restart();
      await waitUntilAnswering(store);
      assert.equal((await store.registerContainer(registration('c1'))).state, 'active');
    } finally {
      await store.close();
      await own.stop();
    }
  });

  it('keeps state across a clean Redis restart with the append-only file', { timeout: 60_000 }, async () => {
    const own = await startRedisServer({ appendonly: true });
    const store = await connectedStore(own.url, randomPrefix());
    try {
      const record = await store.registerContainer(registration('c1'));
      await store.acquireLeadership('m1', 60_000);
      await own.restart();
      await waitUntilAnswering(store);
      assert.deepEqual(await store.getContainer('c1'), record);
      assert.deepEqual(await store.getLeader(), { leaderId: 'm1', term: 1 });
      // Scripts are reloaded by ioredis after the restart emptied the script cache.
      assert.equal((await store.renewLease('c1', record.epoch, 1_000)).ok, true);
    } finally {
      await store.close();
      await own.stop();
    }
  });
});

/** Pings until the store answers again (bounded), returning the round trip. */
async function waitUntilAnswering(store: RedisStore): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await store.ping();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('failure detection by session (Redis only)', () => {
  const reg = (name: string) => ({
    name, hostAddress: '127.0.0.1', apiPort: 8001, capabilities: [], labels: {}, resources: {}, metadata: {}, agentTypes: [],
    leaseIntervalMs: 100, leaseTimeoutMs: 2_000,
  });

  it('a container that missed renewals and whose connection is gone is down before its lease lapses', async () => {
    const prefix = `sess${process.pid}:`;
    const manager = new RedisStore({ redis: connectRedis(server.url), prefix });
    const deadStore = new RedisStore({ redis: connectRedis(server.url), prefix });
    const liveStore = new RedisStore({ redis: connectRedis(server.url), prefix });
    try {
      await manager.ping();
      await deadStore.ping();
      await liveStore.ping();
      const dead = await manager.registerContainer(reg('dead'));
      const live = await manager.registerContainer(reg('live'));
      await new Promise((r) => setTimeout(r, 50)); // the stores learn their CLIENT IDs on ready
      assert.equal((await deadStore.renewLease('dead', dead.epoch, 2_000)).ok, true);
      assert.equal((await liveStore.renewLease('live', live.epoch, 2_000)).ok, true);
      // Nobody is suspect yet: both renewed just now (deadline ~2 s away, window 1 s).
      assert.deepEqual(await manager.expireDisconnected(1_000, 0), []);
      await deadStore.close(); // the process "dies": its connection closes
      await new Promise((r) => setTimeout(r, 1_100)); // both miss renewals for > timeout - window
      assert.deepEqual(await manager.expireDisconnected(1_000, 0), ['dead'], 'only the disconnected one');
      assert.equal((await manager.getContainer('dead'))?.state, 'down');
      assert.equal((await manager.getContainer('live'))?.state, 'active', 'slow but connected: left to its lease');
      const events = await manager.listEvents({ limit: 10 });
      assert.ok(events.some((e) => e.type === 'container_down' && e.containerId === 'dead' && e.data.reason === 'disconnected'));
    } finally {
      await manager.close();
      await liveStore.close();
    }
  });

  it('a leader whose connection is gone: a standby ends its lease and takes over; a connected one keeps it', async () => {
    const prefix = `lead${process.pid}:`;
    const leader = new RedisStore({ redis: connectRedis(server.url), prefix });
    const standby = new RedisStore({ redis: connectRedis(server.url), prefix });
    try {
      await leader.ping();
      await standby.ping();
      await new Promise((r) => setTimeout(r, 50)); // the stores learn their CLIENT IDs on ready
      assert.equal((await leader.acquireLeadership('mgr-a', 60_000)).isLeader, true);
      const before = await standby.acquireLeadership('mgr-b', 60_000);
      assert.deepEqual([before.isLeader, before.leaderId], [false, 'mgr-a']);
      assert.equal(await standby.endDeadLeadership('mgr-a', 0), false, 'connected: its lease stands');
      assert.equal(await standby.endDeadLeadership('mgr-a', 60 * 60_000), false, 'sessions of a young Redis are not trusted');
      await leader.close(); // the leader's process "dies"
      assert.equal(await standby.endDeadLeadership('mgr-x', 0), false, 'only the holder it names');
      assert.equal(await standby.endDeadLeadership('mgr-a', 0), true);
      const after = await standby.acquireLeadership('mgr-b', 60_000);
      assert.equal(after.isLeader, true);
      assert.equal(after.term, before.term + 1);
    } finally {
      await standby.releaseLeadership('mgr-b');
      await standby.close();
    }
  });

  it('right after a Redis restart sessions are not trusted', async () => {
    const young = await startRedisServer(); // up for well under the 60 s asked below
    const prefix = `sess2${process.pid}:`;
    const manager = new RedisStore({ redis: connectRedis(young.url), prefix });
    const other = new RedisStore({ redis: connectRedis(young.url), prefix });
    try {
      const c = await manager.registerContainer(reg('fresh'));
      await other.ping();
      await new Promise((r) => setTimeout(r, 50));
      await other.renewLease('fresh', c.epoch, 2_000);
      await other.close();
      await new Promise((r) => setTimeout(r, 1_100));
      assert.deepEqual(await manager.expireDisconnected(1_000, 60_000), [], 'a young Redis: leave it to the leases');
      assert.equal((await manager.getContainer('fresh'))?.state, 'active');
    } finally {
      await manager.close();
      await young.stop();
    }
  });
});
