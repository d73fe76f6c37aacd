/**
 * Argument checks of the messaging part of the store, shared by both stores so that a bad
 * argument fails the same way whichever store is behind the interface, before anything is written.
 */
import { assertAgentId, assertSafeName } from '../protocol/names.js';
import {
  AGENT_STATES,
  INBOX_ENTRY_KINDS,
  INBOX_READ_MAX,
  MAILBOX_READ_MAX,
  MESSAGE_KINDS,
  type AgentState,
  type AssignAgentOptions,
  type InboxEntry,
  type MailboxMessage,
  type NewAgent,
  type TurnCommit,
} from './messaging.js';
import { StoreError, type Fence } from './store.js';
import { assertStreamId } from './stream-id.js';
import { assertFence } from './validate.js';

export { assertAgentId };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function assertText(what: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new StoreError(`${what} must be a string`);
}

export function assertAgentState(state: AgentState): void {
  if (!(AGENT_STATES as readonly string[]).includes(state)) {
    throw new StoreError(`agent state must be one of ${AGENT_STATES.join(', ')} (got ${JSON.stringify(state)})`);
  }
}

export function assertNewAgent(agent: NewAgent): void {
  assertAgentId('agent id', agent.id);
  if (agent.id !== `${agent.type}/${agent.name}`) {
    throw new StoreError(`agent id ${JSON.stringify(agent.id)} must be its type and name joined by "/"`);
  }
  if (!isPlainObject(agent.config)) throw new StoreError('agent config must be an object');
  const placement: unknown = agent.placement;
  if (!isPlainObject(placement) || typeof placement.strategy !== 'string' || !isPlainObject(placement.constraints)) {
    throw new StoreError('agent placement must be an object with a strategy and constraints');
  }
  assertAgentState(agent.state);
  const owner = agent.containerId ?? null;
  if (owner === null) {
    if (agent.epoch !== undefined && agent.epoch !== 0) throw new StoreError('an unplaced agent takes no epoch');
  } else {
    assertFence({ owner, epoch: agent.epoch ?? 0 });
  }
  assertError(agent.state, agent.error);
}

export function assertError(state: AgentState, error: string | undefined): void {
  if (error === undefined) return;
  assertText('agent error', error);
  if (state !== 'failed') throw new StoreError('an agent error goes only with the state failed');
}

export function assertOptionalFence(fence: Fence | null | undefined): void {
  if (fence !== null && fence !== undefined) assertFence(fence);
}

export function assertAssignOptions(opts: AssignAgentOptions | undefined): void {
  if (opts?.resetState !== undefined && typeof opts.resetState !== 'boolean') {
    throw new StoreError(`resetState must be a boolean (got ${JSON.stringify(opts.resetState)})`);
  }
}

export function assertMessage(message: MailboxMessage): void {
  assertSafeName('message id', message.messageId);
  if (!(MESSAGE_KINDS as readonly string[]).includes(message.kind)) {
    throw new StoreError(`message kind must be one of ${MESSAGE_KINDS.join(', ')} (got ${JSON.stringify(message.kind)})`);
  }
  assertText('message from', message.from);
  if (message.from === '') throw new StoreError('message from must not be empty');
  assertText('message body', message.body);
  if (message.replyTo !== undefined) assertSafeName('message replyTo', message.replyTo);
  if (message.traceparent !== undefined) assertText('message traceparent', message.traceparent);
  if (message.deadlineMs !== undefined && !Number.isSafeInteger(message.deadlineMs)) {
    throw new StoreError('message deadlineMs must be an integer (epoch ms)');
  }
  if (message.topic !== undefined) assertSafeName('message topic', message.topic);
}

export function assertTurnCommit(commit: TurnCommit): void {
  assertStreamId('entry id', commit.entryId);
  if (commit.state !== undefined) assertText('agent state (JSON text)', commit.state);
  if (commit.reply !== undefined) {
    assertSafeName('reply inbox', commit.reply.inbox);
    assertText('reply ref', commit.reply.ref);
    assertText('reply body', commit.reply.body);
  }
}

export function assertInboxEntry(inbox: string, entry: Omit<InboxEntry, 'entryId'>): void {
  assertSafeName('inbox', inbox);
  if (!(INBOX_ENTRY_KINDS as readonly string[]).includes(entry.kind)) {
    throw new StoreError(`inbox entry kind must be one of ${INBOX_ENTRY_KINDS.join(', ')} (got ${JSON.stringify(entry.kind)})`);
  }
  assertText('inbox entry ref', entry.ref);
  assertText('inbox entry body', entry.body);
}

/** An inbox TTL: a positive whole number of ms (absent: no change to the expiry). */
export function assertInboxTtl(ttlMs: number | undefined): void {
  if (ttlMs === undefined) return;
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new StoreError(`inbox ttlMs must be a positive integer (got ${String(ttlMs)})`);
}

function readLimit(what: string, limit: number | undefined, max: number): number {
  if (limit === undefined) return max;
  if (!Number.isSafeInteger(limit) || limit < 0) throw new StoreError(`${what} limit must be a non-negative integer (got ${String(limit)})`);
  return Math.min(limit, max);
}

/** The limit of a mailbox read: MAILBOX_READ_MAX when absent, and never more. */
export function mailboxReadLimit(limit: number | undefined): number {
  return readLimit('mailbox read', limit, MAILBOX_READ_MAX);
}

/** The limit of an inbox read: INBOX_READ_MAX when absent, and never more. */
export function inboxReadLimit(limit: number | undefined): number {
  return readLimit('inbox read', limit, INBOX_READ_MAX);
}

export function assertBlockMs(blockMs: number): void {
  if (!Number.isSafeInteger(blockMs) || blockMs < 0) throw new StoreError(`blockMs must be a non-negative integer (got ${String(blockMs)})`);
}

export { assertStreamId };
