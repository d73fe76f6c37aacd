/**
 * Putting a message into an agent's mailbox from the API: its body as bounded JSON text, the
 * append (the message is accepted once it is in), and the ring to the container that owns the
 * agent, so that it handles it now (a container reads a mailbox only when rung or activated).
 */
import type { Logger } from '../common/logger.js';
import { MESSAGE_MAX_BYTES } from '../protocol/messages-api.js';
import { RING_BODY, containerInbox } from '../protocol/runtime.js';
import type { AppendResult, MailboxMessage, MessageStore } from '../store/messaging.js';
import { HttpError, NotFoundError } from './errors.js';

/** `value` as JSON text; 413 naming `field` when it is over MESSAGE_MAX_BYTES. */
export function messageText(value: unknown, field: string): string {
  const text = JSON.stringify(value === undefined ? null : value);
  const bytes = Buffer.byteLength(text);
  if (bytes > MESSAGE_MAX_BYTES) {
    throw new HttpError(413, 'payload_too_large', `body: ${field} is ${bytes} bytes of JSON; at most ${MESSAGE_MAX_BYTES} are accepted`, field);
  }
  return text;
}

/**
 * Appends; 404 when the agent does not exist. Returns whether it was a retry of a known id, and
 * the agent's owner as the append saw it (read in the same atomic step).
 */
export async function acceptMessage(store: MessageStore, agentId: string, message: MailboxMessage): Promise<{ duplicate: boolean; owner: string | null }> {
  const result: AppendResult = await store.appendMessage(agentId, message);
  if (!result.ok) throw new NotFoundError('agent', agentId);
  return { duplicate: result.duplicate, owner: result.owner };
}

/** Pauses before the second and third try of a ring. */
const RING_RETRY_DELAYS_MS = [50, 200];

/**
 * Rings `owner`, the agent's owner as its append saw it: no second read. If the agent moved since,
 * the old owner forwards the ring to the new one (runtime), and the new owner read its mailbox when
 * it activated the agent. Unplaced (null): no ring, the container that activates it reads its
 * mailbox. Tried three times;
 * then only logged, because the message is already accepted: a container re-reads its agents'
 * mailboxes after its own inbox reads failed (what a store outage causes), and any later ring for
 * the agent (a retry of this request rings again) makes it read everything unhandled.
 */
export async function ringOwner(store: MessageStore, agentId: string, owner: string | null, log: Logger): Promise<void> {
  if (owner === null) return;
  for (let attempt = 0; ; attempt++) {
    try {
      await store.pushInbox(containerInbox(owner), { kind: 'ring', ref: agentId, body: RING_BODY });
      return;
    } catch (err) {
      const delay = RING_RETRY_DELAYS_MS[attempt];
      if (delay === undefined) {
        log.error({ err, agent: agentId }, 'could not ring the owner of an agent; the message waits for its next ring or activation');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
