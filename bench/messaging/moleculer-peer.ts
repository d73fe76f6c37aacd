/**
 * The Moleculer peer of the messaging benchmark: one process per broker, over Moleculer's Redis
 * transporter (pub/sub), JSON serializer, default options otherwise.
 *
 * - PEER_ROLE=service: a broker with a `bench` service whose `echo` action returns its params.
 * - PEER_ROLE=caller: a broker that, on each `run` message, calls `bench.echo` `requests` times
 *   with `inFlight` closed-loop workers and reports every call's latency (the same shape as the
 *   Flotilla `load` agent's reply).
 *
 * Moleculer is loaded from bench/peers/node_modules (its own package.json and lockfile), never
 * from the project's dependencies. The process exits when the benchmark's IPC channel closes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { FromPeer, LoadRequest, LoadResult, ToPeer } from './protocol.js';

/** What this file uses of Moleculer's API (typed here, so type-checking needs no install). */
interface Broker {
  nodeID: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  call(action: string, params: unknown, options?: { timeout?: number }): Promise<unknown>;
  waitForServices(names: string | string[], timeoutMs?: number): Promise<unknown>;
  createService(schema: { name: string; actions: Record<string, (ctx: { params: unknown }) => unknown> }): unknown;
}
interface Moleculer {
  ServiceBroker: new (options: Record<string, unknown>) => Broker;
}

const role = process.env.PEER_ROLE;
const redisUrl = process.env.PEER_REDIS_URL;
const namespace = process.env.PEER_NAMESPACE ?? 'bench';
const SERVICE_WAIT_MS = 15_000;

const send = (msg: FromPeer): void => {
  process.send?.(msg);
};

const peers = createRequire(new URL('../peers/package.json', import.meta.url));
const loaded = (await import(pathToFileURL(peers.resolve('moleculer')).href)) as Partial<Moleculer> & { default?: Moleculer };
const moleculer: Moleculer = loaded.default ?? (loaded as Moleculer);
// Its package.json is not among its exports: read the file.
const version = (JSON.parse(readFileSync(new URL('../peers/node_modules/moleculer/package.json', import.meta.url), 'utf8')) as { version: string }).version;

if ((role !== 'service' && role !== 'caller') || redisUrl === undefined) throw new Error('moleculer-peer: set PEER_ROLE (service|caller) and PEER_REDIS_URL');

const broker = new moleculer.ServiceBroker({
  nodeID: `bench-${role}-${process.pid}`,
  namespace,
  transporter: redisUrl,
  serializer: 'JSON',
  logger: false,
  requestTimeout: 30_000,
});

if (role === 'service') {
  broker.createService({ name: 'bench', actions: { echo: (ctx) => ctx.params } });
}

async function load(o: LoadRequest): Promise<LoadResult> {
  const samples: number[] = [];
  let issued = 0;
  let errors = 0;
  let firstError: string | null = null;
  const started = performance.now();
  const deadline = started + o.maxMs;
  const worker = async (): Promise<void> => {
    while (issued < o.requests && performance.now() < deadline) {
      issued += 1;
      const t = performance.now();
      try {
        await broker.call('bench.echo', o.payload, { timeout: o.timeoutMs });
        samples.push(Math.round((performance.now() - t) * 1_000) / 1_000);
      } catch (err) {
        errors += 1;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: o.inFlight }, worker));
  return { samples, elapsedMs: performance.now() - started, errors, firstError, truncated: issued < o.requests };
}

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await broker.stop().catch(() => undefined);
  process.exit(0);
};
process.on('disconnect', () => void stop());

process.on('message', (msg: ToPeer) => {
  if (msg.type === 'stop') {
    void stop();
    return;
  }
  load(msg).then(
    (result) => send({ type: 'result', ...result }),
    (err: unknown) => send({ type: 'failed', error: (err as Error).message }),
  );
});

await broker.start();
if (role === 'caller') await broker.waitForServices('bench', SERVICE_WAIT_MS);
send({ type: 'ready', version, nodeID: broker.nodeID });
