/**
 * Messaging benchmark: request/reply between agents on two container processes through one local
 * Redis, next to Moleculer over its Redis transporter and a raw Redis floor, all in one run; then
 * the memory (and idle CPU) of 100,000 idle active `echo` agents in one container.
 *
 * Targets (issue 3, "Speed"): at 64 requests in flight, at least twice Moleculer's requests per
 * second (Moleculer gives no delivery guarantee; Flotilla's requests are durable, effectively once
 * and fenced); at 1 in flight a median latency no worse than Moleculer's; under 5 KB per idle
 * active agent.
 *
 * Everything is real and on 127.0.0.1: one redis-server (test/helpers), one `flotilla manager`,
 * and `flotilla container` processes (`node dist/cli/main.js container`, REDIS_URL and
 * CENTRAL_MANAGER_URL as a user sets them). Agents are placed straight through the store
 * (createAgent with the container's id and epoch, then an `activate` control entry in its inbox),
 * so the benchmark does not depend on the deploy API.
 *
 * - Flotilla: container A hosts one `load` agent (bench/messaging/load-agent.mjs, served through
 *   FLOTILLA_AGENT_MODULES); container B hosts 64 built-in `echo` agents. One message to the load
 *   agent is one run: its turn calls `ctx.send` to the echo agents with K requests in flight and
 *   replies with each request's latency. Worker w always calls echo agent w, so no echo agent has
 *   two requests at once: an agent takes one turn at a time, and 64 requests queued on one agent
 *   would measure its queue rather than the messaging. (The bench sends the run's message as any
 *   client would: appendMessage, a ring to A's inbox, and the reply read from its own inbox.)
 * - Moleculer (bench/peers, installed on first run with `npm ci --prefix bench/peers`): a caller
 *   broker and a service broker with an `echo` action, in two processes, Redis transporter.
 * - Raw Redis: PING, and an XADD + XREAD pair (two sequential round trips), with ioredis from this
 *   process, K in flight on one connection; and the durable floor: a request/reply in which request
 *   and reply are both written to Redis streams before anyone acts on them, with blocking readers,
 *   and nothing else (no state, fence or dedup). No durable design through one Redis can beat it.
 * - Memory: a fresh container; its RSS hosting N idle echo agents minus its RSS with none, divided
 *   by N. Both are read after a full GC (SIGUSR2 to bench/lib/gc-on-signal.mjs, preloaded), so
 *   they count what it keeps, not garbage V8 has yet to collect; the figure without the GC is
 *   printed beside it.
 *
 * Output: progress lines, a table at the end, and bench/results/messaging.json. Exit code 0 when
 * every target is met, 1 when one is missed, 2 when the run itself failed.
 * Knobs for quick runs: BENCH_WINDOW_MS (time bound of each measured series), BENCH_MEMORY_AGENTS,
 * BENCH_PHASES (a comma-separated subset of raw,flotilla,moleculer,memory: prints its series and
 * writes no results), BENCH_CPU_PROFILE_DIR (the Flotilla containers write V8 CPU profiles there).
 */
import { Teardown } from './lib/teardown.js';
import { failureExitCode, publishResults } from './lib/results.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { CLI, FlotillaProcess, freePort, http, waitFor, waitForHttp } from '../test/helpers/processes.js';
import { startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';
import { RedisStore, NO_ENTRY_ID, type NewAgent } from '../src/store/index.js';
import { containerInbox, RING_BODY, type ReplyBody } from '../src/protocol/runtime.js';
import { CpuMeter, ForeignLoadMeter } from './lib/cpu.js';
import { TsChild } from './lib/children.js';
import { summarize, type LatencySummary } from './lib/latency.js';
import type { FromPeer, LoadRequest, LoadResult, ToPeer } from './messaging/protocol.js';

// --- parameters -----------------------------------------------------------------------------

const intEnv = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};

const IN_FLIGHT = [1, 64] as const;
/** Each measured series stops starting requests after this long (or at its count). */
const WINDOW_MS = intEnv('BENCH_WINDOW_MS', 8_000);
const MAX_REQUESTS = 200_000;
/** Warm-up before each system's measured series: JIT, script cache, connections. */
const WARMUP: Pick<LoadRequest, 'requests' | 'inFlight' | 'maxMs'>[] = [
  { requests: 3_000, inFlight: 64, maxMs: 3_000 },
  { requests: 300, inFlight: 1, maxMs: 2_000 },
];
const REQUEST_TIMEOUT_MS = 10_000;
/** Sent as each request's body, and echoed back. */
const PAYLOAD = { text: 'hello from the messaging benchmark', n: 42 };
const ECHO_AGENTS = 64;
const LOAD_AGENT = 'load/driver';
const MEMORY_AGENTS = intEnv('BENCH_MEMORY_AGENTS', 100_000);
const CREATE_CONCURRENCY = 512;
/** Activation hints are pushed in chunks below the inbox cap (INBOX_MAX_LENGTH, 10,000). */
const ACTIVATE_CHUNK = 5_000;
const ACTIVATE_MAX_MS = 180_000;
/** After the last activation: wait (at most this long) for RSS to hold still, then measure. */
const RSS_SETTLE_MAX_MS = 30_000;
const RSS_STABLE_SAMPLES = 5;
const RSS_SAMPLE_MS = 1_000;
/** RSS (median) and idle CPU are measured over this window, with and without the agents. */
const RSS_WINDOW_MS = 10_000;
const STATUS_POLL_MS = 2_000;
const IPC_TIMEOUT_MS = 20_000;
const START_TIMEOUT_MS = 20_000;
const OTHER_LOAD_WARNING_CORES = 0.2;
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const PEERS_DIR = fileURLToPath(new URL('./peers/', import.meta.url));
const LOAD_AGENT_MODULE = fileURLToPath(new URL('./messaging/load-agent.mjs', import.meta.url));
const RESULTS_FILE = fileURLToPath(new URL('./results/messaging.json', import.meta.url));
const ALL_PHASES = ['raw', 'flotilla', 'moleculer', 'memory'] as const;
const PHASES = new Set((process.env.BENCH_PHASES ?? ALL_PHASES.join(',')).split(',').map((p) => p.trim()));
for (const p of PHASES) if (!(ALL_PHASES as readonly string[]).includes(p)) throw new Error(`BENCH_PHASES: unknown phase ${p} (known: ${ALL_PHASES.join(', ')})`);
const PARTIAL = ALL_PHASES.some((p) => !PHASES.has(p));
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROFILE_DIR;
const CPU_PROFILE_HOOK = fileURLToPath(new URL('./lib/cpu-profile.mjs', import.meta.url));
const GC_HOOK = fileURLToPath(new URL('./lib/gc-on-signal.mjs', import.meta.url));
/** After asking the memory container for a full GC, before reading its RSS. */
const AFTER_GC_MS = 2_000;

const TARGETS = {
  /** Flotilla rps at 64 in flight ≥ this × Moleculer's. */
  rpsRatioAt64: 2,
  /** Flotilla p50 at 1 in flight ≤ this × Moleculer's. */
  p50RatioAt1: 1,
  bytesPerIdleAgent: 5_000,
} as const;

// --- output ---------------------------------------------------------------------------------

const benchStart = performance.now();
const log = (msg: string): void => {
  console.log(`[${((performance.now() - benchStart) / 1_000).toFixed(1).padStart(6)} s] ${msg}`);
};
const ms = (v: number): string => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms` : 'n/a');
const num = (v: number): string => Math.round(v).toLocaleString('en-US');
const round = (v: number, digits = 3): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);

// --- teardown -------------------------------------------------------------------------------

const teardown = new Teardown('the manager, containers and peers');
const track = teardown.track.bind(teardown);
const release = teardown.release.bind(teardown);


/** For the failure report: the last lines of each Flotilla process. */
const flotillaProcesses: FlotillaProcess[] = [];
/** Every child process, for the meter of other load on the machine. */
const childPids: number[] = [];

// --- small helpers --------------------------------------------------------------------------

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/**
 * Redis counters: commands processed (every command, those a script runs included) and, per
 * command, calls and the server's CPU time in them (INFO commandstats).
 */
async function redisCounters(redis: Redis): Promise<{ commands: number; calls: Record<string, number>; usec: Record<string, number> }> {
  const stats = await redis.info('stats');
  const commands = Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? Number.NaN);
  const calls: Record<string, number> = {};
  const usec: Record<string, number> = {};
  for (const m of (await redis.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
    calls[m[1]!] = Number(m[2]);
    usec[m[1]!] = Number(m[3]);
  }
  return { commands, calls, usec };
}

/** Per request, by command, largest first; tiny values left out. */
function perRequest(before: Record<string, number>, after: Record<string, number>, per: number): Record<string, number> {
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(after)) {
    const d = (v - (before[k] ?? 0)) / per;
    if (d >= 0.01) out.push([k, round(d, 2)]);
  }
  return Object.fromEntries(out.sort((a, b) => b[1] - a[1]));
}

interface Series {
  inFlight: number;
  latency: LatencySummary;
  errors: number;
  firstError: string | null;
  /** CPU of each process over the series, cores. */
  cores: Record<string, number>;
  /** CPU-µs of every process together (incl. Redis) per completed request. */
  cpuUsPerRequest: number;
  /** Commands Redis processed per request (those run by scripts included). */
  redisCommandsPerRequest: number;
  /** Calls per request by command (a script's EVALSHA and each command it runs). */
  redisCallsPerRequest: Record<string, number>;
  /** Redis CPU-µs per request by command, as Redis accounts it (a script's time includes its commands'). */
  redisUsecPerRequest: Record<string, number>;
}

/**
 * Runs one measured series through `run` with CPU meters on `pids` and Redis counters around it.
 * Everything else in this benchmark stays quiet meanwhile.
 */
async function measured(
  label: string,
  inFlight: number,
  counters: Redis,
  pids: Record<string, number>,
  run: (o: LoadRequest) => Promise<LoadResult>,
): Promise<Series> {
  const meters = Object.entries(pids).map(([name, pid]) => new CpuMeter(name, pid));
  const before = await redisCounters(counters);
  meters.forEach((m) => m.mark());
  const result = await run({ requests: MAX_REQUESTS, inFlight, maxMs: WINDOW_MS, timeoutMs: REQUEST_TIMEOUT_MS, payload: PAYLOAD });
  const coresUsed = Object.fromEntries(meters.map((m) => [m.label, round(m.cores())]));
  const cpuSeconds = meters.reduce((a, m) => a + m.cpuSeconds(), 0);
  const after = await redisCounters(counters);
  const latency = summarize(result.samples, inFlight, result.elapsedMs, result.truncated);
  const n = Math.max(1, latency.count);
  // The two INFO calls of `before` fall inside the window.
  const series: Series = {
    inFlight,
    latency,
    errors: result.errors,
    firstError: result.firstError,
    cores: coresUsed,
    cpuUsPerRequest: round((cpuSeconds * 1e6) / n, 1),
    redisCommandsPerRequest: round((after.commands - before.commands - 2) / n, 2),
    redisCallsPerRequest: perRequest(before.calls, after.calls, n),
    redisUsecPerRequest: perRequest(before.usec, after.usec, n),
  };
  log(
    `${label.padEnd(26)} ${String(inFlight).padStart(2)} in flight: ${num(latency.rps).padStart(6)} req/s  p50 ${ms(latency.p50)}  p99 ${ms(latency.p99)}  ` +
      `n=${latency.count}${result.errors > 0 ? `  ERRORS ${result.errors} (${result.firstError})` : ''}  ` +
      `${series.redisCommandsPerRequest} redis cmds/req, ${series.cpuUsPerRequest} CPU-µs/req (${Object.entries(coresUsed).map(([k, v]) => `${k} ${v}`).join(', ')})`,
  );
  const top = (o: Record<string, number>): string => Object.entries(o).slice(0, 8).map(([k, v]) => `${k} ${v}`).join(', ');
  log(`${' '.repeat(30)}Redis per request: calls ${top(series.redisCallsPerRequest)}; CPU-µs ${top(series.redisUsecPerRequest)}`);
  return series;
}

// --- raw Redis floor ---------------------------------------------------------------------------

interface RawRedis {
  ping: Series[];
  streamPair: Series[];
  durableFloor: Series[];
}

/**
 * The floor of any durable request/reply through one Redis, with no Flotilla code: the request is
 * XADDed to a stream before a responder sees it, the responder (blocked in XREAD on that stream)
 * writes the reply to a reply stream and deletes the request in one MULTI, and the requester
 * (blocked in XREAD on its reply stream) takes it. Two durable hops and an ack: no state, no
 * fencing, no dedup, nothing Flotilla adds. Per worker a request stream and a reply stream, each
 * read by a blocking connection of its own (as a real responder and requester would hold).
 */
async function durableFloor(redis: RedisServer, inFlight: number, body: string): Promise<{ call: (w: number) => Promise<void>; close: () => void }> {
  const commands = new Redis(redis.url, { connectionName: 'bench-floor', maxRetriesPerRequest: 2 });
  const blocking: Redis[] = [];
  const stop = new AbortController();
  const replyReaders: Redis[] = [];
  const lastReply = new Map<number, string>();
  for (let w = 0; w < inFlight; w++) {
    const req = `bench:floor:{${w}}:req`;
    const rep = `bench:floor:{${w}}:rep`;
    const responder = new Redis(redis.url, { connectionName: `bench-floor-responder-${w}`, maxRetriesPerRequest: null });
    const requester = new Redis(redis.url, { connectionName: `bench-floor-requester-${w}`, maxRetriesPerRequest: null });
    blocking.push(responder, requester);
    replyReaders[w] = requester;
    lastReply.set(w, '0-0');
    void (async () => {
      let last = '0-0';
      while (!stop.signal.aborted) {
        const read = await responder.xread('BLOCK', 1_000, 'STREAMS', req, last).catch(() => null);
        for (const [id] of read?.[0]?.[1] ?? []) {
          last = id;
          await commands.multi().xadd(rep, 'MAXLEN', '~', 1_000, '*', 'body', body).xdel(req, id).exec();
        }
      }
    })();
  }
  return {
    call: async (w) => {
      await commands.xadd(`bench:floor:{${w}}:req`, '*', 'body', body);
      const read = await replyReaders[w]!.xread('BLOCK', 5_000, 'STREAMS', `bench:floor:{${w}}:rep`, lastReply.get(w)!);
      const entry = read?.[0]?.[1][0];
      if (entry === undefined) throw new Error('no reply within 5 s');
      lastReply.set(w, entry[0]);
    },
    close: () => {
      stop.abort();
      for (const c of [commands, ...blocking]) c.disconnect();
    },
  };
}

async function rawRedis(redis: RedisServer, counters: Redis): Promise<RawRedis> {
  const client = new Redis(redis.url, { connectionName: 'bench-raw', maxRetriesPerRequest: 2 });
  try {
    const closedLoop = async (o: LoadRequest, call: (worker: number) => Promise<void>): Promise<LoadResult> => {
      const samples: number[] = [];
      let issued = 0;
      const started = performance.now();
      const deadline = started + o.maxMs;
      const worker = async (w: number): Promise<void> => {
        while (issued < o.requests && performance.now() < deadline) {
          issued += 1;
          const t = performance.now();
          await call(w);
          samples.push(performance.now() - t);
        }
      };
      await Promise.all(Array.from({ length: o.inFlight }, (_, w) => worker(w)));
      return { samples, elapsedMs: performance.now() - started, errors: 0, firstError: null, truncated: issued < o.requests };
    };
    const ping = (): Promise<void> => client.ping().then(() => undefined);
    const lastIds = new Map<number, string>();
    const body = JSON.stringify(PAYLOAD);
    // One stream per worker: XADD an entry, then XREAD what follows the previous one.
    const pair = async (w: number): Promise<void> => {
      const key = `bench:raw:{${w}}`;
      await client.xadd(key, 'MAXLEN', '~', 1_000, '*', 'body', body);
      const read = await client.xread('COUNT', 1, 'STREAMS', key, lastIds.get(w) ?? '0-0');
      const entry = read?.[0]?.[1][0];
      if (entry === undefined) throw new Error('XREAD returned nothing after XADD');
      lastIds.set(w, entry[0]);
    };
    for (const warm of WARMUP) {
      await closedLoop({ ...warm, timeoutMs: 0, payload: null }, ping);
      await closedLoop({ ...warm, timeoutMs: 0, payload: null }, pair);
    }
    const pids = { redis: redis.pid, bench: process.pid };
    const out: RawRedis = { ping: [], streamPair: [], durableFloor: [] };
    for (const k of IN_FLIGHT) out.ping.push(await measured('raw Redis PING', k, counters, pids, (o) => closedLoop(o, ping)));
    for (const k of IN_FLIGHT) out.streamPair.push(await measured('raw Redis XADD+XREAD', k, counters, pids, (o) => closedLoop(o, pair)));
    for (const k of IN_FLIGHT) {
      const floor = await durableFloor(redis, k, body);
      try {
        await closedLoop({ ...WARMUP[0]!, inFlight: k, timeoutMs: 0, payload: null }, floor.call);
        out.durableFloor.push(await measured('raw durable request/reply', k, counters, pids, (o) => closedLoop(o, floor.call)));
      } finally {
        floor.close();
      }
    }
    return out;
  } finally {
    client.disconnect();
  }
}

// --- Flotilla ----------------------------------------------------------------------------------

interface Cluster {
  managerUrl: string;
  prefix: string;
  store: RedisStore;
  manager: FlotillaProcess;
}

async function startContainer(c: Cluster, redis: RedisServer, name: string, extraEnv: Record<string, string> = {}): Promise<{ proc: FlotillaProcess; port: number; epoch: number }> {
  const port = await freePort();
  const proc = new FlotillaProcess(name, ['container'], {
    REDIS_URL: redis.url,
    CENTRAL_MANAGER_URL: c.managerUrl,
    CONTAINER_NAME: name,
    AGENT_PORT: String(port),
    FLOTILLA_BIND_ADDRESS: '127.0.0.1',
    EXTERNAL_IP: '127.0.0.1',
    FLOTILLA_PREFIX: c.prefix,
    FLOTILLA_AGENT_MODULES: LOAD_AGENT_MODULE,
    // One line per activated agent at info: 100,000 of them would be a benchmark of the logger.
    FLOTILLA_LOG_LEVEL: 'warn',
    ...extraEnv,
  });
  flotillaProcesses.push(proc);
  childPids.push(proc.pid);
  track(name, async () => void (await proc.stop()), () => proc.kill9());
  await waitForHttp(`http://127.0.0.1:${port}/ready`, START_TIMEOUT_MS);
  const record = await waitFor(`${name} registered`, async () => (await c.store.getContainer(name)) ?? undefined, START_TIMEOUT_MS, 50);
  return { proc, port, epoch: record.epoch };
}

function newAgent(id: string, containerId: string, epoch: number): NewAgent {
  const [type = '', name = ''] = id.split('/');
  return { id, type, name, config: {}, placement: { strategy: 'round_robin', constraints: {} }, state: 'activating', containerId, epoch };
}

/** A container's GET /status: how many agents it hosts, under which registration. */
async function containerStatus(port: number): Promise<{ hosted: number; epoch: number | null }> {
  const res = await http<{ agents?: unknown[]; epoch?: number | null }>('GET', `http://127.0.0.1:${port}/status`);
  if (res.status !== 200) throw new Error(`GET /status answered ${res.status}`);
  return { hosted: res.body.agents?.length ?? 0, epoch: res.body.epoch ?? null };
}

async function hostedCount(port: number): Promise<number> {
  return (await containerStatus(port)).hosted;
}

/** Sends one run to the load agent as a client would, and waits for its reply. */
async function runLoad(store: RedisStore, loadContainer: string, o: LoadRequest): Promise<LoadResult> {
  const inbox = `bench.${process.pid}`;
  const messageId = randomUUID();
  const waitMs = o.maxMs + REQUEST_TIMEOUT_MS + 30_000;
  const appended = await store.appendMessage(LOAD_AGENT, {
    messageId,
    kind: 'request',
    from: 'bench',
    replyTo: inbox,
    body: JSON.stringify({ targets: Array.from({ length: ECHO_AGENTS }, (_, i) => echoId(i)), ...o }),
    deadlineMs: Date.now() + waitMs,
  });
  if (!appended.ok) throw new Error(`the load agent does not exist (${appended.reason})`);
  await store.pushInbox(containerInbox(loadContainer), { kind: 'ring', ref: LOAD_AGENT, body: RING_BODY });
  const deadline = performance.now() + waitMs;
  let after = NO_ENTRY_ID;
  while (performance.now() < deadline) {
    for (const entry of await store.readInbox(inbox, after, 1_000)) {
      after = entry.entryId;
      if (entry.kind !== 'reply' || entry.ref !== messageId) continue;
      const reply = JSON.parse(entry.body) as ReplyBody;
      if (!reply.ok) throw new Error(`the load agent failed: ${reply.error.code}: ${reply.error.message}`);
      return reply.result as LoadResult;
    }
  }
  throw new Error(`no reply from the load agent within ${waitMs} ms`);
}

const echoId = (i: number): string => `echo/e${String(i).padStart(2, '0')}`;

async function flotilla(redis: RedisServer, c: Cluster, counters: Redis): Promise<{ series: Series[]; containers: Record<string, number> }> {
  // --cpu-prof is not allowed in NODE_OPTIONS: a preloaded module runs the profiler instead.
  const profile: Record<string, string> =
    CPU_PROFILE_DIR === undefined ? {} : { NODE_OPTIONS: `--import ${CPU_PROFILE_HOOK}`, BENCH_CPU_PROFILE_DIR: CPU_PROFILE_DIR };
  const a = await startContainer(c, redis, 'bench-a', profile);
  const b = await startContainer(c, redis, 'bench-b', profile);
  log(`containers bench-a (pid ${a.proc.pid}, epoch ${a.epoch}) and bench-b (pid ${b.proc.pid}, epoch ${b.epoch}) joined`);

  await c.store.createAgent(newAgent(LOAD_AGENT, 'bench-a', a.epoch));
  for (let i = 0; i < ECHO_AGENTS; i++) await c.store.createAgent(newAgent(echoId(i), 'bench-b', b.epoch));
  await c.store.pushInbox(containerInbox('bench-a'), { kind: 'control', ref: LOAD_AGENT, body: '{"op":"activate"}' });
  for (let i = 0; i < ECHO_AGENTS; i++) await c.store.pushInbox(containerInbox('bench-b'), { kind: 'control', ref: echoId(i), body: '{"op":"activate"}' });
  await waitFor('the agents to be hosted', async () => (await hostedCount(a.port)) === 1 && (await hostedCount(b.port)) === ECHO_AGENTS, START_TIMEOUT_MS, 100);
  log(`1 load agent on bench-a, ${ECHO_AGENTS} echo agents on bench-b: warming up`);

  const run = (o: LoadRequest): Promise<LoadResult> => runLoad(c.store, 'bench-a', o);
  for (const warm of WARMUP) {
    const r = await run({ ...warm, timeoutMs: REQUEST_TIMEOUT_MS, payload: PAYLOAD });
    if (r.errors > 0) throw new Error(`Flotilla warm-up: ${r.errors} errors, first: ${r.firstError}`);
  }
  const pids = { redis: redis.pid, 'container A': a.proc.pid, 'container B': b.proc.pid };
  const series: Series[] = [];
  for (const k of IN_FLIGHT) series.push(await measured('Flotilla agent → agent', k, counters, pids, run));
  // Gone before the containers stop, or the reconciler would place them on the memory phase's container.
  for (const id of [LOAD_AGENT, ...Array.from({ length: ECHO_AGENTS }, (_, i) => echoId(i))]) await c.store.deleteAgent(id);
  const containers = { 'container A rss MB': round(rssBytes(a.proc.pid) / 2 ** 20, 1), 'container B rss MB': round(rssBytes(b.proc.pid) / 2 ** 20, 1) };
  await release('bench-a');
  await release('bench-b');
  return { series, containers };
}

// --- Moleculer ---------------------------------------------------------------------------------

type Peer = TsChild<ToPeer, FromPeer>;

function ensurePeersInstalled(): void {
  if (existsSync(`${PEERS_DIR}node_modules/moleculer/package.json`)) return;
  log('installing the benchmark peers (npm ci --prefix bench/peers), first run only');
  const res = spawnSync('npm', ['ci', '--prefix', PEERS_DIR, '--no-audit', '--no-fund'], { stdio: 'inherit', cwd: REPO_ROOT, timeout: 180_000 });
  if (res.status !== 0) throw new Error(`npm ci --prefix bench/peers failed (${res.error?.message ?? `exit ${res.status}`})`);
}

async function moleculer(redis: RedisServer, counters: Redis): Promise<{ version: string; series: Series[] }> {
  ensurePeersInstalled();
  const env = (role: string): Record<string, string> => ({ PEER_ROLE: role, PEER_REDIS_URL: redis.url, PEER_NAMESPACE: `bench${process.pid}` });
  const service: Peer = new TsChild('moleculer-service', 'bench/messaging/moleculer-peer.ts', env('service'));
  childPids.push(service.pid);
  track('moleculer-service', () => service.stop({ type: 'stop' }), () => service.killNow());
  const serviceReady = await service.next('ready', IPC_TIMEOUT_MS);
  const caller: Peer = new TsChild('moleculer-caller', 'bench/messaging/moleculer-peer.ts', env('caller'));
  childPids.push(caller.pid);
  track('moleculer-caller', () => caller.stop({ type: 'stop' }), () => caller.killNow());
  await caller.next('ready', IPC_TIMEOUT_MS);
  log(`moleculer ${serviceReady.version}: service broker (pid ${service.pid}) and caller broker (pid ${caller.pid}) connected over Redis`);

  const run = async (o: LoadRequest): Promise<LoadResult> => {
    const reply = caller.next('result', o.maxMs + REQUEST_TIMEOUT_MS + IPC_TIMEOUT_MS);
    const failed = caller.next('failed', o.maxMs + REQUEST_TIMEOUT_MS + IPC_TIMEOUT_MS).then(
      (f) => Promise.reject(new Error(`moleculer caller: ${f.error}`)),
      () => new Promise<never>(() => undefined),
    );
    caller.send({ type: 'run', ...o });
    return Promise.race([reply, failed]);
  };
  for (const warm of WARMUP) {
    const r = await run({ ...warm, timeoutMs: REQUEST_TIMEOUT_MS, payload: PAYLOAD });
    if (r.errors > 0) throw new Error(`Moleculer warm-up: ${r.errors} errors, first: ${r.firstError}`);
  }
  const pids = { redis: redis.pid, caller: caller.pid, service: service.pid };
  const series: Series[] = [];
  for (const k of IN_FLIGHT) series.push(await measured('Moleculer caller → service', k, counters, pids, run));
  await release('moleculer-caller');
  await release('moleculer-service');
  return { version: serviceReady.version, series };
}

// --- memory per idle agent ---------------------------------------------------------------------

/** Waits until RSS holds within 1 % over RSS_STABLE_SAMPLES samples (bounded); how long it took. */
async function rssSettled(pid: number, maxMs: number): Promise<number> {
  const started = performance.now();
  const recent: number[] = [];
  while (performance.now() - started < maxMs) {
    recent.push(rssBytes(pid));
    if (recent.length > RSS_STABLE_SAMPLES) recent.shift();
    if (recent.length === RSS_STABLE_SAMPLES && (Math.max(...recent) - Math.min(...recent)) / Math.min(...recent) < 0.01) break;
    await sleep(RSS_SAMPLE_MS);
  }
  return performance.now() - started;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** RSS samples over `ms`, with the cores `meters` used meanwhile: nothing else is asked of anyone. */
async function idleWindow(pid: number, ms: number, meters: CpuMeter[]): Promise<{ rss: number[]; cores: Record<string, number> }> {
  meters.forEach((m) => m.mark());
  const rss: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    rss.push(rssBytes(pid));
    await sleep(Math.min(RSS_SAMPLE_MS, Math.max(0, end - performance.now())));
  }
  return { rss, cores: Object.fromEntries(meters.map((m) => [m.label, round(m.cores())])) };
}

async function memory(redis: RedisServer, c: Cluster, bulk: RedisStore) {
  const name = 'bench-mem';
  // SIGUSR2 makes it collect its garbage (bench/lib/gc-on-signal.mjs), so RSS shows what it keeps.
  const box = await startContainer(c, redis, name, { FLOTILLA_MAX_AGENTS: String(MEMORY_AGENTS * 2), NODE_OPTIONS: `--import ${GC_HOOK}` });
  const collectGarbage = async (): Promise<void> => {
    box.proc.signal('SIGUSR2');
    await sleep(AFTER_GC_MS);
  };
  await hostedCount(box.port); // the same request is made at the end: its code is loaded in both
  await rssSettled(box.proc.pid, RSS_SETTLE_MAX_MS);
  const idleMeters = (): CpuMeter[] => [new CpuMeter('container', box.proc.pid), new CpuMeter('redis', redis.pid), new CpuMeter('manager', c.manager.pid)];
  const beforeNoGc = rssBytes(box.proc.pid);
  await collectGarbage();
  const empty = await idleWindow(box.proc.pid, RSS_WINDOW_MS, idleMeters());
  const before = median(empty.rss);
  log(`memory: container ${name} (pid ${box.proc.pid}) idle with no agents: RSS ${(before / 2 ** 20).toFixed(1)} MiB after a full GC (${(beforeNoGc / 2 ** 20).toFixed(1)} before it), ${empty.cores.container} cores`);

  // Bulk create: many calls in flight on one auto-pipelining connection.
  const createStart = performance.now();
  let next = 0;
  const createWorker = async (): Promise<void> => {
    while (next < MEMORY_AGENTS) {
      const i = next++;
      if (!(await bulk.createAgent(newAgent(`echo/m${i}`, name, box.epoch)))) throw new Error(`echo/m${i} already exists`);
    }
  };
  await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, createWorker));
  const createMs = performance.now() - createStart;
  log(`memory: created ${num(MEMORY_AGENTS)} echo agents on ${name} in ${(createMs / 1_000).toFixed(1)} s (${num(MEMORY_AGENTS / (createMs / 1_000))}/s)`);

  // Activation hints, in chunks the inbox holds; the container's sweep would find them all anyway.
  const activateStart = performance.now();
  const deadline = activateStart + ACTIVATE_MAX_MS;
  let pushed = 0;
  let hosted = 0;
  const cpu = new CpuMeter(name, box.proc.pid).mark();
  while (hosted < MEMORY_AGENTS) {
    if (performance.now() > deadline) throw new Error(`only ${hosted} of ${MEMORY_AGENTS} agents hosted after ${ACTIVATE_MAX_MS} ms`);
    if (pushed < MEMORY_AGENTS && pushed - hosted < ACTIVATE_CHUNK) {
      const chunk = Math.min(ACTIVATE_CHUNK, MEMORY_AGENTS - pushed);
      await Promise.all(Array.from({ length: chunk }, (_, j) => bulk.pushInbox(containerInbox(name), { kind: 'control', ref: `echo/m${pushed + j}`, body: '{"op":"activate"}' })));
      pushed += chunk;
    }
    await sleep(STATUS_POLL_MS);
    const status = await containerStatus(box.port);
    // A container that lost its lease registered again: the agents' fences (old epoch) are not its own.
    if (status.epoch !== box.epoch) throw new Error(`${name} registered again (epoch ${box.epoch} → ${status.epoch}): it lost its lease while its agents were activated`);
    hosted = status.hosted;
    log(`memory: ${num(hosted)}/${num(MEMORY_AGENTS)} agents hosted (${num(hosted / ((performance.now() - activateStart) / 1_000))}/s), container ${cpu.cores(true).toFixed(2)} cores, RSS ${(rssBytes(box.proc.pid) / 2 ** 20).toFixed(0)} MiB`);
  }
  const activateMs = performance.now() - activateStart;
  const settleMs = await rssSettled(box.proc.pid, RSS_SETTLE_MAX_MS);
  // Also without the forced GC: what RSS shows when nobody asks (V8 may hold garbage a while).
  const afterNoGc = rssBytes(box.proc.pid);
  await collectGarbage();
  // Idle: nothing sent, nothing polled; RSS is the median over the window.
  const full = await idleWindow(box.proc.pid, RSS_WINDOW_MS, idleMeters());
  const after = median(full.rss);
  const perAgent = (after - before) / MEMORY_AGENTS;
  const perAgentNoGc = (afterNoGc - beforeNoGc) / MEMORY_AGENTS;
  const idle = full.cores;
  log(
    `memory: idle with ${num(MEMORY_AGENTS)} agents (settled for ${(settleMs / 1_000).toFixed(0)} s, then a full GC and ${RSS_WINDOW_MS / 1_000} s measured): ` +
      `RSS ${(after / 2 ** 20).toFixed(1)} MiB (${(Math.min(...full.rss) / 2 ** 20).toFixed(1)}–${(Math.max(...full.rss) / 2 ** 20).toFixed(1)}): ${num(perAgent)} bytes per agent ` +
      `(before the GC: ${(afterNoGc / 2 ** 20).toFixed(1)} MiB, ${num(perAgentNoGc)} bytes per agent); container ${idle.container} cores, redis ${idle.redis}, manager ${idle.manager}`,
  );
  await release(name);
  return {
    agents: MEMORY_AGENTS,
    rssBeforeBytes: before,
    rssAfterBytes: after,
    rssAfterRangeBytes: [Math.min(...full.rss), Math.max(...full.rss)],
    bytesPerAgent: round(perAgent, 0),
    rssBeforeNoGcBytes: beforeNoGc,
    rssAfterNoGcBytes: afterNoGc,
    bytesPerAgentNoGc: round(perAgentNoGc, 0),
    createMs: round(createMs, 0),
    activateMs: round(activateMs, 0),
    settleMs: round(settleMs, 0),
    idleCores: idle,
    idleCoresWithoutAgents: empty.cores,
  };
}

// --- the run -----------------------------------------------------------------------------------

async function run() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench:messaging does)`);
  const redisVersion = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
  const loadAverageAtStart = loadavg().map((v) => round(v, 2));
  log(`messaging benchmark: ${cpus().length} CPUs, node ${process.version}, series of ${WINDOW_MS / 1_000} s at ${IN_FLIGHT.join(' and ')} in flight${PARTIAL ? `; phases ${[...PHASES].join(', ')} only` : ''}`);

  const redis = await startRedisServer();
  track('redis-server', () => redis.stop(), () => redis.kill9());
  log(`redis-server ${redis.url} (pid ${redis.pid})`);
  const counters = new Redis(redis.url, { connectionName: 'bench-counters', maxRetriesPerRequest: 2 });
  track('counters', async () => void counters.disconnect(), () => counters.disconnect());
  const foreign = new ForeignLoadMeter(() => [process.pid, redis.pid, ...childPids]).mark();

  // 1. The floor.
  const raw = PHASES.has('raw') ? await rawRedis(redis, counters) : null;

  // 2. Flotilla: a manager, two containers.
  let cluster: Cluster | null = null;
  if (PHASES.has('flotilla') || PHASES.has('memory')) {
    const port = await freePort();
    const prefix = `bench${process.pid}:`;
    const manager = new FlotillaProcess('manager', ['manager'], {
      REDIS_URL: redis.url,
      CLUSTER_PORT: String(port),
      FLOTILLA_BIND_ADDRESS: '127.0.0.1',
      EXTERNAL_IP: '127.0.0.1',
      FLOTILLA_MANAGER_ID: `bench-mgr-${process.pid}`,
      FLOTILLA_PREFIX: prefix,
      FLOTILLA_LOG_LEVEL: 'warn',
    });
    flotillaProcesses.push(manager);
    childPids.push(manager.pid);
    track('manager', async () => void (await manager.stop()), () => manager.kill9());
    const managerUrl = `http://127.0.0.1:${port}`;
    await waitForHttp(`${managerUrl}/ready`, START_TIMEOUT_MS);
    log(`manager on ${managerUrl} (pid ${manager.pid})`);
    // The bench's own connection: auto-pipelining, for the bulk creation of the memory phase.
    const store = new RedisStore({ redis: new Redis(redis.url, { connectionName: 'bench-store', enableAutoPipelining: true, maxRetriesPerRequest: 2 }), prefix });
    track('bench store', () => store.close(), () => void store.close());
    cluster = { managerUrl, prefix, store, manager };
  }
  const flot = PHASES.has('flotilla') ? await flotilla(redis, cluster!, counters) : null;

  // 3. Moleculer.
  const mol = PHASES.has('moleculer') ? await moleculer(redis, counters) : null;

  // 4. Memory and idle CPU.
  const mem = PHASES.has('memory') ? await memory(redis, cluster!, cluster!.store) : null;

  if (raw === null || flot === null || mol === null || mem === null) return null;
  return {
    meta: {
      date: new Date().toISOString(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      redis: redisVersion,
      moleculer: mol.version,
      windowMs: WINDOW_MS,
      payload: PAYLOAD,
      echoAgents: ECHO_AGENTS,
      targets: `load worker w calls echo agent w mod ${ECHO_AGENTS}: at ${Math.max(...IN_FLIGHT)} in flight no echo agent has two requests at once (an agent takes one turn at a time)`,
      loadAverageAtStart,
      otherLoadOnMachineCores: round(foreign.cores()),
      durationS: round((performance.now() - benchStart) / 1_000, 1),
    },
    targets: TARGETS,
    flotilla: { series: flot.series, ...flot.containers },
    moleculer: { version: mol.version, series: mol.series },
    rawRedis: raw,
    memory: mem,
  };
}

// --- the report --------------------------------------------------------------------------------

type Results = NonNullable<Awaited<ReturnType<typeof run>>>;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

function report(r: Results): { text: string; passed: boolean; verdicts: Record<string, boolean> } {
  const at = (series: Series[], k: number): Series => series.find((s) => s.inFlight === k)!;
  const f1 = at(r.flotilla.series, 1);
  const f64 = at(r.flotilla.series, 64);
  const m1 = at(r.moleculer.series, 1);
  const m64 = at(r.moleculer.series, 64);
  const verdicts = {
    rpsAt64: f64.errors === 0 && f64.latency.rps >= TARGETS.rpsRatioAt64 * m64.latency.rps,
    p50At1: f1.errors === 0 && f1.latency.p50 <= TARGETS.p50RatioAt1 * m1.latency.p50,
    memoryPerAgent: r.memory.bytesPerAgent < TARGETS.bytesPerIdleAgent,
  };
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
  const cell = (s: Series): string => `${num(s.latency.rps)} req/s, p50 ${ms(s.latency.p50)}, p99 ${ms(s.latency.p99)}${s.errors > 0 ? `, ${s.errors} errors` : ''}`;
  const ping = (k: number): Series => at(r.rawRedis.ping, k);
  const pair = (k: number): Series => at(r.rawRedis.streamPair, k);
  const floor = (k: number): Series => at(r.rawRedis.durableFloor, k);
  const rows = [
    ['figure', 'Flotilla', `Moleculer ${r.moleculer.version}`, 'raw Redis PING', 'raw Redis XADD+XREAD', 'raw durable request/reply (floor)', 'target', 'result'],
    ['1 in flight', cell(f1), cell(m1), cell(ping(1)), cell(pair(1)), cell(floor(1)), `p50 ≤ Moleculer's (${ms(m1.latency.p50)})`, verdict(verdicts.p50At1)],
    ['64 in flight', cell(f64), cell(m64), cell(ping(64)), cell(pair(64)), cell(floor(64)), `≥ ${TARGETS.rpsRatioAt64}× Moleculer's rps (${num(TARGETS.rpsRatioAt64 * m64.latency.rps)})`, verdict(verdicts.rpsAt64)],
    ['Redis commands per request (64)', String(f64.redisCommandsPerRequest), String(m64.redisCommandsPerRequest), String(ping(64).redisCommandsPerRequest), String(pair(64).redisCommandsPerRequest), String(floor(64).redisCommandsPerRequest), '-', '-'],
    ['CPU-µs per request, all processes (64)', String(f64.cpuUsPerRequest), String(m64.cpuUsPerRequest), String(ping(64).cpuUsPerRequest), String(pair(64).cpuUsPerRequest), String(floor(64).cpuUsPerRequest), '-', '-'],
    [
      `memory per idle active agent (${num(r.memory.agents)} echo)`,
      `${num(r.memory.bytesPerAgent)} B after a full GC (${num(r.memory.bytesPerAgentNoGc)} B before it)`,
      '-',
      '-',
      '-',
      '-',
      `< ${num(TARGETS.bytesPerIdleAgent)} B`,
      verdict(verdicts.memoryPerAgent),
    ],
    [
      `idle CPU with ${num(r.memory.agents)} agents`,
      `container ${r.memory.idleCores.container} cores (with no agents ${r.memory.idleCoresWithoutAgents.container}); redis ${r.memory.idleCores.redis}, manager ${r.memory.idleCores.manager}`,
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
    ],
  ];
  const passed = Object.values(verdicts).every(Boolean);
  const machine =
    `machine: ${r.meta.cpus} CPUs (${r.meta.cpuModel}), ${r.meta.node}, ${r.meta.redis.split(' ').slice(0, 3).join(' ')}; load average at start ${r.meta.loadAverageAtStart.join(' ')}; ` +
    `other load on the machine during the run ${r.meta.otherLoadOnMachineCores} cores` +
    (r.meta.otherLoadOnMachineCores > OTHER_LOAD_WARNING_CORES ? `\nWARNING: other load on this machine (> ${OTHER_LOAD_WARNING_CORES} cores) distorted these figures; run again on a quiet machine` : '');
  const list = (o: Record<string, number>): string => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
  const where =
    `Flotilla at 64 in flight, per request: Redis calls ${list(f64.redisCallsPerRequest)}\n` +
    `  Redis CPU-µs by command ${list(f64.redisUsecPerRequest)}; cores used: ${list(f64.cores)}\n` +
    `Moleculer at 64 in flight, per request: Redis calls ${list(m64.redisCallsPerRequest)}; cores used: ${list(m64.cores)}\n` +
    `memory: RSS ${(r.memory.rssBeforeBytes / 2 ** 20).toFixed(1)} → ${(r.memory.rssAfterBytes / 2 ** 20).toFixed(1)} MiB for ${num(r.memory.agents)} agents ` +
    `(created in ${(r.memory.createMs / 1_000).toFixed(1)} s, all hosted ${(r.memory.activateMs / 1_000).toFixed(1)} s later)`;
  // What any durable design could reach here, from figures of this run. At 1 in flight: the floor's
  // median against the target. At 64: the CPU the target leaves per request on this machine's
  // cores, against what one durable hop alone costs (a request/reply needs two, plus an ack).
  const below = (ok: boolean): string => (ok ? 'within reach of' : 'BEYOND');
  const targetRps = TARGETS.rpsRatioAt64 * m64.latency.rps;
  const budgetUs = round((r.meta.cpus * 1e6) / targetRps, 1);
  const hopUs = pair(64).cpuUsPerRequest;
  const floorNote =
    `durable floor (no Flotilla code: request XADD, responder XREAD + MULTI{reply XADD, XDEL}, requester XREAD): ` +
    `p50 at 1 in flight ${ms(floor(1).latency.p50)} vs the target ${ms(m1.latency.p50)}: ${below(floor(1).latency.p50 <= m1.latency.p50)} a durable design.\n` +
    `CPU budget at 64 in flight: ${num(targetRps)} req/s on ${r.meta.cpus} CPUs leaves ${budgetUs} CPU-µs per request for every process; ` +
    `one durable hop alone (raw XADD+XREAD, no handler, no reply) costs ${hopUs} and a request/reply needs two: ${below(2 * hopUs <= budgetUs)} a durable design on this machine`;
  const met = Object.values(verdicts).filter(Boolean).length;
  const total = Object.keys(verdicts).length;
  return { text: `${table(rows)}\n\n${where}\n${floorNote}\n${machine}\noverall: ${passed ? 'PASS' : 'FAIL'} (${met} of ${total} targets met)`, passed, verdicts };
}

// --- main -----------------------------------------------------------------------------------

class PartialRun extends Error {}

let exitCode = 0;
try {
  const results = await run();
  if (results === null) {
    console.log('\npartial run (BENCH_PHASES): no table, no results file');
    throw new PartialRun();
  }
  exitCode = publishResults(RESULTS_FILE, results, report(results));
} catch (err) {
  // A partial run printed why above and keeps exit code 0.
  if (!(err instanceof PartialRun)) exitCode = failureExitCode(err, teardown, () => flotillaProcesses.map((p) => `\n${p.label} output (last 20 lines):\n${p.output.slice(-20).join('\n')}`).join('\n'));
} finally {
  log('tearing down');
  await teardown.stopAll(log);
  log('done');
}
process.exit(exitCode);
