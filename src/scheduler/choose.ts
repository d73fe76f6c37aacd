/**
 * How each strategy chooses among the containers that passed the filters. Every choice is a
 * single linear pass (no sorting), and ties always end on the container id, so the same fleet and
 * request give the same answer on every manager replica.
 */
import type { ContainerRecord } from '../protocol/container.js';
import { declaredAmount, formatAmount, usedAmount } from './capacity.js';
import type { CompiledRequest } from './compile.js';
import { ownCount, ownString, ownValue } from './own.js';
import type { ResourceAmounts } from './request.js';
import type { Strategy } from './strategy.js';

export interface Candidate {
  container: ContainerRecord;
  agents: number;
  maxAgents: number;
  /** agents / maxAgents: least_loaded compares this, so a 1,000-slot container is not "fuller" at 50 than a 100-slot one at 10. */
  ratio: number;
}

export interface FleetContext {
  containers: readonly ContainerRecord[];
  load: Readonly<Record<string, number>>;
  used: Readonly<Record<string, ResourceAmounts>> | undefined;
  locations: Readonly<Record<string, string>> | undefined;
}

export interface Choice {
  candidate: Candidate;
  reason: string;
  /** Only round_robin moves the cursor. */
  cursor?: string;
}

/** Resources resource_based weighs on every container, besides what the request needs and the agent slots. */
export const RESOURCE_BASED_DIMENSIONS: readonly string[] = ['cpu_cores', 'memory_mb'];

export function choose(strategy: Strategy, candidates: readonly Candidate[], req: CompiledRequest, fleet: FleetContext, cursor: string | undefined): Choice {
  switch (strategy) {
    case 'round_robin':
      return roundRobin(candidates, cursor);
    case 'least_loaded':
      return leastLoaded(candidates);
    case 'resource_based':
      return resourceBased(candidates, req, fleet);
    case 'capability_based':
      return capabilityBased(candidates, req);
    case 'affinity_based':
      return affinityBased(candidates, req, fleet);
    case 'spread':
      return spread(candidates, fleet);
  }
}

/**
 * The cursor is the id of the last container chosen, not an index: containers join and leave
 * between placements, and an index would then skip or repeat some. The next pick is the first
 * eligible id after the cursor, wrapping around, so every eligible container gets its turn.
 */
function roundRobin(candidates: readonly Candidate[], cursor: string | undefined): Choice {
  let first: Candidate | undefined;
  let next: Candidate | undefined;
  for (const c of candidates) {
    const id = c.container.id;
    if (first === undefined || id < first.container.id) first = c;
    if (cursor !== undefined && id > cursor && (next === undefined || id < next.container.id)) next = c;
  }
  const chosen = next ?? (first as Candidate);
  const reason =
    cursor === undefined ? 'round robin: first eligible container' : next ? `round robin: next eligible container after ${cursor}` : `round robin: wrapped around after ${cursor}`;
  return { candidate: chosen, reason, cursor: chosen.container.id };
}

function leastLoaded(candidates: readonly Candidate[]): Choice {
  const best = pickBest(candidates, (c) => [c.ratio, c.agents]);
  return { candidate: best, reason: `least loaded: ${best.agents}/${best.maxAgents} agents` };
}

interface Headroom {
  /** Share free, after placing, of the tightest resource. */
  min: number;
  mean: number;
  tightest: string;
}

/**
 * The container with the most room left on its tightest resource once this agent is there
 * (agent slots count as a resource, so a container that declares nothing still has a score).
 */
function resourceBased(candidates: readonly Candidate[], req: CompiledRequest, fleet: FleetContext): Choice {
  const dimensions = resourceDimensions(req);
  const headroom = new Map<Candidate, Headroom>();
  for (const c of candidates) headroom.set(c, headroomOf(c, dimensions, ownValue(fleet.used, c.container.id)));
  const best = pickBest(candidates, (c) => {
    const h = headroom.get(c) as Headroom;
    return [-h.min, -h.mean, c.ratio];
  });
  const h = headroom.get(best) as Headroom;
  return { candidate: best, reason: `most free resources: ${formatAmount(h.min * 100)}% of ${h.tightest} left after placing` };
}

/** `[resource, amount this agent needs]` for every resource weighed. */
function resourceDimensions(req: CompiledRequest): Array<readonly [string, number]> {
  const needed = new Map(req.requirements);
  for (const key of RESOURCE_BASED_DIMENSIONS) if (!needed.has(key)) needed.set(key, 0);
  return [...needed];
}

function headroomOf(c: Candidate, dimensions: ReadonlyArray<readonly [string, number]>, used: ResourceAmounts | undefined): Headroom {
  let tightest = 'agent slots';
  let min = (c.maxAgents - c.agents - 1) / c.maxAgents;
  let sum = min;
  let count = 1;
  for (const [key, need] of dimensions) {
    const capacity = declaredAmount(c.container, key);
    if (capacity <= 0) continue;
    const free = (capacity - usedAmount(used, key) - need) / capacity;
    sum += free;
    count += 1;
    if (free < min) {
      min = free;
      tightest = key;
    }
  }
  return { min, mean: sum / count, tightest };
}

/**
 * All candidates serve the type and have the capabilities required; of those, the most
 * specialized one: it leaves generalist containers (the GPU box, the one serving ten types) for
 * the agents that can only run there.
 */
function capabilityBased(candidates: readonly Candidate[], req: CompiledRequest): Choice {
  const required = new Set(req.capabilities);
  const extras = (c: Candidate): number => c.container.capabilities.filter((x) => !required.has(x)).length;
  const best = pickBest(candidates, (c) => [extras(c), c.container.agentTypes.length, c.ratio]);
  return {
    candidate: best,
    reason: `closest capability match: ${extras(best)} capabilities beyond those required, serves ${best.container.agentTypes.length} agent types`,
  };
}

/**
 * Affinity is a preference, not a filter: first the fewest anti-affine agents (ideally none), then
 * the most affine ones, then the least loaded. A container with anti-affine agents is chosen only
 * when every eligible one has some, and the reason says so.
 */
function affinityBased(candidates: readonly Candidate[], req: CompiledRequest, fleet: FleetContext): Choice {
  const affine = countByContainer(req.affine, fleet.locations);
  const anti = countByContainer(req.anti, fleet.locations);
  const best = pickBest(candidates, (c) => [anti.get(c.container.id) ?? 0, -(affine.get(c.container.id) ?? 0), c.ratio, c.agents]);
  const id = best.container.id;
  const parts: string[] = [];
  if (req.affine.length > 0) parts.push(`hosts ${affine.get(id) ?? 0} of ${req.affine.length} affine agents`);
  if (req.anti.length > 0) {
    const hits = anti.get(id) ?? 0;
    parts.push(hits === 0 ? 'hosts no anti-affine agent' : `hosts ${count(hits, 'anti-affine agent')} (every eligible container hosts some)`);
  }
  if (parts.length === 0) parts.push('no affinity given');
  return { candidate: best, reason: `affinity: ${parts.join(', ')}; ${best.agents}/${best.maxAgents} agents` };
}

function countByContainer(agentIds: readonly string[], locations: Readonly<Record<string, string>> | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const agentId of new Set(agentIds)) {
    const where = ownString(locations, agentId);
    if (where !== undefined) counts.set(where, (counts.get(where) ?? 0) + 1);
  }
  return counts;
}

/**
 * Spread across hosts (failure domains), not containers: the host with the fewest agents, then its
 * least loaded eligible container. A host's count includes its cordoned containers (their agents
 * are still there) but not draining or down ones (their agents are leaving).
 */
function spread(candidates: readonly Candidate[], fleet: FleetContext): Choice {
  const perHost = agentsPerHost(fleet);
  const best = pickBest(candidates, (c) => [perHost.get(c.container.hostAddress) ?? 0, c.ratio, c.agents]);
  const host = best.container.hostAddress;
  return {
    candidate: best,
    reason: `spread: host ${host} has ${count(perHost.get(host) ?? 0, 'agent')}, the fewest; ${best.agents}/${best.maxAgents} agents on this container`,
  };
}

export function agentsPerHost(fleet: Pick<FleetContext, 'containers' | 'load'>): Map<string, number> {
  const perHost = new Map<string, number>();
  for (const c of fleet.containers) {
    if (c.state !== 'active' || c.availability === 'draining') continue;
    perHost.set(c.hostAddress, (perHost.get(c.hostAddress) ?? 0) + ownCount(fleet.load, c.id));
  }
  return perHost;
}

/** The candidate with the smallest key (compared element by element), ties to the smallest id. */
function pickBest(candidates: readonly Candidate[], key: (c: Candidate) => number[]): Candidate {
  let best: Candidate | undefined;
  let bestKey: number[] = [];
  for (const c of candidates) {
    const k = key(c);
    if (best === undefined || compareKeys(k, bestKey) < 0 || (compareKeys(k, bestKey) === 0 && c.container.id < best.container.id)) {
      best = c;
      bestKey = k;
    }
  }
  if (best === undefined) throw new Error('pickBest: no candidates (place() checks this first)');
  return best;
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

/** `1 agent`, `2 agents`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
