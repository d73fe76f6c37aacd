/** A container's capacity and resources, and the arithmetic on them. */
import type { ContainerRecord } from '../protocol/container.js';
import type { ResourceAmounts } from './request.js';
import { ownNumber } from './own.js';

/** Agents a container takes when it does not declare `max_agents` (the manager's status uses the same figure). */
export const DEFAULT_MAX_AGENTS = 100;

/** Slack for fractional amounts: 0.1 + 0.2 cores must fit into 0.3. */
const RESOURCE_EPSILON = 1e-9;

export function maxAgentsOf(c: ContainerRecord): number {
  const declared = c.resources.max_agents;
  return typeof declared === 'number' && Number.isFinite(declared) && declared >= 0 ? Math.floor(declared) : DEFAULT_MAX_AGENTS;
}

/** What a container declared of `key`; undeclared is zero (it cannot promise what it did not declare). */
export function declaredAmount(c: ContainerRecord, key: string): number {
  if (key === 'max_agents') return maxAgentsOf(c);
  return ownNumber(c.resources, key) ?? 0;
}

export function usedAmount(used: ResourceAmounts | undefined, key: string): number {
  return ownNumber(used, key) ?? 0;
}

export function fits(available: number, needed: number): boolean {
  return available + RESOURCE_EPSILON >= needed;
}

/** Share of the agent slots in use; a container with no slots is infinitely full. */
export function loadRatio(load: number, maxAgents: number): number {
  return maxAgents > 0 ? load / maxAgents : Number.POSITIVE_INFINITY;
}

/** Rounds for messages: `1.5`, not `1.4999999999`. */
export function formatAmount(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 100) / 100);
}
