/**
 * The failure detector's loop on the memory store, with real sockets for its probe: a late
 * container that is silent is marked down by the probe path; one that answers is left alone; and
 * a store that fails mid-step leaves no rejection unhandled and the loop running.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/common/logger.js';
import { startFailureDetector, type FailureDetectorOptions } from '../../src/manager/control/failure-detector.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { StoreUnavailableError, type LateContainer } from '../../src/store/index.js';
import { registration } from '../contract/store-contract.js';

const log = createLogger({ test: 'failure-detector' }, 'silent');
const OPTIONS: FailureDetectorOptions = { intervalMs: 20, leaseTimeoutMs: 60_000, leaseIntervalMs: 50, trustAfterMs: 0, probe: { enabled: true, timeoutMs: 200 } };

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listening(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a late container that is silent goes down (reason unreachable); one that answers /ping stays', async () => {
  const store = new MemoryStore();
  const alive = createServer((_req, res) => res.end('{"pong":true}'));
  const alivePort = await listening(alive);
  // Renewal interval 50 ms, lease 60 s: both are late within 60 ms, far from lapsing.
  await store.registerContainer(registration('silent', { leaseIntervalMs: 50, apiPort: await closedPort() }));
  await store.registerContainer(registration('alive', { leaseIntervalMs: 50, apiPort: alivePort }));
  const downs: string[][] = [];
  const detector = startFailureDetector(store, OPTIONS, log, () => true, (ids) => downs.push(ids));
  try {
    const deadline = Date.now() + 5_000;
    while ((await store.getContainer('silent'))?.state !== 'down' && Date.now() < deadline) await sleep(20);
    await sleep(300);
  } finally {
    await detector.stop();
    await new Promise((resolve) => alive.close(resolve));
  }
  assert.equal((await store.getContainer('silent'))?.state, 'down');
  assert.equal((await store.getContainer('alive'))?.state, 'active', 'it answered: left to its lease');
  assert.deepEqual(downs, [['silent']]);
  const event = (await store.listEvents({ limit: 100 })).find((e) => e.type === 'container_down');
  assert.equal(event?.data.reason, 'unreachable');
});

test('off: no probe, so a late silent container keeps its lease', async () => {
  const store = new MemoryStore();
  await store.registerContainer(registration('silent', { leaseIntervalMs: 50, apiPort: await closedPort() }));
  const detector = startFailureDetector(store, { ...OPTIONS, probe: { enabled: false } }, log, () => true);
  await sleep(400);
  await detector.stop();
  assert.equal((await store.getContainer('silent'))?.state, 'active');
});

test('a store failing in both halves of a step: no unhandled rejection, and the loop goes on', async () => {
  class FailingStore extends MemoryStore {
    calls = 0;
    override async expireDisconnected(): Promise<string[]> {
      this.calls++;
      throw new StoreUnavailableError('Redis unavailable during suspectLeases: Command timed out');
    }
    override async lateContainers(): Promise<LateContainer[]> {
      await sleep(30); // fails after the other half already has
      throw new StoreUnavailableError('Redis unavailable during lateLeases: Command timed out');
    }
  }
  const store = new FailingStore();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const detector = startFailureDetector(store, OPTIONS, log, () => true);
  try {
    await sleep(400);
  } finally {
    await detector.stop();
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
  assert.ok(store.calls >= 3, `the loop kept stepping (${store.calls} steps)`);
});
