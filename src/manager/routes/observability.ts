/**
 * The cluster's shipped logs (`GET /api/v1/logs`, paged or followed) and the latency matrix
 * (`GET /api/v1/cluster/latency`), both read from what containers wrote to the store.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { PATHS } from '../../protocol/paths.js';
import { LatencyMatrix, LogsPage, LogsQuery, ProbeBody, ProbeResult, type LatencyEntryView } from '../../protocol/observability-api.js';
import { ErrorBody } from '../../protocol/api.js';
import { probePing } from '../probe.js';
import type { LogQuery } from '../../store/index.js';
import { MANAGER_TARGET, REDIS_TARGET } from '../../observability/index.js';
import type { ManagerContext } from '../context.js';
import { STATUS_MAX_AGE_MS } from '../cluster-view.js';
import { toLogEntryView, type LogFollowers } from '../log-follow.js';

export interface ObservabilityRouteOptions {
  ctx: ManagerContext;
  followers: LogFollowers;
}

const NOT_REPORTED = 'no report from this container (latency probing off, or not measured yet)';
const NOT_MEASURED = 'not measured yet';

export const observabilityRoutes: FastifyPluginAsyncTypebox<ObservabilityRouteOptions> = async (app, { ctx, followers }) => {
  app.get(
    PATHS.logs,
    {
      config: { access: 'read' },
      schema: {
        summary: "Every host's shipped log lines, filtered; newest first page, then onwards with ?after=; ?follow=true streams them",
        description:
          'Without `after`: the newest `limit` matching lines, oldest first. With `after` (a previous `next`): the lines after it. ' +
          'Lines are in the order they reached the store (each host ships in its own order, in batches every 250 ms). ' +
          'With `follow=true` the answer is text/event-stream: `id: <cursor>`, `event: log`, `data: <line as JSON>`; resume with Last-Event-ID.',
        tags: ['observability'],
        querystring: LogsQuery,
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^\\d+-\\d+$', maxLength: 40 })) }),
        response: { 200: LogsPage },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const filters: Omit<LogQuery, 'after' | 'limit'> = {
        ...(q.agent === undefined ? {} : { agentId: q.agent }),
        ...(q.container === undefined ? {} : { containerId: q.container }),
        ...(q.level === undefined ? {} : { minLevel: q.level }),
      };
      if (q.follow !== true) {
        const page = await ctx.store.readLogs({ ...filters, limit: q.limit ?? 100, ...(q.after === undefined ? {} : { after: q.after }) });
        // Hosts ship in batches, so arrival order can differ from logging order by a batch: a page
        // is put in logging order (ISO times sort as text; ties keep arrival order).
        const entries = page.entries.map(toLogEntryView).sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
        return { entries, next: page.next };
      }
      followers.reserve();
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(': connected\n\n');
      await followers.follow(res, filters, req.headers['last-event-id'] ?? q.after ?? null);
    },
  );

  app.get(
    PATHS.latency,
    {
      config: { access: 'read' },
      schema: {
        summary: 'Round trips measured by each active container to Redis, the manager and every other active container',
        description: 'One entry per pair, measured or not (an unmeasured pair has `samples: 0` and says why in `error`).',
        tags: ['observability'],
        response: { 200: LatencyMatrix },
      },
    },
    async () => {
      const containers = (await ctx.view.containers(STATUS_MAX_AGE_MS)).filter((c) => c.state === 'active').map((c) => c.id).sort();
      const reports = new Map((await ctx.store.listLatency(containers)).map((r) => [r.from, r]));
      const entries: LatencyEntryView[] = [];
      for (const from of containers) {
        const report = reports.get(from);
        const samples = new Map(report?.entries.map((e) => [e.to, e]));
        for (const to of [REDIS_TARGET, MANAGER_TARGET, ...containers.filter((c) => c !== from)]) {
          const s = samples.get(to);
          entries.push(
            s === undefined
              ? { from, to, median_ms: null, last_ms: null, max_ms: null, samples: 0, error: report === undefined ? NOT_REPORTED : NOT_MEASURED, measured_at: null }
              : {
                  from,
                  to,
                  median_ms: s.medianMs,
                  last_ms: s.lastMs,
                  max_ms: s.maxMs,
                  samples: s.samples,
                  error: s.error,
                  measured_at: s.measuredAtMs === null ? null : new Date(s.measuredAtMs).toISOString(),
                },
          );
        }
      }
      return { generated_at: new Date().toISOString(), containers, entries };
    },
  );

  app.post(
    PATHS.probe,
    {
      config: { access: 'operate' },
      schema: {
        summary: 'Can this manager reach GET /ping on host:port? (the reach-back check of `flotilla doctor`)',
        description: 'A GET of the fixed path /ping, 3 s timeout, no redirects; only reachability, status, round trip and whether it is a Flotilla ping are reported, never the body.',
        tags: ['observability'],
        body: ProbeBody,
        response: { 200: ProbeResult, '4xx': ErrorBody },
      },
    },
    async (req) => probePing(req.body.host, req.body.port, undefined, ctx.tls === null ? undefined : { dispatcher: ctx.tls.probeDispatcher() }),
  );
};
