/**
 * Control-plane benchmark: one manager and one Redis with 5,000 simulated containers renewing
 * their leases every second.
 *
 * Targets (from the issue): the leader stays under half a core, 1,000 registrations finish in
 * under 5 s, GET /api/v1/cluster/status p99 under 100 ms.
 *
 * Everything is real and on 127.0.0.1: a redis-server (test/helpers), one `flotilla manager`
 * process, registrations over HTTP, and lease renewals straight in Redis (RedisStore.renewLease
 * with each registration's epoch, as a container does) from separate simulator processes, so
 * their CPU is not the manager's. The simulated host addresses (127.0.x.y) are only data.
 *
 * Peers, measured in the same run (a project rule: no figure without a comparison):
 * - the HTTP-heartbeat design (the system we replace, and most others): the same containers
 *   POST /api/v1/cluster/containers/{id}/heartbeat every second to the same manager;
 * - a floor: a bare Fastify hello-world (and a fixed body of the status reply's size) in its own
 *   process, under the same request pattern, so readers see which part of the latency is ours;
 * - for registrations: the same 1,000 registrations straight into the store, without HTTP.
 * Published reference points (Kubernetes, Swarm) are printed as such, never as measurements.
 *
 * Output: progress lines, a table at the end, and bench/results/control-plane.json. Exit code 0
 * when every target is met, 1 when one is missed, 2 when the run itself failed.
 * Knobs for quick runs (defaults are the issue's): BENCH_CONTAINERS, BENCH_STEADY_MS,
 * BENCH_HTTP_WINDOW_MS, BENCH_LATENCY_REQUESTS.
 */
import { Teardown } from './lib/teardown.js';
import { failureExitCode, publishResults } from './lib/results.js';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { FlotillaProcess, freePort, http, waitFor, waitForHttp } from '../test/helpers/processes.js';
import { startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';
import { connectRedis, createStore, RedisStore, type ClusterStore } from '../src/store/index.js';
import { RedisKeys } from '../src/store/redis/keys.js';
import { summarizeCluster } from '../src/manager/status.js';
import type { ClusterStatus, RegisterBody, RegisterResponse } from '../src/protocol/api.js';
import type { ContainerRegistration } from '../src/protocol/container.js';
import { CpuMeter, ForeignLoadMeter } from './lib/cpu.js';
import { TsChild } from './lib/children.js';
import { measureLatency, summarize, type LatencySummary } from './lib/latency.js';
import type { FromSimulator, SimContainer, SimStats, ToSimulator } from './control-plane/protocol.js';

// --- parameters -----------------------------------------------------------------------------

const intEnv = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};

const CONTAINERS = intEnv('BENCH_CONTAINERS', 5_000);
const FIRST_BATCH = Math.min(1_000, CONTAINERS);
const REGISTER_CONCURRENCY = 64;
const REGISTER_MAX_MS = 120_000;
const LEASE_INTERVAL_MS = 1_000;
const LEASE_TIMEOUT_MS = 3_000;
const SIMULATORS = 2;
const SIM_REDIS_CONNECTIONS = 50;
const SIM_HTTP_CONNECTIONS = 256;
/** After the last registration, before the measured window: every lease on its steady rhythm. */
const SETTLE_MS = 5_000;
const STEADY_MS = intEnv('BENCH_STEADY_MS', 20_000);
/** Switching 5,000 containers to HTTP at once opens hundreds of connections: let that pass. */
const HTTP_SETTLE_MS = 5_000;
const HTTP_WINDOW_MS = intEnv('BENCH_HTTP_WINDOW_MS', 15_000);
const LATENCY_REQUESTS = intEnv('BENCH_LATENCY_REQUESTS', 300);
const LIST_REQUESTS = Math.max(1, Math.round(LATENCY_REQUESTS / 3));
const LATENCY_CONCURRENCY = 8;
/** Each latency series stops after this long even if short of its count (then its n is printed). */
const LATENCY_MAX_MS = 20_000;
/** Requests sent before each latency series and not counted (connection set-up, JIT, first-call compilation). */
const LATENCY_WARMUP = 5;
const PROGRESS_EVERY_MS = 5_000;
/** Share of the due heartbeats answered for the HTTP peer to count as keeping up. */
const HTTP_KEEPS_UP = 0.95;
/** CPU used on the machine by other processes, above which the figures are flagged as distorted. */
const OTHER_LOAD_WARNING_CORES = 0.2;
const IPC_TIMEOUT_MS = 15_000;
const STATUS_PATH = '/api/v1/cluster/status';
const CONTAINERS_PATH = '/api/v1/cluster/containers';
const RESULTS_FILE = fileURLToPath(new URL('./results/control-plane.json', import.meta.url));

const TARGETS = {
  leaderCores: 0.5,
  firstThousandMs: 5_000,
  statusP99Ms: 100,
  downsWhileRenewing: 0,
} as const;

/** Published figures, for scale only: not measured here. */
const PUBLISHED = [
  { what: 'Kubernetes: largest supported cluster', figure: '5,000 nodes', source: 'kubernetes.io, "Considerations for large clusters"' },
  { what: 'Kubernetes SLO: cluster-wide LIST p99', figure: '<= 30 s', source: 'kubernetes/community sig-scalability SLOs (api_call_latency)' },
  { what: 'Docker Swarm mode: Swarm2k community test', figure: '2,384 nodes, 3 managers', source: 'Scaleway blog, 2016' },
  { what: 'classic Docker Swarm: `docker info` at 1,000 nodes', figure: 'p50 150 ms, p99 360 ms', source: 'Docker blog, Nov 2015 (m4.xlarge manager)' },
] as const;

// --- output ---------------------------------------------------------------------------------

const benchStart = performance.now();
const log = (msg: string): void => {
  console.log(`[${((performance.now() - benchStart) / 1_000).toFixed(1).padStart(6)} s] ${msg}`);
};
const ms = (v: number): string => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms` : 'n/a');
const cores = (v: number): string => `${v.toFixed(3)} cores`;
const round = (v: number, digits = 3): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);

// --- teardown -------------------------------------------------------------------------------

const teardown = new Teardown('the manager, simulators and floor server');
/** For the failure report: the manager's last lines of output. */
let managerProcess: FlotillaProcess | undefined;


// --- small helpers --------------------------------------------------------------------------

function registration(index: number): RegisterBody {
  const zone = ['a', 'b', 'c'][index % 3]!;
  return {
    container_name: `sim-${String(index + 1).padStart(5, '0')}`,
    // Only data: nothing is ever sent to these addresses.
    host_address: `127.0.${1 + Math.floor(index / 250)}.${1 + (index % 250)}`,
    api_port: 8001,
    capabilities: ['python', 'http'],
    labels: { zone, 'node.role': 'worker' },
    resources: { cpu_cores: 4, memory_mb: 8_192, gpus: 0, max_agents: 50 },
    metadata: { pid: 1000 + index, node_version: process.version, platform: process.platform },
    agent_types: ['echo', 'llm', 'http'],
    lease_interval_ms: LEASE_INTERVAL_MS,
    lease_timeout_ms: LEASE_TIMEOUT_MS,
  };
}

function toStoreRegistration(b: RegisterBody): ContainerRegistration {
  return {
    name: b.container_name,
    hostAddress: b.host_address,
    apiPort: b.api_port ?? 8001,
    capabilities: b.capabilities ?? [],
    labels: b.labels ?? {},
    resources: b.resources ?? {},
    metadata: b.metadata ?? {},
    agentTypes: b.agent_types ?? [],
    leaseIntervalMs: b.lease_interval_ms ?? LEASE_INTERVAL_MS,
    leaseTimeoutMs: b.lease_timeout_ms ?? LEASE_TIMEOUT_MS,
  };
}

/** GET `path` and read the whole body; returns its size in bytes. */
async function get(pool: Pool, path: string): Promise<number> {
  const res = await pool.request({ method: 'GET', path, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = await res.body.arrayBuffer();
  if (res.statusCode !== 200) throw new Error(`GET ${path} answered ${res.statusCode}`);
  return body.byteLength;
}

/** Runs `count` tasks over `concurrency` workers; `deadlineMs` bounds the whole run. */
async function runBounded(count: number, concurrency: number, deadlineMs: number, task: (i: number) => Promise<void>): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      if (performance.now() > deadline) throw new Error(`not finished within ${deadlineMs} ms (${next}/${count} started)`);
      await task(next++);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

type SummedStats = SimStats & { renewalsPerSecond: number; perSimulator: SimStats[] };

function sumStats(all: SimStats[]): SummedStats {
  const lost: Record<string, number> = {};
  for (const s of all) for (const [k, v] of Object.entries(s.lost)) lost[k] = (lost[k] ?? 0) + v;
  const windowMs = Math.max(...all.map((s) => s.windowMs));
  const renewals = all.reduce((a, s) => a + s.renewals, 0);
  const maxOf = (f: (s: SimStats) => number): number => Math.max(...all.map(f).filter(Number.isFinite));
  return {
    mode: all[0]!.mode,
    containers: all.reduce((a, s) => a + s.containers, 0),
    lost,
    renewals,
    failures: all.reduce((a, s) => a + s.failures, 0),
    skipped: all.reduce((a, s) => a + s.skipped, 0),
    // Percentiles do not add up: the worst simulator's is shown.
    rttP50: maxOf((s) => s.rttP50),
    rttP99: maxOf((s) => s.rttP99),
    rttMax: maxOf((s) => s.rttMax),
    lateP99: maxOf((s) => s.lateP99),
    lateMax: maxOf((s) => s.lateMax),
    windowMs,
    firstError: all.find((s) => s.firstError !== null)?.firstError ?? null,
    renewalsPerSecond: renewals / (windowMs / 1_000),
    perSimulator: all,
  };
}

const lostTotal = (s: SimStats): number => Object.values(s.lost).reduce((a, b) => a + b, 0);

// --- the run --------------------------------------------------------------------------------

type Simulator = TsChild<ToSimulator, FromSimulator>;
type FloorMessage = { type: 'listening'; port: number } | { type: 'blob-set'; bytes: number };
type Floor = TsChild<{ type: 'blob'; body: string } | { type: 'stop' }, FloorMessage>;

async function simStats(sims: Simulator[], reset: boolean): Promise<SummedStats> {
  const replies = await Promise.all(sims.map((s) => s.request({ type: 'stats', reset }, 'stats', IPC_TIMEOUT_MS)));
  return sumStats(replies.map((r) => r.stats));
}

async function setMode(sims: Simulator[], mode: 'idle' | 'redis' | 'http'): Promise<void> {
  await Promise.all(sims.map((s) => s.request({ type: 'mode', mode }, 'mode', IPC_TIMEOUT_MS)));
}

/** Holds a phase for `durationMs`, printing a progress line every PROGRESS_EVERY_MS. */
async function hold(durationMs: number, progress: () => Promise<string>): Promise<void> {
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    await sleep(Math.min(PROGRESS_EVERY_MS, Math.max(0, end - performance.now())));
    log(await progress());
  }
}

async function run() {
  const clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const redisVersion = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
  const loadAverageAtStart = loadavg().map((v) => round(v, 2));
  log(`control-plane benchmark: ${CONTAINERS} containers, lease every ${LEASE_INTERVAL_MS} ms (timeout ${LEASE_TIMEOUT_MS} ms), ${cpus().length} CPUs, node ${process.version}`);

  // Redis and the manager.
  const redis: RedisServer = await startRedisServer();
  teardown.track('redis-server', () => redis.stop(), () => redis.kill9());
  log(`redis-server ${redis.url} (pid ${redis.pid})`);

  const port = await freePort();
  const prefix = `bench${process.pid}:`;
  const managerId = `bench-mgr-${process.pid}`;
  const manager = new FlotillaProcess('manager', ['manager'], {
    REDIS_URL: redis.url,
    CLUSTER_PORT: String(port),
    FLOTILLA_BIND_ADDRESS: '127.0.0.1',
    EXTERNAL_IP: '127.0.0.1',
    FLOTILLA_MANAGER_ID: managerId,
    FLOTILLA_PREFIX: prefix,
  });
  managerProcess = manager;
  teardown.track('manager', async () => void (await manager.stop()), () => manager.kill9());
  const managerUrl = `http://127.0.0.1:${port}`;
  await waitForHttp(`${managerUrl}/ready`, 20_000);
  await waitFor('the manager to become leader', async () => {
    const res = await http<ClusterStatus>('GET', `${managerUrl}${STATUS_PATH}`);
    return res.status === 200 && res.body.leader.manager_id === managerId;
  }, 20_000, 100);
  log(`manager ${managerId} is leader on ${managerUrl} (pid ${manager.pid})`);

  // The bench's own view of the store, for the status breakdown.
  const store = await createStore({ redisUrl: redis.url, prefix, name: 'bench-observer' });
  teardown.track('bench store', () => store.close(), () => void store.close());
  // Containers down right now, in O(1): the detector removes the lease of each container it marks
  // down, and nothing else removes one here (no container deregisters). Counting events instead
  // would undercount once the capped event log wraps.
  const leaseKeys = new RedisKeys(prefix);
  const observer = connectRedis(redis.url, { name: 'bench-lease-count' });
  teardown.track('bench lease counter', async () => void (await observer.quit()), () => observer.disconnect());
  const downNow = async (): Promise<number> => CONTAINERS - (await observer.zcard(leaseKeys.leases));

  // Simulators and the floor server.
  const sims: Simulator[] = Array.from({ length: SIMULATORS }, (_, i) =>
    new TsChild<ToSimulator, FromSimulator>(`simulator-${i}`, 'bench/control-plane/simulator.ts', {
      SIM_REDIS_URL: redis.url,
      SIM_PREFIX: prefix,
      SIM_MANAGER_URL: managerUrl,
      SIM_TOTAL_CONTAINERS: String(CONTAINERS),
      SIM_INTERVAL_MS: String(LEASE_INTERVAL_MS),
      SIM_TIMEOUT_MS: String(LEASE_TIMEOUT_MS),
      SIM_REDIS_CONNECTIONS: String(SIM_REDIS_CONNECTIONS),
      SIM_HTTP_CONNECTIONS: String(SIM_HTTP_CONNECTIONS),
    }),
  );
  for (const s of sims) teardown.track(s.label, () => s.stop({ type: 'stop' }), () => s.killNow());
  const floor: Floor = new TsChild('floor-server', 'bench/control-plane/floor-server.ts', {});
  teardown.track('floor-server', () => floor.stop({ type: 'stop' }), () => floor.killNow());
  const floorListening = floor.next('listening', IPC_TIMEOUT_MS);
  await Promise.all(sims.map((s) => s.next('ready', IPC_TIMEOUT_MS)));
  const floorPort = (await floorListening).port;
  log(`${SIMULATORS} lease simulators (pids ${sims.map((s) => s.pid).join(', ')}), floor server on 127.0.0.1:${floorPort}`);

  // One pool per phase, each opened when its phase starts, so that no request of a measured
  // series lands on a connection that sat idle through an earlier phase.
  const pools: Pool[] = [];
  const openPool = (origin: string, connections: number): Pool => {
    const pool = new Pool(origin, { connections });
    pools.push(pool);
    return pool;
  };
  teardown.track('http pools', () => Promise.allSettled(pools.map((p) => p.close())).then(() => undefined), () => undefined);
  const registerPool = openPool(managerUrl, REGISTER_CONCURRENCY);

  const mgrCpu = new CpuMeter('manager', manager.pid);
  const redisCpu = new CpuMeter('redis', redis.pid);
  const simCpus = sims.map((s) => new CpuMeter(s.label, s.pid));
  // Everything of ours; the rest of the machine's busy time is someone else's load.
  const foreign = new ForeignLoadMeter(() => [process.pid, manager.pid, redis.pid, floor.pid, ...sims.map((s) => s.pid)]);

  // --- 1. registration floor: the same registrations straight into the store (no HTTP) -----
  const floorStore = new RedisStore({ redis: connectRedis(redis.url, { name: 'bench-floor' }), prefix: `${prefix}floor:` });
  teardown.track('floor store', () => floorStore.close(), () => void floorStore.close());
  const floorRegStart = performance.now();
  await runBounded(FIRST_BATCH, REGISTER_CONCURRENCY, REGISTER_MAX_MS, async (i) => {
    await floorStore.registerContainer(toStoreRegistration(registration(i)));
  });
  const floorRegMs = performance.now() - floorRegStart;
  log(`store-only floor: ${FIRST_BATCH} registrations straight into Redis in ${ms(floorRegMs)}`);

  // --- 2. registrations over HTTP; each registered container starts renewing at once -------
  await setMode(sims, 'redis');
  const regLatencies: number[] = [];
  const pending: SimContainer[][] = sims.map(() => []);
  const flush = (): void => {
    pending.forEach((batch, i) => {
      if (batch.length > 0) sims[i]!.send({ type: 'add', containers: batch.splice(0) });
    });
  };
  const flusher = setInterval(flush, 20);
  let registered = 0;
  let firstBatchMs = Number.NaN;
  mgrCpu.mark();
  redisCpu.mark();
  const regStart = performance.now();
  const regProgress = setInterval(() => {
    const s = (performance.now() - regStart) / 1_000;
    log(`registering: ${registered}/${CONTAINERS} (${Math.round(registered / s)}/s)`);
  }, 1_000);
  try {
    await runBounded(CONTAINERS, REGISTER_CONCURRENCY, REGISTER_MAX_MS, async (i) => {
      const t = performance.now();
      const res = await registerPool.request({
        method: 'POST',
        path: '/api/v1/cluster/containers/register',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(registration(i)),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`registration ${i} answered ${res.statusCode}: ${text}`);
      regLatencies.push(performance.now() - t);
      const body = JSON.parse(text) as RegisterResponse;
      pending[i % SIMULATORS]!.push({ id: body.container_id, epoch: body.epoch, index: i });
      registered += 1;
      if (registered === FIRST_BATCH) firstBatchMs = performance.now() - regStart;
    });
  } finally {
    clearInterval(regProgress);
    clearInterval(flusher);
    flush();
  }
  const allRegMs = performance.now() - regStart;
  await registerPool.close();
  const regManagerCores = mgrCpu.cores();
  const regRedisCores = redisCpu.cores();
  const regSummary = summarize(regLatencies, REGISTER_CONCURRENCY, allRegMs, false);
  log(`registered ${CONTAINERS} in ${ms(allRegMs)} (${Math.round(CONTAINERS / (allRegMs / 1_000))}/s); first ${FIRST_BATCH} in ${ms(firstBatchMs)}; manager ${cores(regManagerCores)}`);

  // --- 3. steady state: every container renewing in Redis, nothing else going on ------------
  log(`settling ${SETTLE_MS / 1_000} s, then a ${STEADY_MS / 1_000} s steady window`);
  await sleep(SETTLE_MS);
  const steadyDown0 = await downNow();
  await simStats(sims, true);
  mgrCpu.mark();
  redisCpu.mark();
  simCpus.forEach((m) => m.mark());
  foreign.mark();
  const progressMgr = new CpuMeter('manager', manager.pid).mark();
  const progressRedis = new CpuMeter('redis', redis.pid).mark();
  const steadyProgress = async (): Promise<string> => {
    const s = await simStats(sims, false);
    return `steady (lease in Redis): manager ${cores(progressMgr.cores(true))}, redis ${cores(progressRedis.cores(true))}, ` +
      `${Math.round(s.renewalsPerSecond)} renewals/s, renew p99 ${ms(s.rttP99)}, down so far ${(await downNow()) - steadyDown0}`;
  };
  await hold(STEADY_MS, steadyProgress);
  const steadyManagerCores = mgrCpu.cores();
  const steadyRedisCores = redisCpu.cores();
  const steadySimCores = simCpus.reduce((a, m) => a + m.cores(), 0);
  const steadyForeignCores = foreign.cores();
  const steadySims = await simStats(sims, true);
  const steadyDowns = (await downNow()) - steadyDown0;
  const downsBeforeWindow = steadyDown0;
  const managerRss = rssMb(manager.pid);
  log(`steady window: manager ${cores(steadyManagerCores)}, redis ${cores(steadyRedisCores)}, ${Math.round(steadySims.renewalsPerSecond)} renewals/s, ${steadyDowns} marked down`);

  // --- 4. API latency with 5,000 containers (renewals still running) -----------------------
  const latencyDown0 = await downNow();
  await simStats(sims, true);
  const statusRes = await http<ClusterStatus>('GET', `${managerUrl}${STATUS_PATH}`);
  if (statusRes.status !== 200) throw new Error(`GET ${STATUS_PATH} answered ${statusRes.status}`);
  const statusBody = JSON.stringify(statusRes.body);
  const statusCounts = statusRes.body.cluster;
  log(`status: ${statusCounts.total_containers} containers, ${statusCounts.active_containers} active, ${statusCounts.down_containers} down; reply ${(Buffer.byteLength(statusBody) / 1024).toFixed(0)} KiB`);
  await floor.request({ type: 'blob', body: statusBody }, 'blob-set', IPC_TIMEOUT_MS);

  const latency = async (label: string, pool: Pool, path: string, count: number, concurrency: number): Promise<LatencySummary> => {
    for (let i = 0; i < LATENCY_WARMUP; i++) await get(pool, path);
    const result = await measureLatency(() => get(pool, path).then(() => undefined), { count, concurrency, maxMs: LATENCY_MAX_MS });
    log(`${label.padEnd(38)} n=${String(result.count).padStart(4)} c=${concurrency}  p50 ${ms(result.p50)}  p90 ${ms(result.p90)}  p99 ${ms(result.p99)}  max ${ms(result.max)}${result.truncated ? '  (time bound hit)' : ''}`);
    return result;
  };
  const managerPool = openPool(managerUrl, LATENCY_CONCURRENCY);
  const floorPool = openPool(`http://127.0.0.1:${floorPort}`, LATENCY_CONCURRENCY);
  mgrCpu.mark();
  redisCpu.mark();
  foreign.mark();
  const statusSeq = await latency('GET /cluster/status (sequential)', managerPool, STATUS_PATH, LATENCY_REQUESTS, 1);
  // The warm-up requests ran inside the CPU window too.
  const statusSeqManagerCpuMs = (mgrCpu.cpuSeconds() * 1_000) / (statusSeq.count + LATENCY_WARMUP);
  const statusSeqRedisCpuMs = (redisCpu.cpuSeconds() * 1_000) / (statusSeq.count + LATENCY_WARMUP);
  const statusConc = await latency(`GET /cluster/status (${LATENCY_CONCURRENCY} clients)`, managerPool, STATUS_PATH, LATENCY_REQUESTS, LATENCY_CONCURRENCY);
  const containersReplyBytes = await get(managerPool, CONTAINERS_PATH);
  const listSeq = await latency('GET /cluster/containers (sequential)', managerPool, CONTAINERS_PATH, LIST_REQUESTS, 1);
  const helloSeq = await latency('floor: Fastify hello (sequential)', floorPool, '/hello', LATENCY_REQUESTS, 1);
  const helloConc = await latency(`floor: Fastify hello (${LATENCY_CONCURRENCY} clients)`, floorPool, '/hello', LATENCY_REQUESTS, LATENCY_CONCURRENCY);
  const blobSeq = await latency('floor: same-size static body (seq.)', floorPool, '/blob', LATENCY_REQUESTS, 1);
  const blobConc = await latency(`floor: same-size body (${LATENCY_CONCURRENCY} clients)`, floorPool, '/blob', LATENCY_REQUESTS, LATENCY_CONCURRENCY);
  const latencyForeignCores = foreign.cores();
  const latencyDowns = (await downNow()) - latencyDown0;
  const latencySims = await simStats(sims, true);
  log(`during the latency phase: ${Math.round(latencySims.renewalsPerSecond)} lease renewals/s (p99 ${ms(latencySims.rttP99)}), ${latencyDowns} container(s) marked down`);

  // Where the status time goes: the same code the manager runs, timed in this process.
  const breakdown = await statusBreakdown(store);
  log(`breakdown (in the bench process): listContainers p50 ${ms(breakdown.listContainersP50)}, summarizeCluster p50 ${ms(breakdown.summarizeP50)}, JSON.stringify p50 ${ms(breakdown.stringifyP50)}`);

  // --- 5. peer: the HTTP-heartbeat design, same containers, same manager --------------------
  log(`peer: switching the same ${CONTAINERS} containers to HTTP heartbeats (POST .../heartbeat every ${LEASE_INTERVAL_MS} ms)`);
  const switchDown0 = await downNow();
  await setMode(sims, 'http');
  await sleep(HTTP_SETTLE_MS);
  const httpDown0 = await downNow();
  await simStats(sims, true);
  mgrCpu.mark();
  redisCpu.mark();
  simCpus.forEach((m) => m.mark());
  foreign.mark();
  progressMgr.mark();
  progressRedis.mark();
  await hold(HTTP_WINDOW_MS, async () => {
    const s = await simStats(sims, false);
    return `HTTP heartbeats: manager ${cores(progressMgr.cores(true))}, redis ${cores(progressRedis.cores(true))}, ` +
      `${Math.round(s.renewalsPerSecond)}/${CONTAINERS} heartbeats/s, p99 ${ms(s.rttP99)}, failed ${s.failures}, lost ${lostTotal(s)}, down so far ${(await downNow()) - httpDown0}`;
  });
  const httpManagerCores = mgrCpu.cores();
  const httpRedisCores = redisCpu.cores();
  const httpSimCores = simCpus.reduce((a, m) => a + m.cores(), 0);
  const httpForeignCores = foreign.cores();
  const httpSims = await simStats(sims, true);
  const httpDowns = (await downNow()) - httpDown0;
  const httpDownsSinceSwitch = (await downNow()) - switchDown0;
  await setMode(sims, 'idle');
  log(`HTTP heartbeat window: manager ${cores(httpManagerCores)}, ${Math.round(httpSims.renewalsPerSecond)} heartbeats/s, ${httpDowns} marked down`);

  return {
    meta: {
      date: new Date().toISOString(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      redis: redisVersion,
      clkTck,
      containers: CONTAINERS,
      leaseIntervalMs: LEASE_INTERVAL_MS,
      leaseTimeoutMs: LEASE_TIMEOUT_MS,
      simulators: SIMULATORS,
      simulatorRedisConnections: SIMULATORS * SIM_REDIS_CONNECTIONS,
      registerConcurrency: REGISTER_CONCURRENCY,
      steadyWindowMs: STEADY_MS,
      httpWindowMs: HTTP_WINDOW_MS,
      loadAverageAtStart: loadAverageAtStart,
      durationS: round((performance.now() - benchStart) / 1_000, 1),
    },
    targets: TARGETS,
    registration: {
      firstBatch: FIRST_BATCH,
      firstBatchMs: round(firstBatchMs, 1),
      allMs: round(allRegMs, 1),
      perSecond: round(CONTAINERS / (allRegMs / 1_000), 1),
      latency: regSummary,
      managerCores: round(regManagerCores),
      redisCores: round(regRedisCores),
      storeOnlyFloorMs: round(floorRegMs, 1),
    },
    steady: {
      managerCores: round(steadyManagerCores),
      redisCores: round(steadyRedisCores),
      simulatorCores: round(steadySimCores),
      otherLoadOnMachineCores: round(steadyForeignCores),
      managerRssMb: round(managerRss, 1),
      renewalsPerSecond: round(steadySims.renewalsPerSecond, 1),
      simulator: steadySims,
      downsInWindow: steadyDowns,
      downsBeforeWindow,
    },
    latency: {
      otherLoadOnMachineCores: round(latencyForeignCores),
      downsDuringPhase: latencyDowns,
      renewalsDuringPhase: latencySims,
      statusReplyBytes: Buffer.byteLength(statusBody),
      statusSequential: statusSeq,
      statusConcurrent: statusConc,
      statusManagerCpuMsPerRequest: round(statusSeqManagerCpuMs, 2),
      statusRedisCpuMsPerRequest: round(statusSeqRedisCpuMs, 2),
      containersReplyBytes,
      containersSequential: listSeq,
      breakdown,
    },
    peers: {
      httpHeartbeat: {
        managerCores: round(httpManagerCores),
        redisCores: round(httpRedisCores),
        simulatorCores: round(httpSimCores),
        otherLoadOnMachineCores: round(httpForeignCores),
        heartbeatsPerSecond: round(httpSims.renewalsPerSecond, 1),
        managerCpuMsPerHeartbeat: round((httpManagerCores * 1_000) / Math.max(1, httpSims.renewalsPerSecond), 3),
        simulator: httpSims,
        downsInWindow: httpDowns,
        downsSinceSwitch: httpDownsSinceSwitch,
      },
      fastifyHello: { sequential: helloSeq, concurrent: helloConc },
      fastifySameSizeBody: { sequential: blobSeq, concurrent: blobConc },
    },
    published: PUBLISHED,
  };
}

/** Times, in this process, the three steps of GET /cluster/status over the real store. */
async function statusBreakdown(store: ClusterStore): Promise<{ listContainersP50: number; listContainersP99: number; summarizeP50: number; stringifyP50: number; samples: number }> {
  const SAMPLES = 20;
  const list: number[] = [];
  const summary: number[] = [];
  const stringify: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    let t = performance.now();
    const containers = await store.listContainers();
    list.push(performance.now() - t);
    t = performance.now();
    const status = summarizeCluster({ containers, leader: { leaderId: 'x', term: 1 }, managers: [], storeKind: 'redis', now: Date.now() });
    summary.push(performance.now() - t);
    t = performance.now();
    JSON.stringify(status);
    stringify.push(performance.now() - t);
  }
  const l = summarize(list, 1, 1, false);
  return {
    listContainersP50: round(l.p50, 2),
    listContainersP99: round(l.p99, 2),
    summarizeP50: round(summarize(summary, 1, 1, false).p50, 2),
    stringifyP50: round(summarize(stringify, 1, 1, false).p50, 2),
    samples: SAMPLES,
  };
}

// --- the report -----------------------------------------------------------------------------

type Results = Awaited<ReturnType<typeof run>>;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

function report(r: Results): { text: string; passed: boolean; verdicts: Record<string, boolean> } {
  const verdicts = {
    leaderCpu: r.steady.managerCores < TARGETS.leaderCores,
    firstThousand: r.registration.firstBatchMs < TARGETS.firstThousandMs,
    statusP99: r.latency.statusSequential.p99 < TARGETS.statusP99Ms,
    // Leases are renewed the same way through the latency phase: a container lost there counts too.
    noDowns: r.steady.downsInWindow + r.latency.downsDuringPhase <= TARGETS.downsWhileRenewing,
  };
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
  const lat = (s: LatencySummary): string => `p50 ${ms(s.p50)} / p99 ${ms(s.p99)}`;
  const h = r.peers.httpHeartbeat;
  const n = CONTAINERS.toLocaleString('en-US');
  const rows = [
    ['figure', 'target', 'Flotilla (measured)', 'result', 'peer, measured in this run'],
    [
      `leader CPU, ${n} leases renewed/s`,
      `< ${TARGETS.leaderCores} core`,
      `${cores(r.steady.managerCores)} (lease in Redis)`,
      verdict(verdicts.leaderCpu),
      h.heartbeatsPerSecond >= HTTP_KEEPS_UP * CONTAINERS
        ? `HTTP heartbeats: ${cores(h.managerCores)} at ${Math.round(h.heartbeatsPerSecond)}/${CONTAINERS} hb/s (${h.managerCpuMsPerHeartbeat.toFixed(3)} CPU-ms each)`
        : `HTTP heartbeats: ${cores(h.managerCores)}, and it could not keep up: ${Math.round(h.heartbeatsPerSecond)}/${CONTAINERS} hb/s answered`,
    ],
    ['Redis CPU, same window', '-', cores(r.steady.redisCores), '-', `HTTP heartbeats: ${cores(h.redisCores)}`],
    [
      'containers marked down (steady window; latency phase)',
      String(TARGETS.downsWhileRenewing),
      `${r.steady.downsInWindow} (${Math.round(r.steady.renewalsPerSecond)} renewals/s); ${r.latency.downsDuringPhase}`,
      verdict(verdicts.noDowns),
      `HTTP heartbeats: ${h.downsInWindow} marked down in the window, ${h.downsSinceSwitch} since the switch`,
    ],
    [
      `${r.registration.firstBatch.toLocaleString('en-US')} registrations (HTTP, ${REGISTER_CONCURRENCY} in flight)`,
      `< ${TARGETS.firstThousandMs / 1_000} s`,
      `${(r.registration.firstBatchMs / 1_000).toFixed(2)} s`,
      verdict(verdicts.firstThousand),
      `store only, no HTTP: ${(r.registration.storeOnlyFloorMs / 1_000).toFixed(2)} s`,
    ],
    [
      `${n} registrations`,
      '-',
      `${(r.registration.allMs / 1_000).toFixed(2)} s (${Math.round(r.registration.perSecond)}/s, ${lat(r.registration.latency)})`,
      '-',
      '-',
    ],
    [
      `GET /cluster/status, ${n} containers, sequential`,
      `p99 < ${TARGETS.statusP99Ms} ms`,
      `${lat(r.latency.statusSequential)} (${(r.latency.statusReplyBytes / 1024).toFixed(0)} KiB)`,
      verdict(verdicts.statusP99),
      `Fastify hello ${lat(r.peers.fastifyHello.sequential)}; same-size body ${lat(r.peers.fastifySameSizeBody.sequential)}`,
    ],
    [
      `GET /cluster/status, ${LATENCY_CONCURRENCY} concurrent clients`,
      '(not a target)',
      lat(r.latency.statusConcurrent),
      '-',
      `Fastify hello ${lat(r.peers.fastifyHello.concurrent)}; same-size body ${lat(r.peers.fastifySameSizeBody.concurrent)}`,
    ],
    ['manager CPU per status request', '-', `${r.latency.statusManagerCpuMsPerRequest.toFixed(1)} CPU-ms`, '-', '-'],
    ['GET /cluster/containers, sequential', '-', `${lat(r.latency.containersSequential)} (${(r.latency.containersReplyBytes / 1024).toFixed(0)} KiB)`, '-', '-'],
  ];
  const published = table([['published reference point (NOT measured here)', 'figure', 'source'], ...PUBLISHED.map((p) => [p.what, p.figure, p.source])]);
  const passed = Object.values(verdicts).every(Boolean);
  const other = Math.max(r.steady.otherLoadOnMachineCores, r.latency.otherLoadOnMachineCores, h.otherLoadOnMachineCores);
  const machine =
    `machine: ${r.meta.cpus} CPUs (${r.meta.cpuModel}), ${r.meta.node}, load average at start ${r.meta.loadAverageAtStart.join(' ')}; ` +
    `outside this benchmark the machine was busy ${cores(r.steady.otherLoadOnMachineCores)} (steady window), ` +
    `${cores(r.latency.otherLoadOnMachineCores)} (latency phase), ${cores(h.otherLoadOnMachineCores)} (HTTP window)` +
    (other > OTHER_LOAD_WARNING_CORES ? `\nWARNING: other load on this machine (> ${OTHER_LOAD_WARNING_CORES} cores) distorted these figures; run again on a quiet machine` : '');
  return { text: `${table(rows)}\n\n${published}\n\n${machine}\noverall: ${passed ? 'PASS' : 'FAIL'} (all four targets)`, passed, verdicts };
}

// --- main -----------------------------------------------------------------------------------

let exitCode = 0;
try {
  const results = await run();
  exitCode = publishResults(RESULTS_FILE, results, report(results));
} catch (err) {
  exitCode = failureExitCode(err, teardown, () => (managerProcess === undefined ? '' : `\nmanager output (last 30 lines):\n${managerProcess.output.slice(-30).join('\n')}`));
} finally {
  log('tearing down');
  await teardown.stopAll(log);
  log('done');
}
process.exit(exitCode);
