/**
 * Placing one agent: filter every container, honour a preferred container, then let the strategy
 * choose. Pure: the caller passes the fleet and its load and records the outcome itself.
 */
import { loadRatio, maxAgentsOf } from './capacity.js';
import { compileRequest, type CompiledRequest } from './compile.js';
import { isEligible, rejectionFor } from './eligibility.js';
import { NoPlacementError } from './errors.js';
import { ownCount } from './own.js';
import { choose, type Candidate } from './choose.js';
import { summarizeRejections } from './rejection.js';
import type { PlacementInput, PlacementResult } from './request.js';

/**
 * Returns where to place the agent, or why nothing fits. Throws InvalidPlacementRequestError
 * (LabelConstraintError for a malformed label) when the request itself is wrong, because that is
 * the caller's mistake whatever the fleet looks like.
 */
export function place(input: PlacementInput): PlacementResult {
  return placeCompiled(input, compileRequest(input.request));
}

/** For plans that place many agents with requests they compiled once. */
export function placeCompiled(input: PlacementInput, req: CompiledRequest): PlacementResult {
  const { containers, cursor } = input;
  const excluded = input.excluded && input.excluded.length > 0 ? new Set(input.excluded) : undefined;
  const { agentType, strategy, preferredContainer } = req.request;

  let skippedPreference = '';
  if (preferredContainer !== undefined) {
    const preferred = containers.find((c) => c.id === preferredContainer);
    const rejection = preferred && rejectionFor(preferred, req, ownCount(input.load, preferred.id), input.used, excluded);
    if (preferred && !rejection) return { ok: true, containerId: preferred.id, reason: 'preferred container', cursor };
    const why = rejection ? rejection.detail : 'is not a registered container';
    if (req.strictPreference) {
      const message = `preferred container ${JSON.stringify(preferredContainer)} cannot take agent type ${agentType}: ${why}`;
      const details = { agentType, strategy, preferredContainer, candidates: containers.length, rejections: rejection ? [rejection] : [] };
      return { ok: false, error: new NoPlacementError(message, details), cursor };
    }
    skippedPreference = `preferred container ${JSON.stringify(preferredContainer)} skipped (${why}); `;
  }

  const candidates: Candidate[] = [];
  for (const c of containers) {
    const agents = ownCount(input.load, c.id);
    if (!isEligible(c, req, agents, input.used, excluded)) continue;
    const maxAgents = maxAgentsOf(c);
    candidates.push({ container: c, agents, maxAgents, ratio: loadRatio(agents, maxAgents) });
  }
  if (candidates.length === 0) {
    // Only now say why each container was turned down (a second pass: failure is the rare case).
    const rejections = containers.flatMap((c) => rejectionFor(c, req, ownCount(input.load, c.id), input.used, excluded) ?? []);
    const why = containers.length === 0 ? 'no containers are registered' : summarizeRejections(rejections);
    const message = `no container can take agent type ${agentType}: ${why}`;
    return { ok: false, error: new NoPlacementError(message, { agentType, strategy, candidates: containers.length, rejections }), cursor };
  }

  const choice = choose(strategy, candidates, req, { containers, load: input.load, used: input.used, locations: input.locations }, cursor);
  return { ok: true, containerId: choice.candidate.container.id, reason: skippedPreference + choice.reason, cursor: choice.cursor ?? cursor };
}
