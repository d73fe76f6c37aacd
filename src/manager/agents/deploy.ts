/**
 * Deploying agents: every replica is placed (on a snapshot of the fleet, each seeing the ones
 * before it) before anything is written, so "nothing fits" writes nothing. Each record is then
 * created already fenced to its container (one atomic write: no half-placed record exists), and
 * only when all exist are the containers told to activate them; a duplicate or a store failure
 * part-way deletes the records this call created.
 */
import { randomBytes } from 'node:crypto';
import type { ContainerRecord } from '../../protocol/container.js';
import { isSafeName } from '../../protocol/names.js';
import { fleetFromPlacements, InvalidPlacementRequestError, parseLabelConstraint, place } from '../../scheduler/index.js';
import type { PlacementSpec } from '../../store/messaging.js';
import { ConflictError, HttpError } from '../errors.js';
import { recordPlacement, sendControl, type AgentStore, type Move } from './moves.js';
import { byId, occupy, placementsOf, toPlacementRequest } from './placement.js';

export interface DeployRequest {
  type: string;
  /** The base name; replicas > 1 append `-1` … `-n`. Generated when absent. */
  name: string | undefined;
  replicas: number;
  config: Record<string, unknown>;
  spec: PlacementSpec;
}

export interface Deployed {
  agentId: string;
  container: ContainerRecord;
  reason: string;
}

/** round_robin's position, kept by the caller between deploys. */
export interface Cursor {
  value: string | undefined;
}

/** Hex digits of a generated agent name. */
const GENERATED_NAME_BYTES = 4;

export function agentNames(name: string | undefined, replicas: number): string[] {
  const base = name ?? randomBytes(GENERATED_NAME_BYTES).toString('hex');
  const names = replicas === 1 ? [base] : Array.from({ length: replicas }, (_, i) => `${base}-${i + 1}`);
  const bad = names.find((n) => !isSafeName(n));
  if (bad !== undefined) {
    throw new HttpError(400, 'validation_failed', `body: name ${JSON.stringify(bad)} (with its replica suffix) is longer than 128 characters`, 'name');
  }
  return names;
}

/** Label expressions are checked before anything else, so a typo is a 400 whatever the fleet. */
export function checkLabels(spec: PlacementSpec): void {
  for (const [i, expression] of (spec.constraints.labels ?? []).entries()) {
    try {
      parseLabelConstraint(expression);
    } catch (err) {
      if (err instanceof InvalidPlacementRequestError) throw badRequest(err, `constraints.labels[${i}]`);
      throw err;
    }
  }
}

/** The scheduler's field names (`constraints.minResources.gpus`) in the API's (`constraints.min_resources.gpus`). */
function apiField(field: string | undefined): string | undefined {
  return field
    ?.replace(/^constraints\.minResources/, 'constraints.min_resources')
    .replace(/^resourceRequirements/, 'resource_requirements')
    .replace(/^strategy$/, 'deployment_strategy')
    .replace(/^agentType$/, 'agent_type');
}

export function badRequest(err: InvalidPlacementRequestError, field = apiField(err.field)): HttpError {
  return new HttpError(400, err.code, `body: ${err.message}`, field);
}

export async function deployAgents(store: AgentStore, req: DeployRequest, cursor: Cursor): Promise<Deployed[]> {
  checkLabels(req.spec);
  const ids = agentNames(req.name, req.replicas).map((name) => ({ id: `${req.type}/${name}`, name }));
  const existing = (await Promise.all(ids.map(({ id }) => store.getAgent(id)))).find((a) => a !== null);
  if (existing) throw new ConflictError('agent_exists', `agent ${JSON.stringify(existing.id)} already exists`);

  const [containers, agents] = await Promise.all([store.listContainers(), store.listAgents()]);
  const records = byId(containers);
  const fleet = fleetFromPlacements(placementsOf(agents));
  const request = toPlacementRequest(req.type, req.spec);
  const chosen: Array<Deployed & { name: string }> = [];
  for (const [i, { id, name }] of ids.entries()) {
    let result;
    try {
      result = place({ containers, load: fleet.load, used: fleet.used, locations: fleet.locations, request, cursor: cursor.value });
    } catch (err) {
      if (err instanceof InvalidPlacementRequestError) throw badRequest(err);
      throw err;
    }
    cursor.value = result.cursor;
    if (!result.ok) {
      const which = ids.length > 1 ? `replica ${i + 1} of ${ids.length}: ` : '';
      throw new HttpError(409, 'no_placement', `${which}${result.error.message}`);
    }
    occupy(fleet, id, result.containerId, req.spec);
    chosen.push({ agentId: id, name, container: records.get(result.containerId) as ContainerRecord, reason: result.reason });
  }

  await createAll(store, req, chosen);
  for (const d of chosen) {
    const move: Move = { agentId: d.agentId, from: null, fromId: null, to: d.container, cause: 'deploy', reason: d.reason };
    await sendControl(store, d.container.id, d.agentId, 'activate');
    await recordPlacement(store, move);
  }
  return chosen;
}

async function createAll(store: AgentStore, req: DeployRequest, chosen: ReadonlyArray<Deployed & { name: string }>): Promise<void> {
  const created: string[] = [];
  try {
    for (const d of chosen) {
      const ok = await store.createAgent({
        id: d.agentId,
        type: req.type,
        name: d.name,
        config: req.config,
        placement: req.spec,
        state: 'activating',
        containerId: d.container.id,
        epoch: d.container.epoch,
      });
      if (!ok) throw new ConflictError('agent_exists', `agent ${JSON.stringify(d.agentId)} already exists`);
      created.push(d.agentId);
    }
  } catch (err) {
    // Best effort: a store that just failed may fail again; the error the caller sees is the first.
    await Promise.allSettled(created.map((id) => store.deleteAgent(id)));
    throw err;
  }
}
