/**
 * The memory store's inboxes: capped streams, and reads that wait for a push. A waiting read is
 * woken by the push itself (an in-process notification), not by polling, and gives up after
 * blockMs; close() wakes every waiting read, which then fails as a closed Redis connection would.
 *
 * Expiry as Redis keeps a key's PX: an inbox pushed with `ttlMs` is gone once the clock passes its
 * deadline (it lives through its last millisecond); a push without `ttlMs` keeps the deadline.
 * An expired inbox is dropped when next touched, so it reads as empty and a push starts anew.
 */
import { assertSafeName } from '../../../protocol/names.js';
import { INBOX_MAX_LENGTH, NO_ENTRY_ID, type InboxEntry, type PushInboxOptions } from '../../messaging.js';
import { StoreUnavailableError } from '../../store.js';
import { assertBlockMs, assertInboxEntry, assertInboxTtl, assertStreamId, inboxReadLimit } from '../../validate-messaging.js';
import { MemoryStream } from '../stream.js';

type Waiter = () => void;

export class MemoryInboxes {
  private readonly inboxes = new Map<string, MemoryStream<Omit<InboxEntry, 'entryId'>>>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Inbox -> the clock's ms after which it is gone; only inboxes pushed with a ttlMs. */
  private readonly expiries = new Map<string, number>();
  private closed = false;

  constructor(private readonly clock: () => number) {}

  push(inbox: string, entry: Omit<InboxEntry, 'entryId'>, options: PushInboxOptions = {}): string {
    assertInboxEntry(inbox, entry);
    assertInboxTtl(options.ttlMs);
    const now = this.clock();
    let stream = this.live(inbox, now);
    if (!stream) this.inboxes.set(inbox, (stream = new MemoryStream()));
    // Exact where Redis trims `MAXLEN ~` (at least INBOX_MAX_LENGTH kept): within its contract.
    const id = stream.append(now, { kind: entry.kind, ref: entry.ref, body: entry.body });
    stream.capTo(INBOX_MAX_LENGTH);
    if (options.ttlMs !== undefined) this.expiries.set(inbox, now + options.ttlMs);
    for (const wake of this.waiters.get(inbox) ?? []) wake();
    return id;
  }

  async read(inbox: string, afterEntryId: string, blockMs: number, limit?: number): Promise<InboxEntry[]> {
    assertSafeName('inbox', inbox);
    assertStreamId('entry id', afterEntryId);
    assertBlockMs(blockMs);
    const count = inboxReadLimit(limit);
    if (count === 0) return [];
    const deadline = performance.now() + blockMs;
    for (;;) {
      const entries = (this.live(inbox, this.clock())?.after(afterEntryId, count) ?? []).map(({ id, value }) => ({ entryId: id, ...value }));
      const remaining = deadline - performance.now();
      if (entries.length > 0 || remaining <= 0) return entries;
      await this.waitForPush(inbox, remaining);
      if (this.closed) throw new StoreUnavailableError('the memory store was closed during a blocking read');
    }
  }

  tail(inbox: string): string {
    assertSafeName('inbox', inbox);
    return this.live(inbox, this.clock())?.lastId() ?? NO_ENTRY_ID;
  }

  close(): void {
    this.closed = true;
    for (const set of this.waiters.values()) for (const wake of set) wake();
  }

  /** The inbox's stream, unless it has expired (then it is dropped). */
  private live(inbox: string, now: number): MemoryStream<Omit<InboxEntry, 'entryId'>> | undefined {
    const expiresAtMs = this.expiries.get(inbox);
    if (expiresAtMs !== undefined && now > expiresAtMs) {
      this.expiries.delete(inbox);
      this.inboxes.delete(inbox);
    }
    return this.inboxes.get(inbox);
  }

  /** Resolves on the next push to `inbox`, on close(), or after `ms`, whichever comes first. */
  private waitForPush(inbox: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(inbox);
      if (!set) this.waiters.set(inbox, (set = new Set()));
      const waiters = set;
      const wake: Waiter = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0 && this.waiters.get(inbox) === waiters) this.waiters.delete(inbox);
        resolve();
      };
      const timer = setTimeout(wake, Math.ceil(ms));
      waiters.add(wake);
    });
  }
}
