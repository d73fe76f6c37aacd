/**
 * Prometheus metrics (prom-client) for both roles. Each manager and each container owns its own
 * `Registry`, never prom-client's global one, so several can live in one process (`flotilla dev`,
 * tests). Names follow the Prometheus conventions: a `flotilla_` prefix, `_total` on counters,
 * base units (`_seconds`). Labels are bounded sets only (states, outcomes, agent types): never an
 * agent or message id. Gauges that describe the cluster are read when scraped, from the manager's
 * cached view, so a scrape costs what a `/status` call costs.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from '../common/logger.js';
import { CONTAINER_STATES } from '../protocol/container.js';
import { AGENT_STATES } from '../store/messaging.js';
import type { ClusterView } from '../manager/cluster-view.js';
import type { Access } from '../manager/access.js';

/** Where both roles serve the metrics. */
export const METRICS_PATH = '/metrics';
/** How long a scrape waits for the store's ping before reporting it down. */
export const STORE_PING_TIMEOUT_MS = 1_000;
/** Gauges collected within this window of a ping share its result (one ping per scrape). */
const PING_REUSE_MS = 100;
/** How stale the container list may be for a scrape (the status page's bound). */
export const METRICS_VIEW_MAX_AGE_MS = 5_000;
/** Handling-time buckets (seconds): from a 1 ms echo to a 60 s LLM call. */
export const HANDLING_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Anything that can be scraped: a registry's text and its content type. */
export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

abstract class ProcessMetrics implements MetricsSource {
  readonly registry = new Registry();

  constructor() {
    // Process and Node.js metrics under their usual names (process_*, nodejs_*).
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface ManagerMetricsOptions {
  view: ClusterView;
  /** The store's round trip in milliseconds (`store.ping`). */
  ping: () => Promise<number>;
  isLeader: () => boolean;
  log?: Logger;
}

export class ManagerMetrics extends ProcessMetrics {
  private readonly failovers: Counter;

  constructor(o: ManagerMetricsOptions) {
    super();
    const registers = [this.registry];
    const warn = (what: string, err: unknown): void => o.log?.warn({ err: (err as Error).message }, `metrics: could not read ${what}`);
    new Gauge({
      name: 'flotilla_containers',
      help: 'Registered containers by state (the manager cached view, at most 5 s old).',
      labelNames: ['state'],
      registers,
      async collect() {
        this.reset();
        try {
          const containers = await o.view.containers(METRICS_VIEW_MAX_AGE_MS);
          for (const s of CONTAINER_STATES) this.set({ state: s }, containers.filter((c) => c.state === s).length);
        } catch (err) {
          warn('the containers', err);
        }
      },
    });
    new Gauge({
      name: 'flotilla_agents',
      help: 'Deployed agents by state (the manager cached view, at most 5 s old).',
      labelNames: ['state'],
      registers,
      async collect() {
        this.reset();
        try {
          const { byState } = await o.view.agentCounts();
          for (const s of AGENT_STATES) this.set({ state: s }, byState.get(s) ?? 0);
        } catch (err) {
          warn('the agents', err);
        }
      },
    });
    this.failovers = new Counter({
      name: 'flotilla_failovers_total',
      help: 'Agents moved off a dead, missing or restarted container by this manager while leader.',
      registers,
    });
    new Gauge({
      name: 'flotilla_leader',
      help: '1 while this manager is the leader, else 0.',
      registers,
      collect() {
        this.set(o.isLeader() ? 1 : 0);
      },
    });
    // One ping per scrape, shared by the two gauges below (prom-client collects them concurrently).
    let pinging: { at: number; rtt: Promise<number | null> } | null = null;
    const pingOnce = (): Promise<number | null> => {
      const now = performance.now();
      if (pinging === null || now - pinging.at > PING_REUSE_MS) {
        const rtt = Promise.race([
          o.ping(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${STORE_PING_TIMEOUT_MS} ms`)), STORE_PING_TIMEOUT_MS).unref()),
        ]).catch((err: unknown) => {
          warn('the store round trip', err);
          return null;
        });
        pinging = { at: now, rtt };
      }
      return pinging.rtt;
    };
    new Gauge({
      name: 'flotilla_store_up',
      help: '1 when the store answered a ping during this scrape, else 0.',
      registers,
      async collect() {
        this.set((await pingOnce()) === null ? 0 : 1);
      },
    });
    new Gauge({
      name: 'flotilla_store_rtt_seconds',
      help: 'Round trip of one store ping, measured during this scrape (absent when the store did not answer).',
      registers,
      async collect() {
        this.reset();
        const ms = await pingOnce();
        if (ms !== null) this.set(ms / 1_000);
      },
    });
  }

  /** An agent was failed over (moved off a dead, missing or restarted owner). */
  failedOver(count = 1): void {
    this.failovers.inc(count);
  }
}

export interface ContainerMetricsOptions {
  /** Agents hosted now. */
  hostedAgents: () => number;
  /** Lease renewals and misses since the process started (over every registration). */
  lease: () => { renewals: number; misses: number };
}

export type TurnOutcome = 'ok' | 'failed';

export class ContainerMetrics extends ProcessMetrics {
  private readonly handled: Counter<'agent_type' | 'outcome'>;
  private readonly handling: Histogram<'agent_type'>;
  private readonly sentTotal: Counter<'kind'>;
  private readonly waiting: Histogram<'agent_type'>;

  constructor(o: ContainerMetricsOptions) {
    super();
    const registers = [this.registry];
    this.handled = new Counter({
      name: 'flotilla_messages_handled_total',
      help: 'Messages whose turn committed on this container, by agent type and outcome (ok: the handler returned; failed: it threw or the request had expired).',
      labelNames: ['agent_type', 'outcome'],
      registers,
    });
    this.handling = new Histogram({
      name: 'flotilla_message_handling_seconds',
      help: 'Time from the start of a turn to its commit, by agent type.',
      labelNames: ['agent_type'],
      buckets: HANDLING_BUCKETS,
      registers,
    });
    this.waiting = new Histogram({
      name: 'flotilla_message_wait_seconds',
      help: 'Time a message spent in its mailbox, from its acceptance to the start of its turn, by agent type (queueing behind earlier messages, or an owner that was down).',
      labelNames: ['agent_type'],
      buckets: HANDLING_BUCKETS,
      registers,
    });
    this.sentTotal = new Counter({
      name: 'flotilla_messages_sent_total',
      help: 'Messages that agents on this container put in other agents\' mailboxes (kind: request from send, topic from publish; one per subscriber).',
      labelNames: ['kind'],
      registers,
    });
    new Gauge({
      name: 'flotilla_hosted_agents',
      help: 'Agents hosted (fenced and active) on this container now.',
      registers,
      collect() {
        this.set(o.hostedAgents());
      },
    });
    new Counter({
      name: 'flotilla_lease_renewals_total',
      help: 'Lease renewals that succeeded.',
      registers,
      collect() {
        this.reset();
        this.inc(o.lease().renewals);
      },
    });
    new Counter({
      name: 'flotilla_lease_misses_total',
      help: 'Lease renewals that failed or timed out.',
      registers,
      collect() {
        this.reset();
        this.inc(o.lease().misses);
      },
    });
  }

  /** A turn committed: `agentId` is `type/name`; only the type becomes a label. */
  turned(agentId: string, ok: boolean, seconds: number, waitSeconds?: number): void {
    const slash = agentId.indexOf('/');
    const agentType = slash < 0 ? agentId : agentId.slice(0, slash);
    this.handled.inc({ agent_type: agentType, outcome: ok ? 'ok' : 'failed' });
    this.handling.observe({ agent_type: agentType }, seconds);
    // Acceptance times come from Redis's clock: a skewed host could see a negative wait.
    if (waitSeconds !== undefined) this.waiting.observe({ agent_type: agentType }, Math.max(0, waitSeconds));
  }

  sent(kind: 'request' | 'topic'): void {
    this.sentTotal.inc({ kind });
  }
}

/**
 * `GET /metrics` in the Prometheus text format. The manager declares it `read` (a scraper sends a
 * viewer token) unless FLOTILLA_METRICS_PUBLIC=true; the container's server has no authentication
 * yet and serves it `public` (see docs/security.md).
 */
export const metricsRoutes: FastifyPluginAsync<{ metrics: MetricsSource; access?: Access }> = async (app, { metrics, access = 'public' }) => {
  app.get(METRICS_PATH, { config: { access }, schema: { summary: 'Prometheus metrics (text format)', tags: ['health'] } }, async (_req, reply) => {
    const text = await metrics.render();
    return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(text);
  });
};
