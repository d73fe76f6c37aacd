/**
 * The data plane's wire contract between senders (manager, agents), the control plane and the
 * containers that host agents. Everything here travels through the store (see
 * src/store/messaging.ts): mailboxes for messages, inboxes for rings, replies and control.
 */

/** The inbox a container reads: rings for its agents, replies to its agents' sends, control. */
export function containerInbox(containerId: string): string {
  return `container.${containerId}`;
}

/** The inbox a manager reads: replies to messages sent through its API. */
export function managerInbox(managerId: string): string {
  return `manager.${managerId}`;
}

/**
 * Control entries (`kind: 'control'`, `ref` = agent id) from the control plane to the container
 * that owns (or owned) an agent. They are hints: the agent record's fence is the truth, and a
 * container also sweeps its agents periodically, so a lost control entry delays but never breaks.
 */
export type ControlOp =
  /** The agent is now fenced to you: load its state and serve its mailbox. */
  | 'activate'
  /** The agent is no longer yours (migrated, drained, deleted): stop after the current turn. */
  | 'deactivate';

export interface ControlBody {
  op: ControlOp;
}

/** A ring (`kind: 'ring'`, `ref` = agent id): the agent's mailbox has new entries. Body `{}`. */
export const RING_BODY = '{}';

/** The body of a reply entry (`kind: 'reply'`, `ref` = the request's message id). */
export type ReplyBody =
  | { ok: true; result: unknown; agent_id: string; container_id: string }
  | { ok: false; error: { code: ReplyErrorCode; message: string }; agent_id: string; container_id: string };

export type ReplyErrorCode =
  /** The handler threw: the message failed, the agent and container carry on. */
  | 'handler_error'
  /** The agent's type is not served by the container that holds it. */
  | 'unknown_type'
  /** The request's deadline passed before its turn began. */
  | 'expired';

/** How long `send` waits for a reply unless told otherwise (DESIGN §5). */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000;
