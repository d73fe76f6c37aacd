/**
 * A child process that plays thousands of agent containers renewing their leases every second,
 * in one of two ways:
 *
 * - `redis`: straight to Redis with RedisStore.renewLease and the epoch each registration got,
 *   as a real container does when it can reach Redis (the manager sees no traffic at all);
 * - `http`: POST /api/v1/cluster/containers/{id}/heartbeat to the manager, the HTTP-heartbeat
 *   design most systems use (and Flotilla's fallback), as the peer to compare with.
 *
 * Renewals are spread evenly over the interval: container i of N fires at phase i/N of each
 * second. Like the real LeaseKeeper, a container never has two renewals in flight. It runs in its
 * own process so that its CPU is not counted against the manager; it exits when the benchmark's
 * IPC channel closes, so it cannot outlive it.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { connectRedis, RedisStore } from '../../src/store/index.js';
import { percentile } from '../lib/latency.js';
import type { FromSimulator, RenewMode, SimContainer, SimStats, ToSimulator } from './protocol.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`simulator: ${name} is not set`);
  return value;
};

const REDIS_URL = env('SIM_REDIS_URL');
const PREFIX = env('SIM_PREFIX');
const MANAGER_URL = env('SIM_MANAGER_URL');
const TOTAL = Number(env('SIM_TOTAL_CONTAINERS'));
const INTERVAL_MS = Number(env('SIM_INTERVAL_MS'));
const TIMEOUT_MS = Number(env('SIM_TIMEOUT_MS'));
/** Several connections, so Redis sees renewals as separate clients send them, not one pipeline. */
const REDIS_CONNECTIONS = Number(env('SIM_REDIS_CONNECTIONS'));
const HTTP_CONNECTIONS = Number(env('SIM_HTTP_CONNECTIONS'));
/** Scheduler resolution: renewals of one slot are sent together. */
const TICK_MS = 5;
const SLOTS = Math.max(1, Math.round(INTERVAL_MS / TICK_MS));

interface Sim extends SimContainer {
  inFlight: boolean;
  lost: boolean;
}

const send = (msg: FromSimulator): void => {
  process.send?.(msg);
};

const stores = Array.from({ length: REDIS_CONNECTIONS }, (_, i) => new RedisStore({ redis: connectRedis(REDIS_URL, { name: `bench-sim-${process.pid}-${i}` }), prefix: PREFIX }));
const pool = new Pool(MANAGER_URL, { connections: HTTP_CONNECTIONS, pipelining: 1, keepAliveTimeout: 30_000 });
const slots: Sim[][] = Array.from({ length: SLOTS }, () => []);
let containers = 0;
let mode: RenewMode = 'idle';
let next = 0;

const stats = {
  renewals: 0,
  failures: 0,
  skipped: 0,
  lost: {} as Record<string, number>,
  rtt: [] as number[],
  late: [] as number[],
  since: performance.now(),
  firstError: null as string | null,
};

function fail(err: unknown): void {
  stats.failures += 1;
  stats.firstError ??= err instanceof Error ? err.message : String(err);
}

function lose(c: Sim, reason: string): void {
  c.lost = true;
  stats.lost[reason] = (stats.lost[reason] ?? 0) + 1;
}

async function renewInRedis(c: Sim): Promise<void> {
  const store = stores[next++ % stores.length]!;
  const result = await store.renewLease(c.id, c.epoch, TIMEOUT_MS);
  if (result.ok) stats.renewals += 1;
  else lose(c, result.reason);
}

async function renewOverHttp(c: Sim): Promise<void> {
  const res = await pool.request({
    method: 'POST',
    path: `/api/v1/cluster/containers/${encodeURIComponent(c.id)}/heartbeat`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ epoch: c.epoch }),
    // As the real LeaseKeeper: a renewal that takes longer than the interval counts as missed.
    // (undici's own timers: thousands of AbortSignal.timeout() a second in one process cost the
    // simulator enough CPU to add ~150 ms to every request at 5,000/s, which no real container,
    // sending one a second, would see.)
    headersTimeout: INTERVAL_MS,
    bodyTimeout: INTERVAL_MS,
  });
  const text = await res.body.text();
  if (res.statusCode === 200) stats.renewals += 1;
  else if (res.statusCode === 409 || res.statusCode === 404) lose(c, (JSON.parse(text) as { error?: string }).error ?? String(res.statusCode));
  else throw new Error(`heartbeat answered ${res.statusCode}: ${text.slice(0, 200)}`);
}

function fire(c: Sim): void {
  if (c.lost) return;
  if (c.inFlight) {
    stats.skipped += 1;
    return;
  }
  c.inFlight = true;
  const started = performance.now();
  const renewal = mode === 'redis' ? renewInRedis(c) : renewOverHttp(c);
  renewal.then(
    () => stats.rtt.push(performance.now() - started),
    fail,
  ).finally(() => {
    c.inFlight = false;
  });
}

// The scheduler: tick k is due at start + k * TICK_MS and fires slot k mod SLOTS. A late timer
// catches up on every tick it missed, so each container still renews once per interval.
const start = performance.now();
let tick = 0;
let timer: NodeJS.Timeout | undefined;
function loop(): void {
  const now = performance.now();
  while (start + tick * TICK_MS <= now) {
    if (mode !== 'idle') {
      const due = start + tick * TICK_MS;
      const slot = slots[tick % SLOTS]!;
      if (slot.length > 0) stats.late.push(now - due);
      for (const c of slot) fire(c);
    }
    tick += 1;
  }
  timer = setTimeout(loop, Math.max(0, start + tick * TICK_MS - performance.now()));
}

function snapshot(reset: boolean): SimStats {
  const rtt = [...stats.rtt].sort((a, b) => a - b);
  const late = [...stats.late].sort((a, b) => a - b);
  const out: SimStats = {
    mode,
    containers,
    lost: { ...stats.lost },
    renewals: stats.renewals,
    failures: stats.failures,
    skipped: stats.skipped,
    rttP50: percentile(rtt, 50),
    rttP99: percentile(rtt, 99),
    rttMax: rtt.at(-1) ?? Number.NaN,
    lateP99: percentile(late, 99),
    lateMax: late.at(-1) ?? Number.NaN,
    windowMs: performance.now() - stats.since,
    firstError: stats.firstError,
  };
  if (reset) {
    Object.assign(stats, { renewals: 0, failures: 0, skipped: 0, rtt: [], late: [], since: performance.now(), firstError: null });
  }
  return out;
}

async function shutdown(code: number): Promise<void> {
  clearTimeout(timer);
  mode = 'idle';
  await Promise.race([
    Promise.allSettled([...stores.map((s) => s.close()), pool.close()]),
    new Promise((r) => setTimeout(r, 2_000)),
  ]);
  process.exit(code);
}

process.on('message', (msg: ToSimulator) => {
  switch (msg.type) {
    case 'add':
      for (const c of msg.containers) {
        // Phase i/N of the interval, so the whole cluster's renewals are spread evenly.
        const slot = Math.floor(((c.index % TOTAL) / TOTAL) * SLOTS);
        slots[slot]!.push({ ...c, inFlight: false, lost: false });
        containers += 1;
      }
      break;
    case 'mode':
      mode = msg.mode;
      send({ type: 'mode', mode });
      break;
    case 'stats':
      send({ type: 'stats', stats: snapshot(msg.reset) });
      break;
    case 'stop':
      void shutdown(0);
      break;
  }
});
// The benchmark is gone (finished, crashed or killed): never outlive it.
process.on('disconnect', () => void shutdown(0));

await Promise.all(stores.map((s) => s.ping()));
loop();
send({ type: 'ready' });
