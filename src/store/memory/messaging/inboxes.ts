/**
 * The memory store's inboxes: capped streams, and reads that wait for a push. A waiting read is
 * woken by the push itself (an in-process notification), not by polling, and gives up after
 * blockMs; close() wakes every waiting read, which then fails as a closed Redis connection would.
 */
import { assertSafeName } from '../../../protocol/names.js';
import { INBOX_MAX_LENGTH, type InboxEntry } from '../../messaging.js';
import { StoreUnavailableError } from '../../store.js';
import { assertBlockMs, assertInboxEntry, assertStreamId, inboxReadLimit } from '../../validate-messaging.js';
import { MemoryStream } from '../stream.js';

type Waiter = () => void;

export class MemoryInboxes {
  private readonly inboxes = new Map<string, MemoryStream<Omit<InboxEntry, 'entryId'>>>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private closed = false;

  constructor(private readonly clock: () => number) {}

  push(inbox: string, entry: Omit<InboxEntry, 'entryId'>): string {
    assertInboxEntry(inbox, entry);
    let stream = this.inboxes.get(inbox);
    if (!stream) this.inboxes.set(inbox, (stream = new MemoryStream()));
    // Exact where Redis trims `MAXLEN ~` (at least INBOX_MAX_LENGTH kept): within its contract.
    const id = stream.append(this.clock(), { kind: entry.kind, ref: entry.ref, body: entry.body });
    stream.capTo(INBOX_MAX_LENGTH);
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
      const entries = (this.inboxes.get(inbox)?.after(afterEntryId, count) ?? []).map(({ id, value }) => ({ entryId: id, ...value }));
      const remaining = deadline - performance.now();
      if (entries.length > 0 || remaining <= 0) return entries;
      await this.waitForPush(inbox, remaining);
      if (this.closed) throw new StoreUnavailableError('the memory store was closed during a blocking read');
    }
  }

  close(): void {
    this.closed = true;
    for (const set of this.waiters.values()) for (const wake of set) wake();
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
