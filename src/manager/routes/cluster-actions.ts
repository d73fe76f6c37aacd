/** Cluster-wide operations on agents: `POST /api/v1/cluster/actions` and the distribution metrics. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ActionBody, ActionResponse, Distribution } from '../../protocol/agents-api.js';
import { PATHS } from '../../protocol/paths.js';
import { DEFAULT_STRATEGY } from '../../scheduler/index.js';
import { distributionOf } from '../agents/distribution.js';
import { healthCheck } from '../agents/health-check.js';
import { rebalance } from '../agents/rebalance.js';
import type { ManagerContext } from '../context.js';

export const clusterActionRoutes: FastifyPluginAsyncTypebox<ManagerContext> = async (app, ctx) => {
  const { store } = ctx;

  app.post(
    PATHS.clusterActions,
    { config: { access: 'operate' }, schema: { summary: 'Run a cluster action: rebalance or health_check', tags: ['cluster'], body: ActionBody, response: { 200: ActionResponse } } },
    async (req) => {
      const body = req.body;
      if (body.action === 'health_check') {
        const [containers, agents] = await Promise.all([store.listContainers(), store.listAgents()]);
        return healthCheck(containers, agents);
      }
      const dryRun = body.dry_run ?? false;
      const { moves, converged } = await rebalance(store, { strategy: body.strategy ?? DEFAULT_STRATEGY, maxMoves: body.max_moves, dryRun });
      if (!dryRun && moves.length > 0) req.log.info({ moves: moves.length, converged }, 'rebalanced');
      return { success: true as const, action: 'rebalance' as const, dry_run: dryRun, moves, converged };
    },
  );

  app.get(PATHS.distribution, { config: { access: 'read' }, schema: { summary: 'Agent distribution per container, host and type', tags: ['cluster'], response: { 200: Distribution } } }, async () => {
    const [containers, agents] = await Promise.all([store.listContainers(), store.listAgents()]);
    return distributionOf(containers, agents);
  });
};
