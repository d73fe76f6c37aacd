/**
 * A container's latency probe: on a bounded schedule it times a round trip to Redis (PING), to the
 * manager (`GET /health`) and to its peers (`GET /ping` on their advertised address), keeps the last
 * few figures per target, and writes a summary to the store, where the manager assembles the
 * cluster's matrix (`GET /api/v1/cluster/latency`).
 *
 * Bounded on purpose: one round at a time, at most LATENCY_PEERS_PER_ROUND peers per round (the
 * rest in later rounds, in turn), LATENCY_PROBE_CONCURRENCY requests at once, each with a timeout.
 */
import { performance } from 'node:perf_hooks';
import { request, type Dispatcher } from 'undici';
import { mapLimit } from '../common/concurrency.js';
import { PeriodicTask } from '../common/loop.js';
import type { Logger } from '../common/logger.js';
import type { ContainerRecord } from '../protocol/container.js';
import { PATHS } from '../protocol/paths.js';
import type { LatencySample } from '../store/index.js';
import type { ClusterStore } from '../store/store.js';
import type { ObservabilityStore } from '../store/observability.js';

export const DEFAULT_LATENCY_INTERVAL_MS = 5_000;
/** Probing faster than this would be load, not measurement. */
export const LATENCY_INTERVAL_MIN_MS = 200;
export const LATENCY_PROBE_TIMEOUT_MS = 2_000;
/** Measurements kept per target; the median and max are over these. */
export const LATENCY_WINDOW = 10;
export const LATENCY_PEERS_PER_ROUND = 32;
export const LATENCY_PROBE_CONCURRENCY = 8;
/**
 * The peer list is read again only when the cluster's event log moved (a join, a leave, a
 * failure…) or after this long: every container listing every container each round would be
 * N² record reads per interval.
 */
export const PEER_LIST_MAX_AGE_MS = 60_000;
/** A report outlives this many rounds (at least LATENCY_REPORT_TTL_MIN_MS), then expires. */
const LATENCY_REPORT_TTL_ROUNDS = 3;
const LATENCY_REPORT_TTL_MIN_MS = 15_000;

export const REDIS_TARGET = 'redis';
export const MANAGER_TARGET = 'manager';

class Window {
  private readonly rtts: number[] = [];
  last: number | null = null;
  error: string | null = null;
  measuredAtMs: number | null = null;

  ok(ms: number, at: number): void {
    this.rtts.push(ms);
    if (this.rtts.length > LATENCY_WINDOW) this.rtts.shift();
    this.last = ms;
    this.error = null;
    this.measuredAtMs = at;
  }

  failed(message: string, at: number): void {
    this.error = message;
    this.measuredAtMs = at;
  }

  sample(to: string): LatencySample {
    const sorted = [...this.rtts].sort((a, b) => a - b);
    const round = (ms: number | undefined): number | null => (ms === undefined ? null : Math.round(ms * 1_000) / 1_000);
    return {
      to,
      medianMs: round(sorted[Math.floor((sorted.length - 1) / 2)]),
      lastMs: round(this.last ?? undefined),
      maxMs: round(sorted[sorted.length - 1]),
      samples: sorted.length,
      error: this.error,
      measuredAtMs: this.measuredAtMs,
    };
  }
}

export interface LatencyProbeOptions {
  selfId: string;
  store: Pick<ClusterStore, 'ping' | 'listContainers' | 'lastEventId'> & Pick<ObservabilityStore, 'putLatency'>;
  managerUrl: string;
  intervalMs: number;
  log: Logger;
  timeoutMs?: number;
  /**
   * TLS on: peers are pinged over https with this client (the cluster CA, this container's own
   * certificate; read on each round, since it is replaced at renewal).
   */
  dispatcher?: () => Dispatcher | undefined;
}

function baseUrl(host: string, port: number, scheme: 'http' | 'https'): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function timedGet(url: string, timeoutMs: number, dispatcher: Dispatcher | undefined): Promise<number> {
  const started = performance.now();
  const res = await request(url, { ...(dispatcher === undefined ? {} : { dispatcher }), signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  await res.body.dump();
  if (res.statusCode >= 500) throw new Error(`answered ${res.statusCode}`);
  return performance.now() - started;
}

export class LatencyProbe {
  private readonly windows = new Map<string, Window>();
  private task: PeriodicTask | null = null;
  private peerOffset = 0;
  private peerList: { peers: ContainerRecord[]; eventId: string | null; atMs: number } | null = null;
  private readonly timeoutMs: number;

  constructor(private readonly o: LatencyProbeOptions) {
    this.timeoutMs = o.timeoutMs ?? Math.min(LATENCY_PROBE_TIMEOUT_MS, o.intervalMs);
  }

  start(): void {
    this.task ??= new PeriodicTask('latency probe', this.o.intervalMs, () => this.round(), this.o.log).start();
  }

  async stop(): Promise<void> {
    await this.task?.stop();
    this.task = null;
  }

  /** One round: measure, then report. Public for tests. */
  async round(): Promise<void> {
    const peers = await this.activePeers();
    const dispatcher = this.o.dispatcher?.();
    const scheme = this.o.dispatcher === undefined ? 'http' : 'https';
    const probes: [string, () => Promise<number>][] = [
      [REDIS_TARGET, () => this.timedPing()],
      [MANAGER_TARGET, () => timedGet(`${this.o.managerUrl.replace(/\/+$/, '')}${PATHS.health}`, this.timeoutMs, dispatcher)],
      ...this.peersThisRound(peers ?? []).map((c): [string, () => Promise<number>] => [c.id, () => timedGet(`${baseUrl(c.hostAddress, c.apiPort, scheme)}/ping`, this.timeoutMs, dispatcher)]),
    ];
    await mapLimit(probes, LATENCY_PROBE_CONCURRENCY, async ([to, probe]) => {
      const w = this.window(to);
      try {
        const ms = await probe();
        w.ok(ms, Date.now());
      } catch (err) {
        w.failed((err as Error).message || String(err), Date.now());
      }
    });
    // Forget peers that left (when the list could be read at all).
    if (peers !== undefined) {
      const live = new Set([REDIS_TARGET, MANAGER_TARGET, ...peers.map((c) => c.id)]);
      for (const to of this.windows.keys()) if (!live.has(to)) this.windows.delete(to);
    }
    const entries = [...this.windows].map(([to, w]) => w.sample(to));
    const ttlMs = Math.max(LATENCY_REPORT_TTL_MIN_MS, LATENCY_REPORT_TTL_ROUNDS * this.o.intervalMs);
    await this.o.store.putLatency({ from: this.o.selfId, reportedAtMs: Date.now(), entries }, ttlMs);
  }

  /** Active peers, from the cached list while the event log has not moved; undefined when unreadable. */
  private async activePeers(): Promise<ContainerRecord[] | undefined> {
    try {
      const eventId = await this.o.store.lastEventId();
      const cached = this.peerList;
      if (cached !== null && cached.eventId === eventId && Date.now() - cached.atMs < PEER_LIST_MAX_AGE_MS) return cached.peers;
      const peers = (await this.o.store.listContainers()).filter((c) => c.id !== this.o.selfId && c.state === 'active');
      this.peerList = { peers, eventId, atMs: Date.now() };
      return peers;
    } catch {
      return undefined;
    }
  }

  private async timedPing(): Promise<number> {
    const started = performance.now();
    await this.o.store.ping();
    return performance.now() - started;
  }

  /** At most LATENCY_PEERS_PER_ROUND peers, taking turns across rounds in a big cluster. */
  private peersThisRound(peers: ContainerRecord[]): ContainerRecord[] {
    if (peers.length <= LATENCY_PEERS_PER_ROUND) return peers;
    const sorted = [...peers].sort((a, b) => (a.id < b.id ? -1 : 1));
    const start = this.peerOffset % sorted.length;
    this.peerOffset = start + LATENCY_PEERS_PER_ROUND;
    return [...sorted, ...sorted].slice(start, start + LATENCY_PEERS_PER_ROUND);
  }

  private window(to: string): Window {
    let w = this.windows.get(to);
    if (w === undefined) {
      w = new Window();
      this.windows.set(to, w);
    }
    return w;
  }
}
