import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ClusterStatus, EventView, EventsQuery } from '../../protocol/api.js';
import { PATHS } from '../../protocol/paths.js';
import { Type } from '@sinclair/typebox';
import type { ManagerContext } from '../context.js';
import { summarizeCluster } from '../status.js';
import { STATUS_MAX_AGE_MS } from '../cluster-view.js';
import { toEventView } from '../event-stream.js';

export const clusterRoutes: FastifyPluginAsyncTypebox<ManagerContext> = async (app, ctx) => {
  app.get(PATHS.clusterStatus, { config: { access: 'read' }, schema: { summary: 'Cluster status: counts, capacity, containers, deployments, managers, leader', tags: ['cluster'], response: { 200: ClusterStatus } } }, async () => {
    const [containers, leader, managers, agents] = await Promise.all([
      ctx.view.containers(STATUS_MAX_AGE_MS),
      ctx.store.getLeader(),
      ctx.store.listManagers(),
      ctx.view.agentCounts(),
    ]);
    return summarizeCluster({
      containers,
      leader,
      managers,
      storeKind: ctx.store.kind,
      now: Date.now(),
      agentsPerContainer: Object.fromEntries(agents.perContainer),
      totalAgents: agents.total,
    });
  });

  app.get(
    PATHS.events,
    {
      config: { access: 'read' },
      schema: { summary: 'Cluster events after an id (joins, leaves, failures, placements)', tags: ['cluster'], querystring: EventsQuery, response: { 200: Type.Object({ events: Type.Array(EventView) }) } },
    },
    async (req) => {
      const events = await ctx.store.listEvents({
        ...(req.query.after === undefined ? {} : { afterId: req.query.after }),
        limit: req.query.limit ?? 100,
      });
      return { events: events.map(toEventView) };
    },
  );
};
