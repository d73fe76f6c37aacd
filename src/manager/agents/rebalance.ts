/**
 * The `rebalance` action: the scheduler's plan (bounded, converging; see scheduler/rebalance.ts)
 * carried out as migrations. Only agents fenced to their owner's current incarnation take part:
 * orphans and drains are the reconciler's.
 */
import type { MoveView } from '../../protocol/agents-api.js';
import type { ContainerRecord } from '../../protocol/container.js';
import { planRebalance, type Strategy } from '../../scheduler/index.js';
import { mapLimit } from '../../common/concurrency.js';
import { applyMove, type AgentStore } from './moves.js';
import { byId, isSettled, orphanedBy, placementsOf } from './placement.js';

/** Migrations started at once. */
export const REBALANCE_CONCURRENCY = 8;

export interface RebalanceRequest {
  strategy: Strategy;
  maxMoves: number | undefined;
  dryRun: boolean;
}

export async function rebalance(store: AgentStore, req: RebalanceRequest): Promise<{ moves: MoveView[]; converged: boolean }> {
  const [containers, agents] = await Promise.all([store.listContainers(), store.listAgents()]);
  const records = byId(containers);
  const settledHere = agents.filter((a) => !isSettled(a) && a.containerId !== null && orphanedBy(a, records.get(a.containerId)) === undefined);
  const plan = planRebalance(containers, placementsOf(settledHere), req.strategy, req.maxMoves === undefined ? {} : { maxMoves: req.maxMoves });
  const moves = await mapLimit(plan.moves, REBALANCE_CONCURRENCY, async (m): Promise<MoveView> => {
    const view = { agent_id: m.agentId, from: m.from, to: m.to, reason: m.reason };
    if (req.dryRun) return { ...view, applied: false };
    const to = records.get(m.to) as ContainerRecord;
    const moved = await applyMove(store, { agentId: m.agentId, from: records.get(m.from) ?? null, fromId: m.from, to, cause: 'rebalance', reason: m.reason });
    return { ...view, applied: moved !== null };
  });
  return { moves, converged: plan.converged };
}
