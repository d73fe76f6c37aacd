/** How the scheduler chooses among the containers that pass every filter (DESIGN §4). */
export type Strategy = 'round_robin' | 'least_loaded' | 'resource_based' | 'capability_based' | 'affinity_based' | 'spread';

export const STRATEGIES: readonly Strategy[] = [
  'round_robin',
  'least_loaded',
  'resource_based',
  'capability_based',
  'affinity_based',
  'spread',
];

/** Used when a request names none: it keeps the fleet even without any extra input. */
export const DEFAULT_STRATEGY: Strategy = 'least_loaded';

export function isStrategy(value: unknown): value is Strategy {
  return typeof value === 'string' && (STRATEGIES as readonly string[]).includes(value);
}
