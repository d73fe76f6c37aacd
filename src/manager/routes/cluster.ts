import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ClusterStatus, EventView, EventsQuery } from '../../protocol/api.js';
import { PATHS } from '../../protocol/paths.js';
import { Type } from '@sinclair/typebox';
import type { ManagerContext } from '../context.js';
import { summarizeCluster } from '../status.js';
import { STATUS_MAX_AGE_MS } from '../cluster-view.js';
import type { ClusterEvent } from '../../protocol/events.js';

function toEventView(e: ClusterEvent): EventView {
  return {
    id: e.id,
    type: e.type,
    timestamp: new Date(e.atMs).toISOString(),
    ...(e.containerId === undefined ? {} : { container_id: e.containerId }),
    ...(e.epoch === undefined ? {} : { epoch: e.epoch }),
    ...(e.managerId === undefined ? {} : { manager_id: e.managerId }),
    data: e.data,
  };
}

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
