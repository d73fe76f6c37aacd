/**
 * Per-message reply inboxes: where the reply of a message sent through the API is kept for any
 * manager replica to find (`GET …/messages/{id}`).
 *
 * - `wait: false`: the message's `replyTo` is `reply.<message id>`, so the runtime delivers the
 *   reply there itself.
 * - `wait: true`: the reply goes to the sending manager's inbox; if the wait ended without it
 *   (timeout, client gone), that manager forwards it here when it comes (replies.ts).
 *
 * The inbox is created, with its expiry (`retentionMs`), by an `accepted` marker pushed when the
 * message is accepted (or its wait ends); a push without a TTL keeps the expiry, so the runtime
 * need not know about it. The marker names the agent, so a poll under another agent's path finds
 * nothing. A reply that comes after the inbox expired starts a new one without expiry: deliver
 * replies only while the request's deadline is near (see docs/architecture.md).
 */
import type { MessageStore } from '../store/messaging.js';
import type { MessageOutcome } from '../protocol/messages-api.js';
import { outcomeOfReply } from './message-outcome.js';

/** How long an API message's reply (or its `pending` marker) can be polled for. */
export const REPLY_RETENTION_MS = 60 * 60 * 1_000;
/** The marker's `ref`: the message is in the mailbox and its reply comes here. */
export const ACCEPTED_REF = 'accepted';
/** At most this many entries are read from one reply inbox (marker, reply, a redelivered copy). */
const REPLY_INBOX_READ = 16;

export function replyInbox(messageId: string): string {
  return `reply.${messageId}`;
}

/** Creates the message's reply inbox (or renews its expiry) with an `accepted` marker. */
export async function markAccepted(store: MessageStore, messageId: string, agentId: string, retentionMs: number): Promise<void> {
  await store.pushInbox(replyInbox(messageId), { kind: 'control', ref: ACCEPTED_REF, body: JSON.stringify({ agent_id: agentId }) }, { ttlMs: retentionMs });
}

/** Puts a reply where polls find it (a late reply to a waiting send). */
export async function forwardReply(store: MessageStore, messageId: string, body: string, retentionMs: number): Promise<void> {
  await store.pushInbox(replyInbox(messageId), { kind: 'reply', ref: messageId, body }, { ttlMs: retentionMs });
}

function markerAgent(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { agent_id?: unknown };
    return typeof parsed.agent_id === 'string' ? parsed.agent_id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What became of `messageId` sent to `agentId`: its reply (completed/failed) from the reply inbox,
 * else from the agent's last turn (a reply that went to a manager that has since gone), else
 * `pending` while the marker is there; null when nothing is known (never sent through the API
 * with a reply inbox, for another agent, or expired).
 */
export async function lookupMessage(store: MessageStore, agentId: string, messageId: string): Promise<MessageOutcome | null> {
  const [entries, last] = await Promise.all([store.readInbox(replyInbox(messageId), '0-0', 0, REPLY_INBOX_READ), store.lastReply(agentId)]);
  const marked = entries.some((e) => e.kind === 'control' && e.ref === ACCEPTED_REF && markerAgent(e.body) === agentId);
  const reply = entries.find((e) => e.kind === 'reply' && e.ref === messageId);
  // A reply found in the inbox counts only with the marker (it names the agent).
  if (reply !== undefined && marked) return outcomeOfReply(messageId, agentId, reply.body);
  if (last !== null && last.ref === messageId) return outcomeOfReply(messageId, agentId, last.body);
  return marked ? { message_id: messageId, agent_id: agentId, status: 'pending' } : null;
}
