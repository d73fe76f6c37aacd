/**
 * The load a plan works on, derived from where every agent is. Plans move agents in this
 * bookkeeping as they go, so the second agent they place sees the first one's move.
 */
import type { AgentPlacement, PlacementRequest } from './request.js';
import { idRecord, ownCount, ownNumber, ownString, ownValue } from './own.js';

export interface FleetLoad {
  /** Agents per container id. */
  load: Record<string, number>;
  /** Resources their requirements take, per container id. */
  used: Record<string, Record<string, number>>;
  /** Container id per agent id. */
  locations: Record<string, string>;
}

export function fleetFromPlacements(placements: readonly AgentPlacement[]): FleetLoad {
  const fleet: FleetLoad = { load: idRecord(), used: idRecord(), locations: idRecord() };
  for (const p of placements) addAgent(fleet, p.agentId, p.containerId, requirementsOf(p.request));
  return fleet;
}

/**
 * The amounts an agent takes, read leniently: bookkeeping must not fail on one bad old record
 * (placing validates strictly; see compile.ts).
 */
export function requirementsOf(request: PlacementRequest): Array<readonly [string, number]> {
  const out: Array<readonly [string, number]> = [];
  for (const [key, amount] of Object.entries(request.resourceRequirements ?? {})) {
    if (key !== 'max_agents' && typeof amount === 'number' && Number.isFinite(amount) && amount > 0) out.push([key, amount]);
  }
  return out;
}

export function addAgent(fleet: FleetLoad, agentId: string, containerId: string, requirements: ReadonlyArray<readonly [string, number]>): void {
  fleet.load[containerId] = ownCount(fleet.load, containerId) + 1;
  fleet.locations[agentId] = containerId;
  adjustUsed(fleet, containerId, requirements, 1);
}

export function removeAgent(fleet: FleetLoad, agentId: string, containerId: string, requirements: ReadonlyArray<readonly [string, number]>): void {
  fleet.load[containerId] = Math.max(0, ownCount(fleet.load, containerId) - 1);
  if (ownString(fleet.locations, agentId) === containerId) delete fleet.locations[agentId];
  adjustUsed(fleet, containerId, requirements, -1);
}

function adjustUsed(fleet: FleetLoad, containerId: string, requirements: ReadonlyArray<readonly [string, number]>, sign: 1 | -1): void {
  if (requirements.length === 0) return;
  let used = ownValue(fleet.used, containerId);
  if (used === undefined) fleet.used[containerId] = used = idRecord();
  for (const [key, amount] of requirements) used[key] = (ownNumber(used, key) ?? 0) + sign * amount;
}
