/**
 * The manager's HTTP face: one Fastify instance, the error handlers, and the route plugins.
 * Authentication is one `onRequest` hook on the whole app (../auth/authenticator.ts): it reads
 * every route's `config.access`, so no route (API, /metrics, /docs, /dashboard/) escapes it;
 * `public` ones (/health, /ready, the API description, the public keys) pass without a token.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ManagerContext } from './context.js';
import { installErrorHandlers } from './errors.js';
import { healthRoutes } from './routes/health.js';
import { clusterRoutes } from './routes/cluster.js';
import { containerRoutes } from './routes/containers.js';
import { agentRoutes } from './routes/agents.js';
import { clusterActionRoutes } from './routes/cluster-actions.js';
import { messageRoutes } from './routes/messages.js';
import { topicRoutes } from './routes/topics.js';
import { communicationRoutes } from './routes/communication.js';
import { createMessagingContext, type MessagingSettings } from './messaging-context.js';
import type { Access } from './access.js';
import { auditHook, type ApiAuthenticator } from '../auth/index.js';
import { AUTH_PATHS } from '../protocol/paths.js';
import { quietRequests } from '../common/http-logging.js';
import { MAX_JSON_DEPTH, nestsDeeperThan, validatorCompiler } from './validation.js';
import { HttpError, toErrorBody } from './errors.js';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ClusterView } from './cluster-view.js';
import { metricsRoutes, type MetricsSource } from '../observability/index.js';
import { installOpenApi } from './openapi.js';
import { EventStreamHub, type EventStreamSettings } from './event-stream.js';
import { eventStreamRoutes } from './routes/event-stream.js';
import { observabilityRoutes } from './routes/observability.js';
import { LogFollowers } from './log-follow.js';
import { NO_TRACING, type Tracing } from '../observability/tracing.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { certificateRoutes } from './routes/certificates.js';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { CertificateIssuer, ManagerTls } from '../tls/index.js';

export class MissingAccessError extends Error {
  override readonly name = 'MissingAccessError';
  constructor(route: string) {
    super(`route ${route} does not declare config.access`);
  }
}

export interface ManagerAppOptions extends Omit<ManagerContext, 'view' | 'auth' | 'tracing' | 'certificates' | 'tls'> {
  /** Signs containers' CSRs (the key directory's cluster CA); absent: a CSR gets 409. */
  certificates?: CertificateIssuer;
  /** FLOTILLA_TLS=on: serve HTTPS with these options (../tls/manager-tls.ts). */
  tls?: ManagerTls;
  /** Spans for API messages; none when not given. */
  tracing?: Tracing;
  /** The cache of cluster reads; a new one when not given. */
  view?: ClusterView;
  /** Authentication and the audit trail; absent: every route is open (FLOTILLA_AUTH=off, in-process tests). */
  auth?: ApiAuthenticator;
  /** Who may read /metrics when authentication is on: `read` unless FLOTILLA_METRICS_PUBLIC. */
  metricsAccess?: Access;
  /** Reply retention and the reply reader's timings; defaults in messaging-context.ts. */
  messaging?: Partial<MessagingSettings>;
  /** Served at GET /metrics (access `metricsAccess`); absent: no /metrics. */
  metrics?: MetricsSource;
  /** The event stream's poll, heartbeat and buffer bounds (tests shorten them); defaults in event-stream.ts. */
  eventStream?: Partial<EventStreamSettings>;
}

export interface RouteEntry {
  method: string;
  url: string;
  access: Access;
}

const ROUTE_TABLES = new WeakMap<object, RouteEntry[]>();

/** Every route the app registered, with its access (HEAD included): the role matrix and the fuzz test walk it. */
export function routesOf(app: FastifyInstance): readonly RouteEntry[] {
  return ROUTE_TABLES.get(app) ?? [];
}

function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const message = status === 431 ? 'request headers are too large (at most 16 KiB)' : status === 408 ? 'request timed out' : 'malformed HTTP request';
  const body = JSON.stringify(toErrorBody(status, status === 431 ? 'headers_too_large' : status === 408 ? 'request_timeout' : 'bad_request', message));
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Longest path parameter: an id is at most 128 characters; longer ones are a 404 at routing. */
export const MAX_PARAM_LENGTH = 256;

export async function buildManagerApp(opts: ManagerAppOptions): Promise<FastifyInstance> {
  const https: HttpsOptions | undefined = opts.tls?.httpsOptions();
  const app = Fastify({
    // Typed as the plain HTTP instance (spread as `object`): the routes do not care which; the TLS checks read the socket.
    ...((https === undefined ? {} : { https }) as object),
    loggerInstance: opts.log as FastifyBaseLogger,
    bodyLimit: opts.config.maxBodyBytes,
    // Headers are bounded by node's http parser (16 KiB); ids are bounded by the schemas.
    logController: quietRequests(),
    // A longer path segment cannot be an id: 404 at routing, before any work.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // What node's HTTP parser refuses (headers over 16 KiB, malformed requests) is answered
    // in our JSON error form too, instead of Fastify's own.
    clientErrorHandler: answerClientError,
    // A path with broken percent-encoding (`/containers/%ff`) is refused by the router itself:
    // in our error form too (the fuzz test found Fastify's own here).
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply).code(400).send(toErrorBody(400, 'bad_url', `the path is not valid percent-encoded UTF-8 (${err.code})`));
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler());
  // JSON only: a text/plain body gets 415 rather than a confusing schema error.
  app.removeContentTypeParser('text/plain');
  installErrorHandlers(app);
  app.addHook('preValidation', async (req) => {
    if (nestsDeeperThan(req.body, MAX_JSON_DEPTH)) throw new HttpError(400, 'validation_failed', `body: nested deeper than ${MAX_JSON_DEPTH} levels`);
  });
  // A route that does not say who may call it would escape authentication: refuse to build.
  const table: RouteEntry[] = [];
  ROUTE_TABLES.set(app, table);
  app.addHook('onRoute', (route) => {
    if (route.config?.access === undefined) throw new MissingAccessError(`${String(route.method)} ${route.url}`);
    for (const method of [route.method].flat()) table.push({ method: String(method), url: route.url, access: route.config.access });
  });
  const auth = opts.auth ?? null;
  const ctx: ManagerContext = {
    store: opts.store,
    config: opts.config,
    log: opts.log,
    view: opts.view ?? new ClusterView(opts.store),
    auth,
    tracing: opts.tracing ?? NO_TRACING,
    certificates: opts.certificates ?? null,
    tls: opts.tls ?? null,
  };
  if (auth !== null) {
    app.decorateRequest('caller', null);
    app.addHook('onRequest', auth.hook);
    app.addHook('onSend', auditHook(opts.store, opts.log));
  }

  // Before every route: the OpenAPI generator collects them as they are added (/openapi.json, /docs).
  await installOpenApi(app);
  if (auth !== null) {
    app.get(
      AUTH_PATHS.jwks,
      { config: { access: 'public' }, schema: { summary: "The manager's public token-verification keys (JWKS)", tags: ['auth'] } },
      async (_req, reply) => reply.header('cache-control', 'max-age=60').send(auth.jwks()),
    );
  }
  await app.register(healthRoutes, ctx);
  if (opts.metrics !== undefined) await app.register(metricsRoutes, { metrics: opts.metrics, access: opts.metricsAccess ?? 'read' });
  // The page's files only (public); its data comes from the API below, with the browser's token.
  await app.register(dashboardRoutes);
  await app.register(async (api) => {
    await api.register(clusterRoutes, ctx);
    // One poller for every stream client; ended first on close, so open streams do not hold it up.
    const hub = new EventStreamHub(ctx.store, ctx.log, opts.eventStream);
    app.addHook('preClose', () => hub.close());
    await api.register(eventStreamRoutes, { hub });
    await api.register(containerRoutes, ctx);
    await api.register(certificateRoutes, ctx);
    await api.register(agentRoutes, ctx);
    await api.register(clusterActionRoutes, ctx);
    const messaging = createMessagingContext(ctx, opts.messaging);
    // Before the server waits for requests in flight: waiting sends end now (503, pollable).
    app.addHook('preClose', () => messaging.replies.stop());
    await api.register(messageRoutes, messaging);
    await api.register(topicRoutes, ctx);
    await api.register(communicationRoutes, ctx);
    const followers = new LogFollowers(ctx.store, ctx.log);
    app.addHook('preClose', () => followers.close());
    await api.register(observabilityRoutes, { ctx, followers });
  });
  return app;
}
