/**
 * Replies to the messages this manager sends with `wait: true`. ONE background reader per manager
 * blocks on the manager's own inbox (`managerInbox(id)`, blocks of `blockMs`) and hands each reply
 * to the request waiting for it, by `ref` (the message id). A request registers before it appends
 * its message, so a fast reply cannot arrive unclaimed.
 *
 * A wait ends with the reply, or on its timeout, or when the HTTP client goes away, or on shutdown.
 * When it ends without the reply, the reply is not lost: the id is remembered for a while as
 * "late", and a late reply is forwarded (`forward`) to the message's own reply inbox, where
 * `GET …/messages/{id}` on any manager finds it.
 *
 * The inbox is this process's alone (manager ids are unique per process), so it must not outlive
 * it: the reader's first push sets its expiry (`inboxTtlMs`) and a keep-alive push renews it every
 * quarter of that; a dead manager's inbox disappears on its own.
 *
 * Started lazily (`start()`, by the first waiting request): a manager that never waits holds no
 * blocking Redis connection. `stop()` ends every wait (`shutdown`) and the loop.
 */
import { backoffDelay, sleep } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import type { InboxEntry, MessageStore } from '../store/messaging.js';

/** One blocking read of the inbox waits at most this long, so the loop notices `stop()`. */
export const REPLY_READ_BLOCK_MS = 1_000;
/** A manager's inbox lives this long after its last keep-alive (renewed every quarter of it). */
export const MANAGER_INBOX_TTL_MS = 60 * 60 * 1_000;
/** Ids whose waits ended without a reply, kept for forwarding a late one (oldest dropped first). */
export const LATE_REPLIES_MAX = 10_000;
/** Backoff of the loop while the store fails: from this… */
const READ_RETRY_INITIAL_MS = 100;
/** …to this. */
const READ_RETRY_MAX_MS = 2_000;
/** How long stop() waits for the loop past its block (a Redis that does not answer). */
const STOP_GRACE_MS = 2_000;

/** start() after stop(): the manager is shutting down, nothing was sent. */
export class ReplyReaderStoppedError extends Error {
  override readonly name = 'ReplyReaderStoppedError';
  constructor() {
    super('the reply reader is stopped: this manager is shutting down');
  }
}

export type WaitResult =
  | { outcome: 'reply'; body: string }
  /** No reply in time; it will be forwarded if it comes. */
  | { outcome: 'timeout' }
  /** The caller gave up (its HTTP client went away); as a timeout. */
  | { outcome: 'aborted' }
  /** The manager is stopping: this reader will not see the reply. */
  | { outcome: 'shutdown' };

export interface PendingReply {
  readonly result: Promise<WaitResult>;
  /** Stops waiting without marking the id late (the message was not sent, or is a duplicate). */
  cancel(): void;
}

export interface ReplyReaderOptions {
  store: MessageStore;
  /** This manager's inbox (`managerInbox(managerId)`). */
  inbox: string;
  log: Logger;
  /** Called with a reply whose wait had ended; must not throw (errors are logged). */
  forward: (ref: string, body: string) => Promise<void>;
  /** How long a late reply is still forwarded after its wait ended. */
  lateWindowMs: number;
  blockMs?: number;
  inboxTtlMs?: number;
}

interface Waiter {
  settle(result: WaitResult): void;
}

export class ReplyReader {
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** ref -> local ms until which a late reply is forwarded; insertion order = age. */
  private readonly late = new Map<string, number>();
  private readonly blockMs: number;
  private readonly inboxTtlMs: number;
  private readonly stopSignal = new AbortController();
  private starting: Promise<void> | null = null;
  private loop: Promise<void> | null = null;
  private cursor = '0-0';
  private keptAliveAtMs = 0;

  constructor(private readonly o: ReplyReaderOptions) {
    this.blockMs = o.blockMs ?? REPLY_READ_BLOCK_MS;
    this.inboxTtlMs = o.inboxTtlMs ?? MANAGER_INBOX_TTL_MS;
  }

  /** Requests waiting now (for tests and metrics). */
  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  /**
   * Starts the reader (once; a failed start is tried again by the next call). Resolves when the
   * inbox exists with its expiry and the reader's position is fixed, so await it before sending.
   */
  start(): Promise<void> {
    if (this.stopSignal.signal.aborted) return Promise.reject(new ReplyReaderStoppedError());
    this.starting ??= (async () => {
      // Every reply to a message sent after this comes after this entry.
      this.cursor = await this.keepAlive();
      this.loop = this.run();
    })().catch((err: unknown) => {
      this.starting = null;
      throw err;
    });
    return this.starting;
  }

  /** Waits for the reply to `ref` for at most `timeoutMs`; `signal` ends the wait early. */
  wait(ref: string, timeoutMs: number, signal?: AbortSignal): PendingReply {
    let settle!: (result: WaitResult) => void;
    const result = new Promise<WaitResult>((resolve) => (settle = resolve));
    let set = this.waiters.get(ref);
    if (!set) this.waiters.set(ref, (set = new Set()));
    const waiters = set;
    const end = (outcome: WaitResult, markLate: boolean): void => {
      if (!waiters.delete(waiter)) return;
      if (waiters.size === 0 && this.waiters.get(ref) === waiters) this.waiters.delete(ref);
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (markLate && !this.waiters.has(ref)) this.markLate(ref);
      settle(outcome);
    };
    const waiter: Waiter = { settle: (outcome) => end(outcome, false) };
    const onAbort = (): void => end({ outcome: 'aborted' }, true);
    const timer = setTimeout(() => end({ outcome: 'timeout' }, true), timeoutMs);
    waiters.add(waiter);
    if (this.stopSignal.signal.aborted) end({ outcome: 'shutdown' }, false);
    else if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    return { result, cancel: () => end({ outcome: 'aborted' }, false) };
  }

  /** How many requests of this manager wait for `ref`. */
  waitersFor(ref: string): number {
    return this.waiters.get(ref)?.size ?? 0;
  }

  /** Ends every wait (`shutdown`) and the loop; resolves when the loop has ended (bounded). */
  async stop(): Promise<void> {
    if (this.stopSignal.signal.aborted) return;
    this.stopSignal.abort();
    for (const set of [...this.waiters.values()]) for (const waiter of [...set]) waiter.settle({ outcome: 'shutdown' });
    const loop = this.loop;
    if (loop === null) return;
    // Wake our own blocked read rather than wait out its block.
    const wake = this.o.store.pushInbox(this.o.inbox, { kind: 'control', ref: 'wake', body: '{}' }).catch(() => undefined);
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([wake, loop]), new Promise((resolve) => (bound = setTimeout(resolve, this.blockMs + STOP_GRACE_MS)))]);
    clearTimeout(bound);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopSignal.signal.aborted) {
      try {
        if (Date.now() - this.keptAliveAtMs >= this.inboxTtlMs / 4) await this.keepAlive();
        const entries = await this.o.store.readInbox(this.o.inbox, this.cursor, this.blockMs);
        if (failures > 0) this.o.log.info({ inbox: this.o.inbox }, 'reply reader reads again');
        failures = 0;
        for (const entry of entries) {
          this.cursor = entry.entryId;
          this.dispatch(entry);
        }
      } catch (err) {
        if (this.stopSignal.signal.aborted) break;
        failures += 1;
        if (failures === 1) this.o.log.warn({ err, inbox: this.o.inbox }, 'reply reader cannot read its inbox; retrying');
        await sleep(backoffDelay(failures - 1, READ_RETRY_INITIAL_MS, READ_RETRY_MAX_MS), this.stopSignal.signal);
      }
    }
  }

  private dispatch(entry: InboxEntry): void {
    if (entry.kind !== 'reply') return; // our own keep-alive and wake entries
    const set = this.waiters.get(entry.ref);
    if (set !== undefined) {
      for (const waiter of [...set]) waiter.settle({ outcome: 'reply', body: entry.body });
      return;
    }
    const until = this.late.get(entry.ref);
    if (until === undefined) return; // a redelivered reply, already handed over
    this.late.delete(entry.ref);
    if (Date.now() > until) return;
    this.o.forward(entry.ref, entry.body).catch((err: unknown) => this.o.log.warn({ err, messageId: entry.ref }, 'could not forward a late reply'));
  }

  private markLate(ref: string): void {
    this.late.delete(ref);
    this.late.set(ref, Date.now() + this.o.lateWindowMs);
    if (this.late.size > LATE_REPLIES_MAX) {
      const oldest = this.late.keys().next();
      if (oldest.done !== true) this.late.delete(oldest.value);
    }
  }

  /** Pushes a keep-alive entry that (re)sets the inbox's expiry; returns its id. */
  private async keepAlive(): Promise<string> {
    const id = await this.o.store.pushInbox(this.o.inbox, { kind: 'control', ref: 'keepalive', body: '{}' }, { ttlMs: this.inboxTtlMs });
    this.keptAliveAtMs = Date.now();
    return id;
  }
}
