/**
 * The scheduler: where an agent goes (DESIGN §4). Pure functions over the fleet the caller reads
 * from the store; nothing here does I/O or keeps state between calls (round_robin's cursor is
 * handed back to the caller).
 *
 * - place(): filters (active, schedulable, serves the type, capacity, labels, capabilities,
 *   minimum and free resources), a preferred container, then the strategy.
 * - planRebalance(), planDrain(): proposed moves; the reconciler carries them out.
 *
 * Performance, measured once (compiled JS, Node 20, a 2-core machine under heavy load): placing
 * onto 5,000 containers with two label constraints, resource requirements and affinity takes
 * about 1-2 ms per placement (resource_based 2-3 ms); a "nothing fits" answer, which describes
 * every container, about 5 ms. The filters build no text per container; reasons are written
 * out only when nothing fits.
 */
export { STRATEGIES, DEFAULT_STRATEGY, isStrategy, type Strategy } from './strategy.js';
export type {
  Affinity,
  AgentPlacement,
  PlacementConstraints,
  PlacementInput,
  PlacementRequest,
  PlacementResult,
  PlannedMove,
  ResourceAmounts,
} from './request.js';
export { place } from './place.js';
export { DEFAULT_MAX_AGENTS, maxAgentsOf } from './capacity.js';
export { RESOURCE_BASED_DIMENSIONS } from './choose.js';
export {
  parseLabelConstraint,
  formatLabelConstraint,
  matchesLabel,
  SWARM_LABEL_PREFIX,
  type LabelConstraint,
  type LabelOperator,
} from './labels.js';
export { InvalidPlacementRequestError, LabelConstraintError, NoPlacementError, type NoPlacementDetails } from './errors.js';
export { REJECTION_CODES, MAX_SUMMARY_GROUPS, type Rejection, type RejectionCode } from './rejection.js';
export { fleetFromPlacements, type FleetLoad } from './fleet.js';
export { planRebalance, DEFAULT_MAX_REBALANCE_MOVES, DEFAULT_MAX_REBALANCE_CHECKS, type RebalanceOptions, type RebalancePlan } from './rebalance.js';
export { planDrain, type DrainOptions, type DrainPlan } from './drain.js';
