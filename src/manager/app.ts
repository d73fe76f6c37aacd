/**
 * The manager's HTTP face: one Fastify instance, the error handlers, and the route plugins.
 * Routes are registered inside one scope (`api`) whose `onRequest` hook is where authentication
 * attaches; `/health`, `/ready`, `/metrics` and the dashboard's files live outside it.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type onRequestHookHandler } from 'fastify';
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
import './access.js';
import { quietRequests } from '../common/http-logging.js';
import { validatorCompiler } from './validation.js';
import { ClusterView } from './cluster-view.js';
import { metricsRoutes, type MetricsSource } from '../observability/index.js';
import { installOpenApi } from './openapi.js';
import { EventStreamHub, type EventStreamSettings } from './event-stream.js';
import { eventStreamRoutes } from './routes/event-stream.js';
import { observabilityRoutes } from './routes/observability.js';
import { LogFollowers } from './log-follow.js';
import { NO_TRACING, type Tracing } from '../observability/tracing.js';
import { dashboardRoutes } from './routes/dashboard.js';

export class MissingAccessError extends Error {
  override readonly name = 'MissingAccessError';
  constructor(route: string) {
    super(`route ${route} does not declare config.access`);
  }
}

export interface ManagerAppOptions extends Omit<ManagerContext, 'view' | 'tracing'> {
  /** Spans for API messages; none when not given. */
  tracing?: Tracing;
  /** The cache of cluster reads; a new one when not given. */
  view?: ClusterView;
  /** Runs before every API route (not /health, /ready); authentication plugs in here. */
  authenticate?: onRequestHookHandler;
  /** Reply retention and the reply reader's timings; defaults in messaging-context.ts. */
  messaging?: Partial<MessagingSettings>;
  /** Served at GET /metrics, outside the API scope (access 'public'); absent: no /metrics. */
  metrics?: MetricsSource;
  /** The event stream's poll, heartbeat and buffer bounds (tests shorten them); defaults in event-stream.ts. */
  eventStream?: Partial<EventStreamSettings>;
}

export async function buildManagerApp(opts: ManagerAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    bodyLimit: opts.config.maxBodyBytes,
    // Headers are bounded by node's http parser (16 KiB); ids are bounded by the schemas.
    logController: quietRequests(),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler());
  // JSON only: a text/plain body gets 415 rather than a confusing schema error.
  app.removeContentTypeParser('text/plain');
  installErrorHandlers(app);
  // A route that does not say who may call it would escape authentication: refuse to build.
  app.addHook('onRoute', (route) => {
    if (route.config?.access === undefined) throw new MissingAccessError(`${String(route.method)} ${route.url}`);
  });
  const ctx: ManagerContext = { store: opts.store, config: opts.config, log: opts.log, view: opts.view ?? new ClusterView(opts.store), tracing: opts.tracing ?? NO_TRACING };

  // Before every route: the OpenAPI generator collects them as they are added (/openapi.json, /docs).
  await installOpenApi(app);
  await app.register(healthRoutes, ctx);
  if (opts.metrics !== undefined) await app.register(metricsRoutes, { metrics: opts.metrics });
  // The page's files only (public); its data comes from the API below, with the browser's token.
  await app.register(dashboardRoutes);
  await app.register(async (api) => {
    if (opts.authenticate !== undefined) api.addHook('onRequest', opts.authenticate);
    await api.register(clusterRoutes, ctx);
    // One poller for every stream client; ended first on close, so open streams do not hold it up.
    const hub = new EventStreamHub(ctx.store, ctx.log, opts.eventStream);
    app.addHook('preClose', () => hub.close());
    await api.register(eventStreamRoutes, { hub });
    await api.register(containerRoutes, ctx);
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
