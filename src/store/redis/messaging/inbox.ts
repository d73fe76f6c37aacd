/**
 * Inboxes in Redis: one capped stream per container or manager (`XADD MAXLEN ~`). A read that may
 * wait (blockMs > 0) is one XREAD BLOCK on a connection of its own (blocking-pool.ts): it returns
 * at once when entries are there, as soon as one is pushed, or empty after blockMs.
 */
import { assertSafeName } from '../../../protocol/names.js';
import { INBOX_MAX_LENGTH, type InboxEntry } from '../../messaging.js';
import { StoreError } from '../../store.js';
import { assertBlockMs, assertInboxEntry, assertStreamId, inboxReadLimit } from '../../validate-messaging.js';
import type { BlockingPool } from './blocking-pool.js';
import { decodeInboxEntry, inboxFields } from './codec.js';
import type { RedisContext } from './context.js';

export class RedisInboxes {
  constructor(
    private readonly ctx: RedisContext,
    private readonly blocking: BlockingPool,
  ) {}

  async push(inbox: string, entry: Omit<InboxEntry, 'entryId'>): Promise<string> {
    assertInboxEntry(inbox, entry);
    const id = await this.ctx.call('pushInbox', () =>
      this.ctx.redis.xadd(this.ctx.keys.inbox(inbox), 'MAXLEN', '~', INBOX_MAX_LENGTH, '*', ...inboxFields(entry)),
    );
    if (typeof id !== 'string') throw new StoreError('unexpected reply from Redis to pushInbox');
    return id;
  }

  async read(inbox: string, afterEntryId: string, blockMs: number, limit?: number): Promise<InboxEntry[]> {
    assertSafeName('inbox', inbox);
    assertStreamId('entry id', afterEntryId);
    assertBlockMs(blockMs);
    const count = inboxReadLimit(limit);
    if (count === 0) return [];
    const key = this.ctx.keys.inbox(inbox);
    if (blockMs === 0) {
      const entries = await this.ctx.call('readInbox', () => this.ctx.redis.xrange(key, `(${afterEntryId}`, '+', 'COUNT', count));
      return entries.map(decodeInboxEntry);
    }
    const reply = await this.ctx.call('readInbox', () =>
      this.blocking.run(blockMs, (redis) => redis.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, afterEntryId)),
    );
    // [[key, [entry, …]]], or null when the block ended with nothing.
    if (reply === null) return [];
    const [stream] = reply;
    return stream ? stream[1].map(decodeInboxEntry) : [];
  }
}
