/** The container's own HTTP API: health and readiness probes, status, and /ping for latency. */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../common/logger.js';
import { quietRequests } from '../common/http-logging.js';
import { VERSION } from '../common/version.js';
import { metricsRoutes, type MetricsSource } from '../observability/index.js';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { PortGuard } from './port-guard.js';

export interface ContainerStatusView {
  container_id: string;
  container_name: string;
  state: string;
  epoch: number | null;
  host_address: string;
  api_port: number;
  manager_url: string;
  lease: { via: string; interval_ms: number; timeout_ms: number; renewals: number; misses: number; last_renewal: string | null };
  labels: Record<string, string>;
  capabilities: string[];
  uptime_s: number;
  agents: unknown[];
}

export interface ContainerStatusSource {
  readonly id: string;
  readonly ready: boolean;
  status(): ContainerStatusView;
}

/**
 * Open to any client: liveness and readiness probes (load balancers, the kubelet, Docker's
 * HEALTHCHECK) have no credentials. As on the manager, these two and what the guard adds.
 */
const OPEN_PATHS: readonly string[] = ['/health', '/ready'];

export interface ContainerServerOptions {
  /** Served at GET /metrics; absent (FLOTILLA_METRICS=off): no such route. */
  metrics?: MetricsSource;
  /** Serve HTTPS with these options (TLS on). */
  https?: HttpsOptions;
  /** Who may call the paths that are not open (./port-guard.ts); absent: everyone (authentication off). */
  guard?: PortGuard;
  /** Open besides /health and /ready when there is a guard (e.g. /metrics with FLOTILLA_METRICS_PUBLIC). */
  alsoOpen?: readonly string[];
}

export function buildContainerServer(view: ContainerStatusSource, log: Logger, options: ContainerServerOptions = {}): FastifyInstance {
  const { metrics, https, guard } = options;
  const app = Fastify({
    // Typed as the plain HTTP instance (spread as `object`); the guard reads the TLS socket.
    ...((https === undefined ? {} : { https }) as object),
    loggerInstance: log as FastifyBaseLogger,
    logController: quietRequests(),
    bodyLimit: 1_048_576,
  });
  if (guard !== undefined) {
    const open = new Set([...OPEN_PATHS, ...(options.alsoOpen ?? [])]);
    app.addHook('onRequest', async (req, reply) => {
      if (open.has(req.url.split('?')[0] ?? '')) return;
      const refusal = await guard({ headers: req.headers, socket: req.raw.socket, ip: req.ip });
      if (refusal === null) return;
      if (refusal.retryAfterS !== undefined) void reply.header('retry-after', String(refusal.retryAfterS));
      if (refusal.statusCode === 401) void reply.header('www-authenticate', 'Bearer realm="flotilla"');
      return reply.code(refusal.statusCode).send({ error: refusal.error, message: refusal.message, status_code: refusal.statusCode });
    });
  }
  app.get('/health', async () => ({ status: 'healthy', timestamp: new Date().toISOString(), version: VERSION, container_id: view.id }));
  app.get('/ready', async (_req, reply) => {
    const s = view.status();
    return reply.code(view.ready ? 200 : 503).send({ status: view.ready ? 'ready' : 'not_ready', state: s.state, epoch: s.epoch, timestamp: new Date().toISOString() });
  });
  app.get('/status', async () => view.status());
  app.get('/ping', async () => ({ pong: true, container_id: view.id, timestamp: new Date().toISOString() }));
  if (metrics !== undefined) void app.register(metricsRoutes, { metrics });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: 'not_found', message: `no route for ${req.method} ${req.url.split('?')[0]}`, status_code: 404 });
  });
  app.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'request failed');
    void reply.code(status).send({ error: status === 500 ? 'internal_error' : 'bad_request', message: status === 500 ? 'internal error' : err.message, status_code: status });
  });
  return app;
}
