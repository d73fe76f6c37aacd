/**
 * Checks a request once and turns it into the form the filters use, so that placing onto
 * thousands of containers parses nothing per container.
 */
import { InvalidPlacementRequestError } from './errors.js';
import { formatLabelConstraint, parseLabelConstraint, type LabelConstraint } from './labels.js';
import type { PlacementRequest, ResourceAmounts } from './request.js';
import { isStrategy, STRATEGIES } from './strategy.js';

export interface CompiledRequest {
  request: PlacementRequest;
  /** Parsed, with the canonical text rejections show. */
  labels: Array<LabelConstraint & { text: string }>;
  capabilities: readonly string[];
  /** Positive minimums only, `[key, amount]`. */
  minResources: ReadonlyArray<readonly [string, number]>;
  /** Positive requirements only, without `max_agents` (an agent takes one slot, counted by load). */
  requirements: ReadonlyArray<readonly [string, number]>;
  affine: readonly string[];
  anti: readonly string[];
  strictPreference: boolean;
}

export function compileRequest(request: PlacementRequest): CompiledRequest {
  if (typeof request.agentType !== 'string' || request.agentType === '') {
    throw new InvalidPlacementRequestError('agentType must be a non-empty string', 'agentType');
  }
  if (!isStrategy(request.strategy)) {
    throw new InvalidPlacementRequestError(
      `unknown strategy ${JSON.stringify(request.strategy)}: use one of ${STRATEGIES.join(', ')}`,
      'strategy',
    );
  }
  const constraints = request.constraints ?? {};
  const labels = (constraints.labels ?? []).map((e, i) => {
    const parsed = parseLabelConstraint(e, `constraints.labels[${i}]`);
    return { ...parsed, text: formatLabelConstraint(parsed) };
  });
  const capabilities = strings(constraints.capabilities, 'constraints.capabilities');
  const minResources = amounts(constraints.minResources, 'constraints.minResources', true);
  const requirements = amounts(request.resourceRequirements, 'resourceRequirements', false);
  return {
    request,
    labels,
    capabilities,
    minResources,
    requirements,
    affine: strings(request.affinity?.agents, 'affinity.agents'),
    anti: strings(request.affinity?.anti, 'affinity.anti'),
    strictPreference: request.strictPreference !== false,
  };
}

function strings(list: readonly string[] | undefined, field: string): readonly string[] {
  for (const [i, s] of (list ?? []).entries()) {
    if (typeof s !== 'string' || s === '') throw new InvalidPlacementRequestError(`${field}[${i}] must be a non-empty string`, `${field}[${i}]`);
  }
  return list ?? [];
}

function amounts(map: ResourceAmounts | undefined, field: string, keepMaxAgents: boolean): Array<readonly [string, number]> {
  const out: Array<readonly [string, number]> = [];
  for (const [key, amount] of Object.entries(map ?? {})) {
    if (amount === undefined) continue;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
      throw new InvalidPlacementRequestError(`${field}.${key} must be a non-negative number, got ${String(amount)}`, `${field}.${key}`);
    }
    if (amount === 0 || (key === 'max_agents' && !keepMaxAgents)) continue;
    out.push([key, amount]);
  }
  return out;
}
