/**
 * Carrying out a placement decision: the fence moves first (from then on the old owner's commits
 * are refused), then the containers are told (control entries in their inboxes, which are hints:
 * a container also sweeps its agents), then the event is logged.
 */
import type { ClusterEventType } from '../../protocol/events.js';
import type { ContainerRecord } from '../../protocol/container.js';
import { containerInbox, type ControlBody, type ControlOp } from '../../protocol/runtime.js';
import type { AgentRecord, AssignAgentOptions, MessageStore } from '../../store/messaging.js';
import type { ClusterStore } from '../../store/store.js';
import type { Orphaned } from './placement.js';

export type AgentStore = ClusterStore & MessageStore;

/** Why an agent is placed where it is. */
export type MoveCause = 'deploy' | 'pending' | 'migrate' | 'drain' | 'rebalance' | Orphaned;

export interface Move {
  agentId: string;
  /** The owner it leaves (null when it had none); told to deactivate when it is alive. */
  from: ContainerRecord | null;
  /** Its id, also when the record is gone. */
  fromId: string | null;
  to: ContainerRecord;
  cause: MoveCause;
  reason: string;
}

export function eventTypeOf(cause: MoveCause): ClusterEventType {
  switch (cause) {
    case 'deploy':
    case 'pending':
      return 'agent_placed';
    case 'migrate':
    case 'drain':
    case 'rebalance':
      return 'agent_moved';
    case 'owner_down':
    case 'owner_missing':
    case 'owner_restarted':
      return 'agent_failed_over';
  }
}

export async function sendControl(store: MessageStore, containerId: string, agentId: string, op: ControlOp): Promise<void> {
  const body: ControlBody = { op };
  await store.pushInbox(containerInbox(containerId), { kind: 'control', ref: agentId, body: JSON.stringify(body) });
}

/** Tells an agent's former owner to let it go, if that owner is alive to hear it. */
export async function releaseFrom(store: MessageStore, owner: ContainerRecord | null | undefined, agentId: string): Promise<void> {
  if (owner?.state === 'active') await sendControl(store, owner.id, agentId, 'deactivate');
}

/**
 * Fences the agent to `to` (state `activating`), tells both containers, logs the event. Null when
 * the agent was deleted meanwhile (nothing else is done then). `resetState` clears the agent's
 * state in the same step as the fence change (see MessageStore.assignAgent).
 */
export async function applyMove(store: AgentStore, move: Move, opts: AssignAgentOptions = {}): Promise<AgentRecord | null> {
  const record = await store.assignAgent(move.agentId, { owner: move.to.id, epoch: move.to.epoch }, 'activating', opts);
  if (record === null) return null;
  if (move.from?.id !== move.to.id) await releaseFrom(store, move.from, move.agentId);
  await sendControl(store, move.to.id, move.agentId, 'activate');
  await recordPlacement(store, move);
  return record;
}

export async function recordPlacement(store: ClusterStore, move: Move): Promise<void> {
  await store.appendEvent(eventTypeOf(move.cause), {
    containerId: move.to.id,
    epoch: move.to.epoch,
    data: { agent_id: move.agentId, from: move.fromId, to: move.to.id, cause: move.cause, reason: move.reason },
  });
}
