/**
 * `GET /api/v1/cluster/events/stream`: the cluster's events as Server-Sent Events, fed by the
 * manager's one EventStreamHub (../event-stream.ts). The reply is hijacked: Fastify sends nothing
 * after the handler, the hub writes to the socket until the client goes or the manager stops.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EventStreamHeaders, EventStreamQuery } from '../../protocol/api.js';
import { PATHS } from '../../protocol/paths.js';
import type { EventStreamHub } from '../event-stream.js';

export interface EventStreamRouteOptions {
  hub: EventStreamHub;
}

export const eventStreamRoutes: FastifyPluginAsyncTypebox<EventStreamRouteOptions> = async (app, { hub }) => {
  app.get(
    PATHS.eventStream,
    {
      config: { access: 'read' },
      schema: {
        summary: 'Cluster events as they happen (text/event-stream); resume with Last-Event-ID or ?after=',
        description:
          'Each event is `id: <event id>`, `event: <type>`, `data: <the event as JSON, as in GET /cluster/events>`. ' +
          'A comment line is sent every 15 s; a client that does not keep up is dropped with a final comment.',
        tags: ['cluster'],
        querystring: EventStreamQuery,
        headers: EventStreamHeaders,
      },
    },
    async (req, reply) => {
      const resumeAfter = req.headers['last-event-id'] ?? req.query.after ?? null;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // nginx and friends would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      });
      // A first comment flushes the headers, so the client knows the stream is open.
      res.write(': connected\n\n');
      try {
        await hub.attach(res, resumeAfter);
      } catch (err) {
        req.log.warn({ err }, 'event stream: could not start');
        if (!res.writableEnded) res.end(': error: could not read the event log\n\n');
      }
    },
  );
};
