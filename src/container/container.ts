/**
 * A running agent container: serves its HTTP API, joins the cluster, keeps its lease, rejoins
 * with a new epoch when its registration is over, and leaves cleanly on stop.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../common/logger.js';
import { ApiClient } from '../client/api-client.js';
import type { RegisterBody } from '../protocol/api.js';
import type { Store } from '../store/index.js';
import { AgentRuntime, AgentTypeRegistry } from '../runtime/index.js';
import type { AnyAgentDefinition } from '../sdk/types.js';
import type { ContainerConfig } from './config.js';
import { joinCluster } from './join.js';
import { ContainerCredentials } from './credentials.js';
import { LeaseKeeper, httpRenewer, storeRenewer, type LeaseRenewer } from './lease.js';
import { buildContainerServer, type ContainerServerOptions, type ContainerStatusView } from './server.js';
import { certificateGuard, tokenGuard } from './port-guard.js';
import { PublishedKeys } from '../auth/index.js';
import { ContainerMetrics, LatencyProbe, METRICS_PATH } from '../observability/index.js';
import type { Tracing } from '../observability/tracing.js';
import type { Server as HttpsServer } from 'node:https';
import { ContainerTls, ContainerTlsError } from '../tls/container-tls.js';

/** Reading the manager's public keys must not hold a caller of our port long. */
const JWKS_FETCH_TIMEOUT_MS = 2_000;

export class DuplicateNameError extends Error {
  override readonly name = 'DuplicateNameError';
}

export type ContainerLifecycle = 'starting' | 'joining' | 'active' | 'suspended' | 'stopping' | 'stopped';

export interface AgentContainerOptions {
  config: ContainerConfig;
  log: Logger;
  /**
   * When given, the lease is renewed straight in the store and agents are hosted; otherwise the
   * lease goes over HTTP and this container hosts no agents (they need the store).
   */
  store?: Store;
  /** Agent types this container serves (built-ins plus FLOTILLA_AGENT_MODULES). */
  agentTypes?: readonly AnyAgentDefinition[];
  /** A span per agent turn, exported over OTLP (none when not given). */
  tracing?: Tracing;
}

export class AgentContainer {
  private readonly client: ApiClient;
  private readonly credentials: ContainerCredentials;
  /** Containers that renew their lease in Redis refresh their own token on this timer. */
  private refreshTimer: NodeJS.Timeout | null = null;
  private readonly renewer: LeaseRenewer;
  private readonly registry: AgentTypeRegistry;
  /** Hosts agents; null for an HTTP-only container. */
  readonly runtime: AgentRuntime | null;
  private readonly stopping = new AbortController();
  private server: FastifyInstance | null = null;
  private keeper: LeaseKeeper | null = null;
  private joining: Promise<void> | null = null;
  private lifecycle: ContainerLifecycle = 'starting';
  private epoch: number | null = null;
  private boundPort = 0;
  private readonly startedAt = Date.now();
  private leaseIntervalMs: number;
  private leaseTimeoutMs: number;
  /** Lease renewals and misses of the keepers already replaced (the metrics count them all). */
  private readonly retiredLease = { renewals: 0, misses: 0 };
  /** Null when FLOTILLA_METRICS=off. */
  readonly metrics: ContainerMetrics | null;
  /** Times round trips to Redis, the manager and peers; null without a store or when turned off. */
  private readonly latency: LatencyProbe | null;
  /** Mutual TLS (an https manager URL): made in start(), since making a key pair is asynchronous. */
  private tlsState: ContainerTls | null = null;
  /** Set when joining failed for good (e.g. the manager refused the registration). */
  fatal: Error | null = null;
  onFatal: ((err: Error) => void) | null = null;

  constructor(private readonly o: AgentContainerOptions) {
    this.credentials = new ContainerCredentials(o.config.joinToken, o.config.token);
    // Read on every call: the pool changes when the CA is checked and at each certificate renewal.
    const dispatcher = () => this.tlsState?.dispatcher();
    this.client = new ApiClient({ baseUrl: o.config.managerUrl, token: this.credentials.current, dispatcher });
    // Heartbeats time out within one interval, so a slow manager cannot pile them up.
    const heartbeatClient = new ApiClient({ baseUrl: o.config.managerUrl, timeoutMs: o.config.leaseIntervalMs, token: this.credentials.current, dispatcher });
    this.renewer = o.store !== undefined ? storeRenewer(o.store) : httpRenewer(heartbeatClient, {
            onToken: (token, expiresAt) => this.credentials.accept(token, expiresAt),
            onUnauthorized: () => this.credentials.forget(),
          });
    this.registry = new AgentTypeRegistry(o.store === undefined ? [] : (o.agentTypes ?? []));
    const metrics = o.config.metrics
      ? new ContainerMetrics({ hostedAgents: () => this.runtime?.hostedCount ?? 0, lease: () => this.leaseTotals() })
      : null;
    this.metrics = metrics;
    this.runtime =
      o.store === undefined
        ? null
        : new AgentRuntime({
            store: o.store,
            containerId: o.config.name,
            registry: this.registry,
            log: o.log,
            ...(o.tracing === undefined ? {} : { tracing: o.tracing }),
            ...(metrics === null ? {} : { onTurn: (agentId, entry, ok, seconds) => metrics.turned(agentId, ok, seconds, (Date.now() - seconds * 1_000 - entry.acceptedAtMs) / 1_000), onSent: (kind) => metrics.sent(kind) }),
          });
    this.leaseIntervalMs = o.config.leaseIntervalMs;
    this.leaseTimeoutMs = o.config.leaseTimeoutMs;
    this.latency =
      o.store === undefined || o.config.latencyIntervalMs === 0
        ? null
        : new LatencyProbe({
            selfId: o.config.name,
            store: o.store,
            managerUrl: o.config.managerUrl,
            intervalMs: o.config.latencyIntervalMs,
            log: o.log,
            ...(o.config.tls === null ? {} : { dispatcher }),
          });
  }

  get id(): string {
    return this.o.config.name;
  }
  get state(): ContainerLifecycle {
    return this.lifecycle;
  }
  get currentEpoch(): number | null {
    return this.epoch;
  }
  get port(): number {
    return this.boundPort;
  }
  get ready(): boolean {
    return this.lifecycle === 'active';
  }
  /** The TLS side (null over plain HTTP): its certificate history, for status and tests. */
  get tls(): ContainerTls | null {
    return this.tlsState;
  }

  /** Listens, then starts joining in the background; `joined()` resolves once registered. */
  async start(): Promise<void> {
    const { config, log } = this.o;
    if (config.tls !== null) {
      this.tlsState = await ContainerTls.create({
        managerUrl: config.managerUrl,
        containerId: config.name,
        hostAddress: config.externalIp,
        joinToken: config.joinToken,
        own: config.tls.own,
        pinnedCaPem: config.tls.pinnedCaPem,
        caCheckIntervalMs: config.tls.caCheckIntervalMs,
        log,
      });
    }
    this.server = buildContainerServer(this, log, {
      ...(this.metrics === null ? {} : { metrics: this.metrics }),
      ...(this.tlsState === null ? {} : { https: this.tlsState.httpsOptions() }),
      ...this.portAccess(),
    });
    await this.server.listen({ port: config.port, host: config.bindAddress });
    if (this.tlsState !== null) this.tlsState.attach(this.server.server as unknown as HttpsServer);
    const address = this.server.server.address();
    this.boundPort = typeof address === 'object' && address !== null ? address.port : config.port;
    log.info({ port: this.boundPort, externalIp: config.externalIp, lease: this.renewer.via, tls: this.tlsState !== null }, `container ${config.name} listening on ${this.tlsState === null ? 'http' : 'https'}://${config.bindAddress}:${this.boundPort}`);
    this.rejoin();
  }

  /**
   * Who may call this container's port beyond /health and /ready: with TLS, clients with a
   * certificate from the cluster CA; without TLS in a cluster that authenticates (we were given a
   * join token or a token), callers with a token of the cluster, checked against the keys the
   * manager publishes — /ping stays open for the manager's probes and the peers' pings, which
   * carry none. A cluster without authentication leaves the port open, as its API is.
   */
  private portAccess(): Pick<ContainerServerOptions, 'guard' | 'alsoOpen'> {
    const c = this.o.config;
    const metricsOpen = c.metricsPublic ? [METRICS_PATH] : [];
    if (this.tlsState !== null) return { guard: certificateGuard(), alsoOpen: metricsOpen };
    if (c.joinToken === undefined && c.token === undefined) return {};
    const keys = new PublishedKeys({
      fetchJwks: () => this.client.jwks(JWKS_FETCH_TIMEOUT_MS),
      refreshMs: c.jwksRefreshMs,
      onReadError: (err) => this.o.log.warn({ err: err.message }, 'could not read the manager\'s public keys (/.well-known/jwks.json); callers of this port are checked with the keys read last'),
    });
    return { guard: tokenGuard(keys), alsoOpen: ['/ping', ...metricsOpen] };
  }

  /** Resolves when the current join attempt has finished (joined, or stopped). */
  async joined(): Promise<void> {
    await this.joining;
  }

  status(): ContainerStatusView {
    const s = this.keeper?.stats;
    return {
      container_id: this.id,
      container_name: this.o.config.name,
      state: this.lifecycle,
      epoch: this.epoch,
      host_address: this.o.config.externalIp,
      api_port: this.boundPort,
      manager_url: this.o.config.managerUrl,
      lease: {
        via: this.renewer.via,
        interval_ms: this.leaseIntervalMs,
        timeout_ms: this.leaseTimeoutMs,
        renewals: s?.renewals ?? 0,
        misses: s?.misses ?? 0,
        last_renewal: s?.lastRenewalAt == null ? null : new Date(s.lastRenewalAt).toISOString(),
      },
      labels: this.o.config.labels,
      capabilities: this.o.config.capabilities,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1_000),
      agents: this.runtime?.agents() ?? [],
    };
  }

  /** Renewals and misses over every registration of this process (a new keeper starts from 0). */
  private leaseTotals(): { renewals: number; misses: number } {
    const s = this.keeper?.stats;
    return { renewals: this.retiredLease.renewals + (s?.renewals ?? 0), misses: this.retiredLease.misses + (s?.misses ?? 0) };
  }

  private retireKeeper(keeper: LeaseKeeper | null): void {
    if (keeper === null) return;
    this.retiredLease.renewals += keeper.stats.renewals;
    this.retiredLease.misses += keeper.stats.misses;
  }

  private registration(): RegisterBody {
    const c = this.o.config;
    return {
      container_name: c.name,
      host_address: c.externalIp,
      api_port: this.boundPort,
      capabilities: c.capabilities,
      labels: c.labels,
      resources: c.resources as Record<string, number>,
      metadata: { pid: process.pid, node_version: process.version, platform: process.platform },
      agent_types: this.registry.names(),
      lease_interval_ms: c.leaseIntervalMs,
      lease_timeout_ms: c.leaseTimeoutMs,
    };
  }

  private rejoin(): void {
    if (this.stopping.signal.aborted) return;
    this.lifecycle = 'joining';
    this.epoch = null;
    this.joining = (async () => {
      const tls = this.tlsState;
      // Over https: the cluster CA first, checked against the join token, before anything is sent.
      if (tls !== null && !(await tls.ensureCa(this.stopping.signal))) return;
      const csr = tls === null || tls.ownCertificates ? undefined : await tls.newCsr();
      const res = await joinCluster(this.client, { ...this.registration(), ...(csr === undefined ? {} : { csr }) }, this.o.log, this.stopping.signal);
      if (res === null || this.stopping.signal.aborted) return;
      if (tls !== null && csr !== undefined) {
        if (res.certificate === undefined || res.ca_certificate === undefined) throw new ContainerTlsError(`the manager at ${this.o.config.managerUrl} registered us but issued no certificate`);
        tls.accept({ certificate: res.certificate, ca_certificate: res.ca_certificate, ca_certificates: res.ca_certificates, certificate_chain: res.certificate_chain });
        tls.startRenewal(async (next) => this.client.renewCertificate(res.container_id, next));
        tls.startCaWatch(async () => this.client.clusterCa());
      }
      // Over https the CAs trusted were rooted in the join token's fingerprint: after a CA rotation
      // the manager's fingerprint is the new CA's, which the token (older) does not name.
      this.credentials.checkFingerprint(res.cluster_fingerprint, this.o.config.managerUrl, tls?.trustedFingerprints() ?? []);
      this.credentials.accept(res.token, res.token_expires_at);
      this.scheduleTokenRefresh(res.container_id);
      this.epoch = res.epoch;
      this.leaseIntervalMs = res.lease.interval_ms;
      this.leaseTimeoutMs = res.lease.timeout_ms;
      this.keeper = new LeaseKeeper({
        id: res.container_id,
        epoch: res.epoch,
        intervalMs: res.lease.interval_ms,
        timeoutMs: res.lease.timeout_ms,
        renewer: this.renewer,
        log: this.o.log.child({ epoch: res.epoch }),
        onSuspended: () => {
          this.lifecycle = 'suspended';
          this.runtime?.pause();
        },
        onResumed: () => {
          this.lifecycle = 'active';
          this.runtime?.resume();
        },
        onLost: (reason) => {
          if (reason === 'stale_epoch') {
            // A newer registration of this name exists while we are alive: either two containers
            // share CONTAINER_NAME, or we are a paused/partitioned old incarnation. Either way,
            // re-registering would steal the name back and the two would flap for ever.
            void this.giveUp(
              new DuplicateNameError(`another process registered as ${res.container_id} with a newer epoch than ${res.epoch}: CONTAINER_NAME must be unique; stopping this one`),
            );
            return;
          }
          void this.replaceKeeper();
        },
      });
      this.keeper.start();
      this.lifecycle = 'active';
      this.latency?.start();
      await this.runtime?.start(res.epoch);
    })().catch((err: unknown) => {
      // A refused registration cannot be fixed by retrying: stop, and let the runner exit.
      this.o.log.fatal({ err }, (err as Error).message);
      this.fatal = err as Error;
      this.onFatal?.(err as Error);
    });
  }

  /**
   * A container whose lease goes to Redis makes no HTTP calls after joining, so its own token
   * would expire unused and a later re-registration would need the join token, which may have
   * been rotated since. It asks for a fresh one with a heartbeat late in the token's life.
   */
  private scheduleTokenRefresh(containerId: string): void {
    if (this.o.store === undefined || this.stopping.signal.aborted) return;
    const delay = this.credentials.refreshInMs();
    if (delay === null) return;
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refreshToken(containerId), delay);
    this.refreshTimer.unref();
  }

  private async refreshToken(containerId: string): Promise<void> {
    this.refreshTimer = null;
    const epoch = this.epoch;
    if (this.stopping.signal.aborted || epoch === null) return;
    try {
      const res = await this.client.heartbeat(containerId, epoch);
      this.credentials.accept(res.token, res.token_expires_at);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not refresh the container token; trying again');
    }
    this.scheduleTokenRefresh(containerId);
  }

  private async giveUp(err: Error): Promise<void> {
    this.o.log.fatal({ err }, err.message);
    await this.runtime?.stop();
    await this.keeper?.stop();
    this.retireKeeper(this.keeper);
    this.keeper = null;
    this.lifecycle = 'suspended';
    this.fatal = err;
    this.onFatal?.(err);
  }

  private async replaceKeeper(): Promise<void> {
    const old = this.keeper;
    this.retireKeeper(old);
    this.keeper = null;
    await old?.stop();
    // Our fences are void: stop every agent before a new epoch can be handed their work.
    await this.runtime?.releaseAll('registration over');
    this.o.log.info('registration over: registering again for a new epoch');
    this.rejoin();
  }

  /** Stops renewing, deregisters (so the manager knows at once), and closes the HTTP API. */
  async stop(): Promise<void> {
    if (this.lifecycle === 'stopping' || this.lifecycle === 'stopped') return;
    const wasActive = this.lifecycle === 'active' || this.lifecycle === 'suspended';
    this.lifecycle = 'stopping';
    this.stopping.abort();
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    await this.joining;
    await this.latency?.stop();
    await this.runtime?.stop();
    await this.keeper?.stop();
    if (wasActive && this.epoch !== null) await this.deregister(this.epoch);
    await this.server?.close();
    await this.tlsState?.stop();
    this.lifecycle = 'stopped';
  }

  private async deregister(epoch: number): Promise<void> {
    try {
      const done = this.o.store !== undefined ? await this.o.store.deregisterContainer(this.id, epoch) : await this.client.deregister(this.id, epoch).then(() => true);
      this.o.log.info({ epoch, deregistered: done }, done ? 'deregistered from the cluster' : 'a newer registration exists; left it alone');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not deregister; the manager will see the lease lapse');
    }
  }
}
