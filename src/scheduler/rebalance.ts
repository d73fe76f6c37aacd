/**
 * Moves that even out load across schedulable containers, or across hosts for `spread`. "Even"
 * means what placement means: for containers the share of agent slots in use (least_loaded's
 * measure), for hosts the plain number of agents (spread's). Each move goes from the fullest place
 * to the emptiest one the agent's own constraints allow, and only when the source is left no
 * emptier than the target: then the sum over places of agents²/weight strictly falls with every
 * move, so the plan converges and never ping-pongs an agent; `maxMoves` bounds the disturbance.
 */
import type { ContainerRecord } from '../protocol/container.js';
import { loadRatio, maxAgentsOf } from './capacity.js';
import { compileRequest, type CompiledRequest } from './compile.js';
import { isEligible } from './eligibility.js';
import { addAgent, fleetFromPlacements, removeAgent, requirementsOf, type FleetLoad } from './fleet.js';
import { ownCount } from './own.js';
import type { AgentPlacement, PlannedMove } from './request.js';
import { DEFAULT_STRATEGY, type Strategy } from './strategy.js';

/** Moves per plan: each is a live migration, so a rebalance disturbs a bounded number of agents. */
export const DEFAULT_MAX_REBALANCE_MOVES = 20;
/**
 * Eligibility checks per plan. When most agents cannot move (labels pin them to their zone), the
 * search tries many agent/target pairs for nothing; this keeps a plan over a large fleet to a
 * fraction of a second instead of letting it grow with agents × containers.
 */
export const DEFAULT_MAX_REBALANCE_CHECKS = 200_000;

export interface RebalanceOptions {
  maxMoves?: number;
  maxChecks?: number;
}

export interface RebalancePlan {
  moves: PlannedMove[];
  /** True when no further move would even things out. */
  converged: boolean;
  /** Why a plan that did not converge stopped: enough moves for now, or it searched long enough. */
  limit?: 'maxMoves' | 'maxChecks';
}

interface Movable {
  placement: AgentPlacement;
  compiled: CompiledRequest;
  requirements: ReadonlyArray<readonly [string, number]>;
}

/** A container, or for `spread` a host: what the plan evens out. */
interface Bucket {
  key: string;
  containers: ContainerRecord[];
  /** Agents are compared as agents / weight: a container's max_agents, or 1 for a host. */
  weight: number;
}

/**
 * Only agents on schedulable containers move, and only to schedulable containers: a cordoned
 * container keeps its agents (cordon means "nothing new") and draining is planDrain's job. An
 * agent whose preferred container is where it is stays there, and an agent moves at most once.
 */
export function planRebalance(
  containers: readonly ContainerRecord[],
  placements: readonly AgentPlacement[],
  strategy: Strategy = DEFAULT_STRATEGY,
  options: RebalanceOptions = {},
): RebalancePlan {
  const maxMoves = Math.max(0, Math.floor(options.maxMoves ?? DEFAULT_MAX_REBALANCE_MOVES));
  const budget = { checks: Math.max(0, Math.floor(options.maxChecks ?? DEFAULT_MAX_REBALANCE_CHECKS)) };
  const byHost = strategy === 'spread';
  const fleet = fleetFromPlacements(placements);
  const buckets = bucketsOf(containers, byHost);
  const movable = movableAgents(placements);
  const moves: PlannedMove[] = [];

  for (;;) {
    const move = findMove(buckets, movable, fleet, byHost, budget);
    if (move === undefined) return { moves, converged: true };
    if (move === OUT_OF_CHECKS) return { moves, converged: false, limit: 'maxChecks' };
    if (moves.length >= maxMoves) return { moves, converged: false, limit: 'maxMoves' };
    const { agent, to } = move;
    const { agentId, containerId: from } = agent.placement;
    removeAgent(fleet, agentId, from, agent.requirements);
    addAgent(fleet, agentId, to, agent.requirements);
    movable.get(from)?.delete(agent);
    moves.push({ agentId, from, to, reason: move.reason });
  }
}

function bucketsOf(containers: readonly ContainerRecord[], byHost: boolean): Bucket[] {
  const buckets = new Map<string, Bucket>();
  for (const c of containers) {
    if (c.state !== 'active' || c.availability !== 'schedulable') continue;
    const key = byHost ? c.hostAddress : c.id;
    const bucket = buckets.get(key) ?? { key, containers: [], weight: byHost ? 1 : maxAgentsOf(c) };
    bucket.containers.push(c);
    buckets.set(key, bucket);
  }
  // A container without slots can be neither source nor target of an even-out.
  return [...buckets.values()].filter((b) => b.containers.some((c) => maxAgentsOf(c) > 0));
}

/** Per container, its agents that may move, in id order (Sets keep insertion order). */
function movableAgents(placements: readonly AgentPlacement[]): Map<string, Set<Movable>> {
  const byContainer = new Map<string, Set<Movable>>();
  const sorted = [...placements].sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
  for (const placement of sorted) {
    if (placement.request.preferredContainer === placement.containerId) continue;
    let compiled: CompiledRequest;
    try {
      compiled = compileRequest(placement.request);
    } catch {
      continue; // a request that no longer validates cannot be re-placed safely: leave the agent be
    }
    const set = byContainer.get(placement.containerId) ?? new Set<Movable>();
    set.add({ placement, compiled, requirements: requirementsOf(placement.request) });
    byContainer.set(placement.containerId, set);
  }
  return byContainer;
}

interface Move {
  agent: Movable;
  to: string;
  reason: string;
}

const OUT_OF_CHECKS = Symbol('out of checks');

function findMove(
  buckets: readonly Bucket[],
  movable: Map<string, Set<Movable>>,
  fleet: FleetLoad,
  byHost: boolean,
  budget: { checks: number },
): Move | typeof OUT_OF_CHECKS | undefined {
  const stats = buckets.map((b) => ({ b, agents: b.containers.reduce((n, c) => n + ownCount(fleet.load, c.id), 0) }));
  const after = (s: (typeof stats)[number], delta: number): number => (s.agents + delta) / s.b.weight;
  const sources = stats.filter((s) => s.agents > 0).sort((x, y) => after(y, -1) - after(x, -1) || cmp(x.b.key, y.b.key));
  const targets = [...stats].sort((x, y) => after(x, 1) - after(y, 1) || cmp(x.b.key, y.b.key));

  for (const src of sources) {
    for (const dst of targets) {
      // Sorted: once the target would end fuller than the source, every later target would too.
      if (after(dst, 1) > after(src, -1)) break;
      if (dst === src) continue;
      const found = moveBetween(src.b, dst.b, movable, fleet, budget);
      if (found === OUT_OF_CHECKS) return found;
      if (found) {
        const reason = byHost
          ? `rebalance: host ${src.b.key} had ${src.agents} agents, host ${dst.b.key} ${dst.agents}`
          : `rebalance: ${src.b.key} had ${src.agents}/${src.b.weight} agents, ${dst.b.key} ${dst.agents}/${dst.b.weight}`;
        return { ...found, reason };
      }
    }
  }
  return undefined;
}

/** The first agent of the source (fullest container first) that some target container (emptiest first) accepts. */
function moveBetween(
  src: Bucket,
  dst: Bucket,
  movable: Map<string, Set<Movable>>,
  fleet: FleetLoad,
  budget: { checks: number },
): { agent: Movable; to: string } | typeof OUT_OF_CHECKS | undefined {
  const ratio = (c: ContainerRecord): number => loadRatio(ownCount(fleet.load, c.id), maxAgentsOf(c));
  const byRatio = (x: ContainerRecord, y: ContainerRecord): number => cmp(ratio(x), ratio(y)) || cmp(x.id, y.id);
  const sources = [...src.containers].sort((x, y) => byRatio(y, x));
  const targets = [...dst.containers].sort(byRatio);
  for (const from of sources) {
    for (const agent of movable.get(from.id) ?? []) {
      for (const to of targets) {
        if (budget.checks <= 0) return OUT_OF_CHECKS;
        budget.checks -= 1;
        if (isEligible(to, agent.compiled, ownCount(fleet.load, to.id), fleet.used)) return { agent, to: to.id };
      }
    }
  }
  return undefined;
}

/** Works for ids and for ratios alike, Infinity included (a subtraction would give NaN). */
function cmp<T extends string | number>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
