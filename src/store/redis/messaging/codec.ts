/**
 * How the messaging records are laid out in Redis: an agent is a hash of flat fields (config and
 * placement as JSON; the fence as `owner`, '' while unplaced, and `epoch`); mailbox and inbox
 * entries are stream entries whose optional fields are left out when absent.
 */
import {
  AGENT_STATES,
  INBOX_ENTRY_KINDS,
  MESSAGE_KINDS,
  type AgentRecord,
  type AgentState,
  type InboxEntry,
  type InboxEntryKind,
  type LastReply,
  type MailboxEntry,
  type MailboxMessage,
  type MessageKind,
  type NewAgent,
  type PlacementSpec,
} from '../../messaging.js';
import { StoreError } from '../../store.js';
import { integer, json, oneOf, pairsToHash, text, type Hash } from '../codec.js';

/** The fields createAgent writes; the script adds lastHandled, turns and the times. */
export function newAgentFields(agent: NewAgent): string[] {
  const fields = [
    'id', agent.id,
    'type', agent.type,
    'name', agent.name,
    'config', JSON.stringify(agent.config),
    'placement', JSON.stringify(agent.placement),
    'state', agent.state,
    'owner', agent.containerId ?? '',
    'epoch', String(agent.containerId == null ? 0 : (agent.epoch ?? 0)),
  ]; // prettier-ignore
  if (agent.error !== undefined) fields.push('error', agent.error);
  return fields;
}

/** An agent hash as a record; null for an empty hash (no such agent). */
export function decodeAgent(hash: Hash): AgentRecord | null {
  if (Object.keys(hash).length === 0) return null;
  const where = `agent ${hash.id ?? '?'}`;
  const owner = text(hash, 'owner', where);
  const record: AgentRecord = {
    id: text(hash, 'id', where),
    type: text(hash, 'type', where),
    name: text(hash, 'name', where),
    config: json<Record<string, unknown>>(hash, 'config', where),
    placement: json<PlacementSpec>(hash, 'placement', where),
    state: oneOf<AgentState>(hash, 'state', AGENT_STATES, where),
    containerId: owner === '' ? null : owner,
    epoch: integer(hash, 'epoch', where),
    lastHandled: text(hash, 'lastHandled', where),
    turns: integer(hash, 'turns', where),
    createdAtMs: integer(hash, 'createdAtMs', where),
    updatedAtMs: integer(hash, 'updatedAtMs', where),
  };
  if (hash.error !== undefined) record.error = hash.error;
  return record;
}

/** A mailbox entry's fields; appendMessage adds acceptedAtMs. */
export function messageFields(message: MailboxMessage): string[] {
  const fields = ['messageId', message.messageId, 'kind', message.kind, 'from', message.from, 'body', message.body];
  if (message.replyTo !== undefined) fields.push('replyTo', message.replyTo);
  if (message.traceparent !== undefined) fields.push('traceparent', message.traceparent);
  if (message.deadlineMs !== undefined) fields.push('deadlineMs', String(message.deadlineMs));
  if (message.topic !== undefined) fields.push('topic', message.topic);
  return fields;
}

function streamEntry(entry: unknown): [string, Hash] {
  if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw new StoreError('unexpected stream entry from Redis');
  return [entry[0], pairsToHash(entry[1])];
}

/** One XRANGE entry of a mailbox. */
export function decodeMailboxEntry(raw: unknown): MailboxEntry {
  const [entryId, hash] = streamEntry(raw);
  const where = `mailbox entry ${entryId}`;
  const entry: MailboxEntry = {
    entryId,
    messageId: text(hash, 'messageId', where),
    kind: oneOf<MessageKind>(hash, 'kind', MESSAGE_KINDS, where),
    from: text(hash, 'from', where),
    body: text(hash, 'body', where),
    acceptedAtMs: integer(hash, 'acceptedAtMs', where),
  };
  if (hash.replyTo !== undefined) entry.replyTo = hash.replyTo;
  if (hash.traceparent !== undefined) entry.traceparent = hash.traceparent;
  if (hash.deadlineMs !== undefined) entry.deadlineMs = integer(hash, 'deadlineMs', where);
  if (hash.topic !== undefined) entry.topic = hash.topic;
  return entry;
}

export function inboxFields(entry: Omit<InboxEntry, 'entryId'>): string[] {
  return ['kind', entry.kind, 'ref', entry.ref, 'body', entry.body];
}

/** One XRANGE/XREAD entry of an inbox. */
export function decodeInboxEntry(raw: unknown): InboxEntry {
  const [entryId, hash] = streamEntry(raw);
  const where = `inbox entry ${entryId}`;
  return {
    entryId,
    kind: oneOf<InboxEntryKind>(hash, 'kind', INBOX_ENTRY_KINDS, where),
    ref: text(hash, 'ref', where),
    body: text(hash, 'body', where),
  };
}

/** The last reply hash; null when empty (no turn, or the last turn had no reply). */
export function decodeLastReply(hash: Hash, agentId: string): LastReply | null {
  if (Object.keys(hash).length === 0) return null;
  const where = `last reply of ${agentId}`;
  return {
    entryId: text(hash, 'entryId', where),
    inbox: text(hash, 'inbox', where),
    ref: text(hash, 'ref', where),
    body: text(hash, 'body', where),
  };
}
