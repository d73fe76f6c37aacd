/**
 * The memory store's mailboxes and turns: the same checks, in the same order, as the Redis
 * scripts append-message.ts and commit-turn.ts, each done synchronously (so as atomic as they are).
 */
import type { AppendResult, CommitResult, LastReply, MailboxEntry, MailboxMessage, TurnCommit } from '../../messaging.js';
import type { Fence } from '../../store.js';
import { compareStreamIds } from '../../stream-id.js';
import { assertAgentId, assertMessage, assertStreamId, assertTurnCommit, mailboxReadLimit } from '../../validate-messaging.js';
import { assertFence } from '../../validate.js';
import type { MemoryAgents } from './agents.js';
import type { MemoryDedup } from './dedup.js';

export class MemoryMailboxes {
  constructor(
    private readonly agents: MemoryAgents,
    private readonly dedup: MemoryDedup,
    private readonly clock: () => number,
  ) {}

  append(agentId: string, message: MailboxMessage): AppendResult {
    assertAgentId('agent id', agentId);
    assertMessage(message);
    const slot = this.agents.slot(agentId);
    if (!slot) return { ok: false, reason: 'no_agent' };
    const now = this.clock();
    const first = this.dedup.lookup(agentId, message.messageId, now);
    const owner = slot.record.containerId;
    if (first !== null) return { ok: true, entryId: first, duplicate: true, owner };
    const entryId = slot.mailbox.append(now, { ...storedFields(message), acceptedAtMs: now });
    this.dedup.remember(agentId, message.messageId, entryId, now);
    return { ok: true, entryId, duplicate: false, owner };
  }

  read(agentId: string, afterEntryId: string, limit?: number): MailboxEntry[] {
    assertAgentId('agent id', agentId);
    assertStreamId('entry id', afterEntryId);
    const count = mailboxReadLimit(limit);
    const slot = this.agents.slot(agentId);
    if (!slot || count === 0) return [];
    return slot.mailbox.after(afterEntryId, count).map(({ id, value }) => ({ entryId: id, ...value }));
  }

  depth(agentId: string): number {
    assertAgentId('agent id', agentId);
    return this.agents.slot(agentId)?.mailbox.length ?? 0;
  }

  loadState(agentId: string): string | null {
    assertAgentId('agent id', agentId);
    return this.agents.slot(agentId)?.state ?? null;
  }

  commit(agentId: string, fence: Fence, commit: TurnCommit): CommitResult {
    assertAgentId('agent id', agentId);
    assertFence(fence);
    assertTurnCommit(commit);
    const slot = this.agents.slot(agentId);
    if (!slot) return { ok: false, reason: 'no_agent' };
    const record = slot.record;
    if ((record.containerId ?? '') !== fence.owner) return { ok: false, reason: 'not_owner' };
    if (record.epoch !== fence.epoch) return { ok: false, reason: 'stale_epoch' };
    if (compareStreamIds(commit.entryId, record.lastHandled) <= 0) return { ok: false, reason: 'duplicate' };
    const [next] = slot.mailbox.after(record.lastHandled, 1);
    if (next?.id !== commit.entryId) return { ok: false, reason: 'out_of_order' };
    if (commit.state !== undefined) slot.state = commit.state;
    record.lastHandled = commit.entryId;
    record.updatedAtMs = this.clock();
    record.turns += 1;
    slot.reply = commit.reply ? { entryId: commit.entryId, inbox: commit.reply.inbox, ref: commit.reply.ref, body: commit.reply.body } : null;
    slot.mailbox.dropThrough(commit.entryId);
    return { ok: true };
  }

  lastReply(agentId: string): LastReply | null {
    assertAgentId('agent id', agentId);
    const reply = this.agents.slot(agentId)?.reply;
    return reply ? { ...reply } : null;
  }
}

/** The fields a Redis stream entry would hold: absent ones stay absent. */
function storedFields(message: MailboxMessage): Omit<MailboxEntry, 'entryId' | 'acceptedAtMs'> {
  const entry: Omit<MailboxEntry, 'entryId' | 'acceptedAtMs'> = {
    messageId: message.messageId,
    kind: message.kind,
    from: message.from,
    body: message.body,
  };
  if (message.replyTo !== undefined) entry.replyTo = message.replyTo;
  if (message.traceparent !== undefined) entry.traceparent = message.traceparent;
  if (message.deadlineMs !== undefined) entry.deadlineMs = message.deadlineMs;
  if (message.topic !== undefined) entry.topic = message.topic;
  return entry;
}
