/**
 * One reconciler pass as a pure function: from the containers and agents read from the store, the
 * actions that bring where agents are in line with where they should be.
 *
 * 1. An agent fenced to an older epoch of a container that is back (it re-registered) and can
 *    still run it (serves the type, not draining) is re-fenced there: that is how a restarted
 *    container gets its agents back.
 * 2. An agent whose owner is down, gone, or back but unable to run it, is failed over: placed
 *    again with its own strategy and constraints (planDrain, one source at a time).
 * 3. An agent waiting for a container (pending, placing) is placed.
 * 4. An agent on a draining container is moved (at most `maxDrainMoves` per pass: each is a live
 *    migration).
 * An agent nothing can take now is `unplaceable`: unplaced (pending) when its owner cannot run it,
 * left where it is when its owner is only draining. Settled agents (stopped, failed) are left
 * alone. Each step sees the load the steps before it planned.
 */
import type { ContainerRecord } from '../../protocol/container.js';
import { fleetFromPlacements, planDrain, place, InvalidPlacementRequestError, type AgentPlacement } from '../../scheduler/index.js';
import type { AgentRecord } from '../../store/messaging.js';
import type { Move } from '../agents/moves.js';
import { awaitsPlacement, byId, isSettled, occupy, orphanedBy, placementsOf, toPlacementRequest, type Orphaned } from '../agents/placement.js';

export type ReconcileAction =
  | { kind: 'move'; agent: AgentRecord; move: Move }
  | {
      kind: 'unplaceable';
      agent: AgentRecord;
      error: string;
      /** True: take it off its owner (pending). False: leave it running where it is (a draining container). */
      unplace: boolean;
    };

export interface ReconcileLimits {
  /** Writes (moves, re-fences, placements, unplaceable agents) per pass. */
  maxActions: number;
  /** Moves off draining containers per pass (they count as actions too). */
  maxDrainMoves: number;
}

export interface ReconcilePlan {
  actions: ReconcileAction[];
  /** round_robin's position after this plan. */
  cursor: string | undefined;
  /** Something is left to do (a limit was reached, an agent fits nowhere): scan again next pass. */
  more: boolean;
}

interface Source {
  id: string;
  /** The agents to move off it; an orphan source also keeps the cause. */
  agents: AgentRecord[];
  cause: Orphaned | 'drain';
}

export function planReconcile(containers: readonly ContainerRecord[], agents: readonly AgentRecord[], limits: ReconcileLimits, cursor?: string): ReconcilePlan {
  const records = byId(containers);
  const plan: ReconcilePlan = { actions: [], cursor, more: false };
  const orphans = new Map<string, Source>();
  const draining = new Map<string, Source>();
  const waiting: AgentRecord[] = [];
  const room = (): boolean => {
    if (plan.actions.length < limits.maxActions) return true;
    plan.more = true;
    return false;
  };

  for (const agent of agents) {
    if (isSettled(agent)) continue;
    if (agent.containerId === null) {
      if (awaitsPlacement(agent)) waiting.push(agent);
      continue;
    }
    const owner = records.get(agent.containerId);
    const why = orphanedBy(agent, owner);
    if (why === 'owner_restarted' && owner !== undefined && owner.availability !== 'draining' && owner.agentTypes.includes(agent.type)) {
      if (!room()) continue;
      const move: Move = { agentId: agent.id, from: owner, fromId: owner.id, to: owner, cause: why, reason: `re-fenced to epoch ${owner.epoch}` };
      plan.actions.push({ kind: 'move', agent, move });
    } else if (why !== undefined) {
      addTo(orphans, agent, why);
    } else if (owner?.availability === 'draining') {
      addTo(draining, agent, 'drain');
    }
  }

  const placements = new Map(placementsOf(agents).map((p) => [p.agentId, p]));
  const stranded: Waiting[] = [];
  for (const source of sorted(orphans)) moveOff(source, containers, placements, plan, room, { moves: Number.POSITIVE_INFINITY }, stranded);
  // Orphans nothing took are placed (or found unplaceable) as waiting agents are: the reason then
  // names what is wrong with each container, not that their old one was excluded.
  placeWaiting([...stranded, ...waiting.map((agent) => ({ agent, cause: 'pending' as const }))], containers, placements, plan, room);
  const drainBudget = { moves: limits.maxDrainMoves };
  for (const source of sorted(draining)) {
    plan.more = true; // a drain is done when a scan finds nothing left on it
    moveOff(source, containers, placements, plan, room, drainBudget, []);
  }
  return plan;
}

function addTo(sources: Map<string, Source>, agent: AgentRecord, cause: Source['cause']): void {
  const id = agent.containerId as string;
  const source = sources.get(id) ?? { id, agents: [], cause };
  source.agents.push(agent);
  sources.set(id, source);
}

function sorted(sources: Map<string, Source>): Source[] {
  return [...sources.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Where every placed agent is, by agent id: what each step places against, updated as it plans. */
type Placements = Map<string, AgentPlacement>;

/** An agent to place from scratch: waiting for a container, or an orphan nothing took off its source. */
interface Waiting {
  agent: AgentRecord;
  cause: 'pending' | Orphaned;
}

/**
 * Plans the moves off one source (at most `budget.moves`, which it spends) and records them in
 * `placements`. Other agents on the source are left out of the plan's input: they are not moving.
 * Agents nothing takes stay where they are on a draining source; off a dead one they are added to
 * `stranded`.
 */
function moveOff(
  source: Source,
  containers: readonly ContainerRecord[],
  placements: Placements,
  plan: ReconcilePlan,
  room: () => boolean,
  budget: { moves: number },
  stranded: Waiting[],
): void {
  const moving = new Map(source.agents.map((a) => [a.id, a]));
  const input = [...placements.values()].filter((p) => p.containerId !== source.id || moving.has(p.agentId));
  const drain = planDrain(source.id, containers, input, { cursor: plan.cursor });
  plan.cursor = drain.cursor;
  const records = byId(containers);
  const from = records.get(source.id) ?? null;
  for (const m of drain.moves) {
    if (budget.moves <= 0) {
      plan.more = true;
      break;
    }
    if (!room()) return;
    const agent = moving.get(m.agentId) as AgentRecord;
    const to = records.get(m.to) as ContainerRecord;
    plan.actions.push({ kind: 'move', agent, move: { agentId: agent.id, from, fromId: source.id, to, cause: source.cause, reason: m.reason } });
    placements.set(agent.id, { ...(placements.get(agent.id) as AgentPlacement), containerId: m.to });
    budget.moves -= 1;
  }
  for (const u of drain.unplaceable) {
    const agent = moving.get(u.agentId) as AgentRecord;
    if (source.cause !== 'drain') {
      stranded.push({ agent, cause: source.cause });
      placements.delete(agent.id);
    } else if (room()) {
      plan.actions.push({ kind: 'unplaceable', agent, error: u.error.message, unplace: false });
      plan.more = true;
    }
  }
}

/**
 * Placed as a failover places (preference relaxed): an agent waits only because the container it
 * was on could not keep it. One that fits nowhere is taken off its owner, if it has one.
 */
function placeWaiting(waiting: readonly Waiting[], containers: readonly ContainerRecord[], placements: Placements, plan: ReconcilePlan, room: () => boolean): void {
  if (waiting.length === 0) return;
  const fleet = fleetFromPlacements([...placements.values()]);
  const records = byId(containers);
  for (const { agent, cause } of waiting) {
    if (!room()) return;
    const request = { ...toPlacementRequest(agent.type, agent.placement), strictPreference: false };
    let result;
    try {
      result = place({ containers, load: fleet.load, used: fleet.used, locations: fleet.locations, request, cursor: plan.cursor });
    } catch (err) {
      if (!(err instanceof InvalidPlacementRequestError)) throw err;
      plan.actions.push({ kind: 'unplaceable', agent, error: err.message, unplace: true });
      plan.more = true;
      continue;
    }
    plan.cursor = result.cursor;
    if (!result.ok) {
      plan.actions.push({ kind: 'unplaceable', agent, error: result.error.message, unplace: true });
      plan.more = true;
      continue;
    }
    occupy(fleet, agent.id, result.containerId, agent.placement);
    placements.set(agent.id, { agentId: agent.id, containerId: result.containerId, request });
    const to = records.get(result.containerId) as ContainerRecord;
    const from = agent.containerId === null ? null : (records.get(agent.containerId) ?? null);
    plan.actions.push({ kind: 'move', agent, move: { agentId: agent.id, from, fromId: agent.containerId, to, cause, reason: result.reason } });
  }
}
