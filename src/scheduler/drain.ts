/**
 * Where every agent of a draining (or dead) container should go, each placed with its own
 * original strategy and constraints, one after another so that they spread instead of all
 * landing on whichever container looked emptiest at the start.
 */
import type { ContainerRecord } from '../protocol/container.js';
import { compileRequest, type CompiledRequest } from './compile.js';
import { InvalidPlacementRequestError, type NoPlacementError } from './errors.js';
import { addAgent, fleetFromPlacements, removeAgent, requirementsOf } from './fleet.js';
import { placeCompiled } from './place.js';
import type { AgentPlacement, PlacementRequest, PlannedMove } from './request.js';

export interface DrainOptions {
  /** round_robin's cursor, as place() takes it; the plan returns where it ended. */
  cursor?: string;
}

export interface DrainPlan {
  moves: PlannedMove[];
  /** Agents nothing can take now; the container cannot finish draining until that changes. */
  unplaceable: Array<{ agentId: string; error: NoPlacementError | InvalidPlacementRequestError }>;
  cursor: string | undefined;
}

/**
 * `placements` lists every agent in the fleet (not only the drained container's): the others are
 * the load the moved agents are placed against. Agents go in id order so a plan is reproducible.
 */
export function planDrain(containerId: string, containers: readonly ContainerRecord[], placements: readonly AgentPlacement[], options: DrainOptions = {}): DrainPlan {
  const fleet = fleetFromPlacements(placements);
  const leaving = placements.filter((p) => p.containerId === containerId).sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
  const plan: DrainPlan = { moves: [], unplaceable: [], cursor: options.cursor };
  for (const p of leaving) {
    let compiled: CompiledRequest;
    try {
      compiled = compileRequest(drainRequest(p.request, containerId));
    } catch (err) {
      if (!(err instanceof InvalidPlacementRequestError)) throw err;
      plan.unplaceable.push({ agentId: p.agentId, error: err });
      continue;
    }
    const result = placeCompiled(
      { containers, load: fleet.load, used: fleet.used, locations: fleet.locations, request: compiled.request, cursor: plan.cursor, excluded: [containerId] },
      compiled,
    );
    plan.cursor = result.cursor;
    if (!result.ok) {
      plan.unplaceable.push({ agentId: p.agentId, error: result.error });
      continue;
    }
    const requirements = requirementsOf(p.request);
    removeAgent(fleet, p.agentId, containerId, requirements);
    addAgent(fleet, p.agentId, result.containerId, requirements);
    plan.moves.push({ agentId: p.agentId, from: containerId, to: result.containerId, reason: `drain ${containerId}: ${result.reason}` });
  }
  return plan;
}

/**
 * The agent cannot stay, so a preference is only a preference here: a preference for the drained
 * container itself is dropped, and a preferred container that cannot take it falls back to the
 * strategy rather than leaving the agent stuck on a container that is going away.
 */
function drainRequest(request: PlacementRequest, drained: string): PlacementRequest {
  const preferredContainer = request.preferredContainer === drained ? undefined : request.preferredContainer;
  return { ...request, preferredContainer, strictPreference: false };
}
