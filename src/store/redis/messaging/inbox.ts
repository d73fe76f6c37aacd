/**
 * Inboxes in Redis: one capped stream per container or manager (`XADD MAXLEN ~`). A read that may
 * wait (blockMs > 0) is one XREAD BLOCK on a connection of its own (blocking-pool.ts): it returns
 * at once when entries are there, as soon as one is pushed, or empty after blockMs.
 *
 * A push with `ttlMs` is XADD and PEXPIRE in one MULTI (one key, one slot). A plain XADD keeps a
 * key's TTL, so later pushes by someone who knows nothing of it leave the expiry in place.
 */
import { assertSafeName } from '../../../protocol/names.js';
import { INBOX_MAX_LENGTH, NO_ENTRY_ID, type InboxEntry, type PushInboxOptions } from '../../messaging.js';
import { StoreError } from '../../store.js';
import { assertBlockMs, assertInboxEntry, assertInboxTtl, assertStreamId, inboxReadLimit } from '../../validate-messaging.js';
import type { BlockingPool } from './blocking-pool.js';
import { decodeInboxEntry, inboxFields } from './codec.js';
import { throwFailed, type RedisContext } from './context.js';

export class RedisInboxes {
  constructor(
    private readonly ctx: RedisContext,
    private readonly blocking: BlockingPool,
  ) {}

  async push(inbox: string, entry: Omit<InboxEntry, 'entryId'>, options: PushInboxOptions = {}): Promise<string> {
    assertInboxEntry(inbox, entry);
    assertInboxTtl(options.ttlMs);
    const key = this.ctx.keys.inbox(inbox);
    const ttlMs = options.ttlMs;
    const id = await this.ctx.call('pushInbox', async () => {
      if (ttlMs === undefined) return this.ctx.redis.xadd(key, 'MAXLEN', '~', INBOX_MAX_LENGTH, '*', ...inboxFields(entry));
      const replies = await this.ctx.redis
        .multi()
        .xadd(key, 'MAXLEN', '~', INBOX_MAX_LENGTH, '*', ...inboxFields(entry))
        .pexpire(key, ttlMs)
        .exec();
      return throwFailed(replies)[0];
    });
    if (typeof id !== 'string') throw new StoreError('unexpected reply from Redis to pushInbox');
    return id;
  }

  async tail(inbox: string): Promise<string> {
    assertSafeName('inbox', inbox);
    const newest = await this.ctx.call('inboxTail', () => this.ctx.redis.xrevrange(this.ctx.keys.inbox(inbox), '+', '-', 'COUNT', 1));
    return newest[0]?.[0] ?? NO_ENTRY_ID;
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
