/**
 * A running manager: the HTTP API, presence and leader election, and (while leader) the control
 * loops. Stateless apart from caches: kill it at any moment and another manager carries on.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiAuthenticator } from '../auth/index.js';
import type { Access } from './access.js';
import type { Logger } from '../common/logger.js';
import type { PeriodicTask } from '../common/loop.js';
import { VERSION } from '../common/version.js';
import type { MessageStore } from '../store/messaging.js';
import type { ClusterStore } from '../store/store.js';
import type { ObservabilityStore } from '../store/observability.js';
import { buildManagerApp } from './app.js';
import type { MessagingSettings } from './messaging-context.js';
import type { ManagerConfig } from './config.js';
import type { EventStreamSettings } from './event-stream.js';
import { SESSION_TRUST_AFTER_INTERVALS, startFailureDetector } from './control/failure-detector.js';
import { LeaderElector } from './control/leader.js';
import { startReconciler } from './control/reconciler.js';
import { eventTypeOf } from './agents/moves.js';
import { ClusterView } from './cluster-view.js';
import { ManagerMetrics } from '../observability/index.js';
import type { Tracing } from '../observability/tracing.js';
import type { Server as HttpsServer } from 'node:https';
import type { CertificateIssuer, ManagerTls } from '../tls/index.js';

export type ManagerLifecycle = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

export interface ManagerOptions {
  store: ClusterStore & MessageStore & ObservabilityStore;
  config: ManagerConfig;
  log: Logger;
  /** Authentication and the audit trail; absent: every route is open (FLOTILLA_AUTH=off, in-process tests). */
  auth?: ApiAuthenticator;
  /** Who may read /metrics when `auth` is given (default `read`). */
  metricsAccess?: Access;
  /** Reply retention and reader timings (tests shorten them); defaults in messaging-context.ts. */
  messaging?: Partial<MessagingSettings>;
  /** The event stream's poll, heartbeat and buffer bounds (tests shorten them); defaults in event-stream.ts. */
  eventStream?: Partial<EventStreamSettings>;
  /** Spans for messages accepted through the API (none when not given). */
  tracing?: Tracing;
  /** Signs containers' CSRs with the key directory's cluster CA. */
  certificates?: CertificateIssuer;
  /** FLOTILLA_TLS=on: HTTPS with client certificates (the manager renews its own certificate). */
  tls?: ManagerTls;
}

export class Manager {
  private app: FastifyInstance | null = null;
  private elector: LeaderElector | null = null;
  private leaderTasks: PeriodicTask[] = [];
  private lifecycle: ManagerLifecycle = 'created';
  private boundPort = 0;
  private metrics: ManagerMetrics | null = null;

  constructor(private readonly opts: ManagerOptions) {}

  get state(): ManagerLifecycle {
    return this.lifecycle;
  }

  get isLeader(): boolean {
    return this.elector?.isLeader ?? false;
  }

  /** The port actually bound (differs from the configured one when that was 0). */
  get port(): number {
    return this.boundPort;
  }

  get id(): string {
    return this.opts.config.managerId;
  }

  async start(): Promise<void> {
    const { config, store, log } = this.opts;
    this.lifecycle = 'starting';
    const view = new ClusterView(store);
    this.metrics = config.metrics ? new ManagerMetrics({ view, ping: () => store.ping(), isLeader: () => this.isLeader, log }) : null;
    this.app = await buildManagerApp({
      ...(this.opts.tracing === undefined ? {} : { tracing: this.opts.tracing }),
      store,
      config,
      log,
      view,
      ...(this.metrics === null ? {} : { metrics: this.metrics }),
      ...(this.opts.auth ? { auth: this.opts.auth } : {}),
      ...(this.opts.metricsAccess ? { metricsAccess: this.opts.metricsAccess } : {}),
      ...(this.opts.messaging ? { messaging: this.opts.messaging } : {}),
      ...(this.opts.eventStream ? { eventStream: this.opts.eventStream } : {}),
      ...(this.opts.certificates ? { certificates: this.opts.certificates } : {}),
      ...(this.opts.tls ? { tls: this.opts.tls } : {}),
    });
    await this.app.listen({ port: config.port, host: config.bindAddress });
    this.opts.tls?.attach(this.app.server as unknown as HttpsServer);
    const tls = this.opts.tls;
    const address = this.app.server.address();
    this.boundPort = typeof address === 'object' && address !== null ? address.port : config.port;

    this.elector = new LeaderElector(
      store,
      { id: config.managerId, address: `${config.externalIp ?? config.bindAddress}:${this.boundPort}`, version: VERSION, startedAtMs: Date.now() },
      config.leaderLeaseMs,
      {
        onElected: () => {
          // A new term without a step-down in between: the loops already run; keep one set.
          if (this.leaderTasks.length > 0) return;
          const reconciler = startReconciler(store, config.reconcileIntervalMs, log, () => this.isLeader, (move) => {
            if (eventTypeOf(move.cause) === 'agent_failed_over') this.metrics?.failedOver();
          });
          // A container found dead: fail its agents over now, not at the next tick.
          const detector = startFailureDetector(
            store,
            {
              intervalMs: config.detectorIntervalMs,
              leaseTimeoutMs: config.leaseTimeoutMs,
              leaseIntervalMs: config.leaseIntervalMs,
              trustAfterMs: SESSION_TRUST_AFTER_INTERVALS * config.leaseIntervalMs,
              probe: {
                enabled: config.livenessProbe,
                timeoutMs: config.livenessProbeTimeoutMs,
                ...(tls === undefined ? {} : { scheme: 'https' as const, dispatcher: () => tls.probeDispatcher() }),
              },
            },
            log,
            () => this.isLeader,
            () => reconciler.wake(),
          );
          this.leaderTasks.push(detector, reconciler);
        },
        onDeposed: async () => {
          const tasks = this.leaderTasks;
          this.leaderTasks = [];
          await Promise.all(tasks.map((t) => t.stop()));
        },
      },
      log,
    );
    this.elector.start();
    this.lifecycle = 'running';
    log.info({ port: this.boundPort, managerId: config.managerId, store: store.kind, tls: this.opts.tls !== undefined }, `manager listening on ${this.opts.tls ? 'https' : 'http'}://${config.bindAddress}:${this.boundPort}`);
  }

  /** Stops the loops, gives up leadership, closes the API. Does not close the store (the caller owns it). */
  async stop(): Promise<void> {
    if (this.lifecycle === 'stopped' || this.lifecycle === 'stopping') return;
    this.lifecycle = 'stopping';
    await this.elector?.stop();
    await this.app?.close();
    await this.opts.tls?.stop();
    this.lifecycle = 'stopped';
  }
}
