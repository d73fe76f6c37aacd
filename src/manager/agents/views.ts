/**
 * How the API shows agents. A `pending` agent's reason comes from the event log: the store keeps
 * an `error` only for `failed` agents, so the reconciler logs `agent_unplaceable` (when the reason
 * changes, and again every UNPLACEABLE_RELOG_MS) and the API shows the latest one that is not
 * older than the agent's last change.
 */
import type { AgentDetail, AgentView } from '../../protocol/agents-api.js';
import type { ContainerRecord } from '../../protocol/container.js';
import type { AgentRecord } from '../../store/messaging.js';
import type { ClusterStore } from '../../store/store.js';

/** Events the API reads back to find placement errors: the newest this many. */
export const PLACEMENT_ERROR_LOOKBACK = 1_000;

export type PlacementErrors = ReadonlyMap<string, { error: string; atMs: number }>;

export async function placementErrors(store: ClusterStore): Promise<PlacementErrors> {
  const errors = new Map<string, { error: string; atMs: number }>();
  for (const e of await store.listEvents({ limit: PLACEMENT_ERROR_LOOKBACK })) {
    const { agent_id: id, error } = e.data;
    if (e.type === 'agent_unplaceable' && typeof id === 'string' && typeof error === 'string') errors.set(id, { error, atMs: e.atMs });
  }
  return errors;
}

export interface ViewInputs {
  containers: ReadonlyMap<string, ContainerRecord>;
  mailboxDepth: number;
  errors: PlacementErrors;
}

export function toAgentView(a: AgentRecord, inputs: ViewInputs): AgentView {
  const owner = a.containerId === null ? undefined : inputs.containers.get(a.containerId);
  const unplaceable = inputs.errors.get(a.id);
  const { placement } = a;
  return {
    agent_id: a.id,
    agent_type: a.type,
    agent_name: a.name,
    state: a.state,
    container_id: a.containerId,
    host_address: owner?.hostAddress ?? null,
    epoch: a.epoch,
    turns: a.turns,
    last_handled: a.lastHandled,
    mailbox_depth: inputs.mailboxDepth,
    created_at: new Date(a.createdAtMs).toISOString(),
    updated_at: new Date(a.updatedAtMs).toISOString(),
    ...(a.error === undefined ? {} : { error: a.error }),
    ...(unplaceable !== undefined && unplaceable.atMs >= a.updatedAtMs ? { placement_error: unplaceable.error } : {}),
    deployment_strategy: placement.strategy,
    constraints: placement.constraints,
    ...(placement.preferredContainer === undefined ? {} : { preferred_container: placement.preferredContainer }),
    ...(placement.resourceRequirements === undefined ? {} : { resource_requirements: placement.resourceRequirements }),
  };
}

export function toAgentDetail(a: AgentRecord, inputs: ViewInputs): AgentDetail {
  return { ...toAgentView(a, inputs), agent_config: a.config };
}
