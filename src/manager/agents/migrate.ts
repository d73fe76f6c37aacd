/**
 * Moving one agent on request: to a given container (which must pass the agent's own filters), or
 * wherever its strategy and constraints place it away from where it is. The agent keeps its
 * mailbox and watermark, and its state unless `preserveState` is false; the fence moves, so the old
 * owner's next commit is refused and the new owner continues with the next unhandled message.
 * Without state, the state and last reply are deleted in the same store step as the fence change
 * (assignAgent's `resetState`), so the new owner runs the type's `init` again and the old owner
 * cannot write state after the reset.
 */
import type { ContainerRecord } from '../../protocol/container.js';
import { fleetFromPlacements, InvalidPlacementRequestError, place } from '../../scheduler/index.js';
import { ConflictError, HttpError, NotFoundError } from '../errors.js';
import { badRequest } from './deploy.js';
import { applyMove, type AgentStore, type Move } from './moves.js';
import { byId, placementsOf, toPlacementRequest } from './placement.js';

export interface MigrateRequest {
  agentId: string;
  target: string | undefined;
  preserveState: boolean;
}

export async function migrateAgent(store: AgentStore, req: MigrateRequest): Promise<{ move: Move; from: string; state: string }> {
  const agent = await store.getAgent(req.agentId);
  if (agent === null) throw new NotFoundError('agent', req.agentId);
  const current = agent.containerId;
  if (current === null) {
    throw new ConflictError('agent_not_placed', `agent ${JSON.stringify(agent.id)} is ${agent.state} on no container; it is placed as soon as one can take it`);
  }
  if (req.target === current) throw new ConflictError('same_container', `agent ${JSON.stringify(agent.id)} is already on ${JSON.stringify(current)}`);

  const [containers, agents] = await Promise.all([store.listContainers(), store.listAgents()]);
  if (req.target !== undefined && !containers.some((c) => c.id === req.target)) throw new NotFoundError('container', req.target);
  const fleet = fleetFromPlacements(placementsOf(agents));
  const own = toPlacementRequest(agent.type, agent.placement);
  // A named target must pass every filter; otherwise the agent's own preference counts unless it is where it is now.
  const request =
    req.target !== undefined
      ? { ...own, preferredContainer: req.target, strictPreference: true }
      : { ...own, preferredContainer: own.preferredContainer === current ? undefined : own.preferredContainer, strictPreference: false };
  let result;
  try {
    result = place({ containers, load: fleet.load, used: fleet.used, locations: fleet.locations, request, excluded: [current] });
  } catch (err) {
    if (err instanceof InvalidPlacementRequestError) throw badRequest(err);
    throw err;
  }
  if (!result.ok) throw new HttpError(409, 'no_placement', result.error.message);

  const records = byId(containers);
  const move: Move = {
    agentId: agent.id,
    from: records.get(current) ?? null,
    fromId: current,
    to: records.get(result.containerId) as ContainerRecord,
    cause: 'migrate',
    reason: result.reason,
  };
  const moved = await applyMove(store, move, { resetState: !req.preserveState });
  if (moved === null) throw new NotFoundError('agent', req.agentId);
  return { move, from: current, state: moved.state };
}
