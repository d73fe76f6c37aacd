/**
 * Mailboxes and turns in Redis: appendMessage and commitTurn are scripts on the agent's slot
 * (scripts/append-message.ts, scripts/commit-turn.ts); reads are plain commands.
 */
import type { AppendResult, CommitResult, LastReply, MailboxEntry, MailboxMessage, TurnCommit } from '../../messaging.js';
import { StoreError, type Fence } from '../../store.js';
import { assertAgentId, assertMessage, assertStreamId, assertTurnCommit, mailboxReadLimit } from '../../validate-messaging.js';
import { assertFence } from '../../validate.js';
import { decodeLastReply, decodeMailboxEntry, messageFields } from './codec.js';
import type { RedisContext } from './context.js';

const COMMIT_FAILURES = new Set(['no_agent', 'not_owner', 'stale_epoch', 'duplicate', 'out_of_order']);

export class RedisMailboxes {
  constructor(
    private readonly ctx: RedisContext,
    private readonly dedupTtlMs: number,
  ) {}

  async append(agentId: string, message: MailboxMessage): Promise<AppendResult> {
    assertAgentId('agent id', agentId);
    assertMessage(message);
    const k = this.ctx.keys;
    const reply = await this.ctx.script(
      'appendMessage',
      [k.agent(agentId), k.dedup(agentId, message.messageId), k.mailbox(agentId)],
      [this.dedupTtlMs, ...messageFields(message)],
    );
    const [status, entryId, owner] = Array.isArray(reply) ? (reply as unknown[]) : [];
    if (status === 'no_agent') return { ok: false, reason: 'no_agent' };
    if ((status === 'ok' || status === 'duplicate') && typeof entryId === 'string' && typeof owner === 'string') {
      return { ok: true, entryId, duplicate: status === 'duplicate', owner: owner === '' ? null : owner };
    }
    throw new StoreError('unexpected reply from Redis to appendMessage');
  }

  async read(agentId: string, afterEntryId: string, limit?: number): Promise<MailboxEntry[]> {
    assertAgentId('agent id', agentId);
    assertStreamId('entry id', afterEntryId);
    const count = mailboxReadLimit(limit);
    if (count === 0) return [];
    const entries = await this.ctx.call('readMailbox', () => this.ctx.redis.xrange(this.ctx.keys.mailbox(agentId), `(${afterEntryId}`, '+', 'COUNT', count));
    return entries.map(decodeMailboxEntry);
  }

  /**
   * XLEN is exact: commitTurn trims every entry at or below the watermark, and new entries always
   * get ids above the stream's last id (kept even when the stream is empty), so what is left is
   * exactly the unhandled entries.
   */
  async depth(agentId: string): Promise<number> {
    assertAgentId('agent id', agentId);
    return this.ctx.call('mailboxDepth', () => this.ctx.redis.xlen(this.ctx.keys.mailbox(agentId)));
  }

  async loadState(agentId: string): Promise<string | null> {
    assertAgentId('agent id', agentId);
    return this.ctx.call('loadAgentState', () => this.ctx.redis.get(this.ctx.keys.agentState(agentId)));
  }

  async commit(agentId: string, fence: Fence, commit: TurnCommit): Promise<CommitResult> {
    assertAgentId('agent id', agentId);
    assertFence(fence);
    assertTurnCommit(commit);
    const k = this.ctx.keys;
    const { state, reply } = commit;
    const result = await this.ctx.script(
      'commitTurn',
      [k.agent(agentId), k.agentState(agentId), k.mailbox(agentId), k.lastReply(agentId)],
      [
        fence.owner,
        fence.epoch,
        commit.entryId,
        state === undefined ? '0' : '1',
        state ?? '',
        reply === undefined ? '0' : '1',
        reply?.inbox ?? '',
        reply?.ref ?? '',
        reply?.body ?? '',
      ],
    );
    if (result === 'ok') return { ok: true };
    if (typeof result === 'string' && COMMIT_FAILURES.has(result)) return { ok: false, reason: result as Exclude<CommitResult, { ok: true }>['reason'] };
    throw new StoreError('unexpected reply from Redis to commitTurn');
  }

  async lastReply(agentId: string): Promise<LastReply | null> {
    assertAgentId('agent id', agentId);
    const hash = await this.ctx.call('lastReply', () => this.ctx.redis.hgetall(this.ctx.keys.lastReply(agentId)));
    return decodeLastReply(hash, agentId);
  }
}
