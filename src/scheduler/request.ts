/**
 * What a caller asks the scheduler, in the domain's camelCase (the API's snake_case body is mapped
 * onto this by the route). Resource maps keep the container's own keys (`cpu_cores`, `memory_mb`,
 * `gpus`, or any other the containers declare, such as `tpu`).
 */
import type { ContainerRecord, Resources } from '../protocol/container.js';
import type { NoPlacementError } from './errors.js';
import type { Strategy } from './strategy.js';

/** Amounts of resources by name, as containers declare them. `max_agents` is not consumable. */
export type ResourceAmounts = Resources;

export interface PlacementConstraints {
  /** Label expressions, all of which must hold: `node.role == worker`, `zone != b`, `gpu`, `!gpu`. */
  labels?: readonly string[];
  /** Capabilities the container must advertise, all of them. */
  capabilities?: readonly string[];
  /** What the container must have declared in total, whatever is already in use. */
  minResources?: ResourceAmounts;
}

export interface Affinity {
  /** Prefer containers that already host these agents (they talk a lot: keep them close). */
  agents?: readonly string[];
  /** Prefer containers that host none of these (replicas that should not fail together). */
  anti?: readonly string[];
}

export interface PlacementRequest {
  agentType: string;
  strategy: Strategy;
  constraints?: PlacementConstraints;
  /** Placed there if it passes every filter. */
  preferredContainer?: string;
  /**
   * When the preferred container does not pass, fail (the default) or, if false, fall back to the
   * strategy. Failing is the default because the caller named a container for a reason we cannot
   * see (a local model, a mounted volume); placing elsewhere silently would break that reason.
   */
  strictPreference?: boolean;
  /** What the agent consumes: the container must have this much free beyond what is in use. */
  resourceRequirements?: ResourceAmounts;
  /** Read by `affinity_based` only; other strategies ignore it. */
  affinity?: Affinity;
}

export interface PlacementInput {
  /** Every container the store knows; the scheduler does its own filtering. */
  containers: readonly ContainerRecord[];
  /** Agents placed per container id. Missing ids count as empty. */
  load: Readonly<Record<string, number>>;
  /** Resources already taken per container id (by its agents' requirements). Missing: none. */
  used?: Readonly<Record<string, ResourceAmounts>>;
  /** Container id of each agent, by agent id: what `affinity` is resolved against. */
  locations?: Readonly<Record<string, string>>;
  request: PlacementRequest;
  /** `round_robin`'s position: the id of the container it chose last. The caller keeps it. */
  cursor?: string;
  /** Containers never to choose, whatever their state (the one being drained). */
  excluded?: readonly string[];
}

export type PlacementResult =
  | { ok: true; containerId: string; reason: string; cursor: string | undefined }
  | { ok: false; error: NoPlacementError; cursor: string | undefined };

/** Where an agent is and what it asked for: the input of rebalance and drain plans. */
export interface AgentPlacement {
  agentId: string;
  containerId: string;
  request: PlacementRequest;
}

/** A move a plan proposes; the reconciler carries it out (live migration). */
export interface PlannedMove {
  agentId: string;
  from: string;
  to: string;
  reason: string;
}
