/**
 * Between agent records (what the store keeps) and the scheduler (what it takes): the placement
 * request of an agent, where every agent stands, and the fleet's load as plans change it.
 */
import type { ContainerRecord } from '../../protocol/container.js';
import type { AgentPlacement, FleetLoad, PlacementRequest, Strategy } from '../../scheduler/index.js';
import type { AgentRecord, AgentState, PlacementSpec } from '../../store/messaging.js';

/** States in which an agent is meant to run nowhere: the control plane leaves these alone. */
const SETTLED_STATES: ReadonlySet<AgentState> = new Set(['stopped', 'failed']);
/** States of an agent waiting for a container. */
const UNPLACED_STATES: ReadonlySet<AgentState> = new Set(['pending', 'placing']);

export function isSettled(agent: AgentRecord): boolean {
  return SETTLED_STATES.has(agent.state);
}

export function awaitsPlacement(agent: AgentRecord): boolean {
  return agent.containerId === null && UNPLACED_STATES.has(agent.state);
}

export function toPlacementRequest(type: string, spec: PlacementSpec): PlacementRequest {
  const { constraints } = spec;
  return {
    agentType: type,
    // Stored as text; the scheduler refuses an unknown one with InvalidPlacementRequestError.
    strategy: spec.strategy as Strategy,
    constraints: {
      ...(constraints.labels === undefined ? {} : { labels: constraints.labels }),
      ...(constraints.capabilities === undefined ? {} : { capabilities: constraints.capabilities }),
      ...(constraints.min_resources === undefined ? {} : { minResources: constraints.min_resources }),
    },
    ...(spec.preferredContainer === undefined ? {} : { preferredContainer: spec.preferredContainer }),
    ...(spec.resourceRequirements === undefined ? {} : { resourceRequirements: spec.resourceRequirements }),
  };
}

/** Every placed agent, as the scheduler's plans take the fleet. */
export function placementsOf(agents: readonly AgentRecord[]): AgentPlacement[] {
  const out: AgentPlacement[] = [];
  for (const a of agents) {
    if (a.containerId !== null) out.push({ agentId: a.id, containerId: a.containerId, request: toPlacementRequest(a.type, a.placement) });
  }
  return out;
}

/** Adds an agent placed by this plan to the load the next placement sees. */
export function occupy(fleet: FleetLoad, agentId: string, containerId: string, spec: PlacementSpec): void {
  fleet.load[containerId] = (fleet.load[containerId] ?? 0) + 1;
  fleet.locations[agentId] = containerId;
  for (const [key, amount] of Object.entries(spec.resourceRequirements ?? {})) {
    if (key === 'max_agents' || !(amount > 0)) continue;
    const used = (fleet.used[containerId] ??= Object.create(null) as Record<string, number>);
    used[key] = (used[key] ?? 0) + amount;
  }
}

/** Why an agent's owner can no longer run it, if it cannot. */
export type Orphaned = 'owner_down' | 'owner_missing' | 'owner_restarted';

export function orphanedBy(agent: AgentRecord, owner: ContainerRecord | undefined): Orphaned | undefined {
  if (agent.containerId === null) return undefined;
  if (owner === undefined) return 'owner_missing';
  if (owner.state === 'down') return 'owner_down';
  if (owner.epoch !== agent.epoch) return 'owner_restarted';
  return undefined;
}

export function byId(containers: readonly ContainerRecord[]): Map<string, ContainerRecord> {
  return new Map(containers.map((c) => [c.id, c]));
}
