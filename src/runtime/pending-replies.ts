/**
 * Requests this process sent and is waiting on, by message id. The inbox reader resolves them;
 * each wait is bounded by its own timeout, so an unanswered request cannot leak.
 */
import type { ReplyBody } from '../protocol/runtime.js';

interface Waiter {
  resolve(body: ReplyBody): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class PendingReplies {
  private readonly waiters = new Map<string, Waiter>();

  get size(): number {
    return this.waiters.size;
  }

  /** Registers before the request is sent, so a fast reply cannot arrive unclaimed. */
  wait(messageId: string, timeoutMs: number, onTimeout: () => Error): Promise<ReplyBody> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(messageId);
        reject(onTimeout());
      }, timeoutMs);
      this.waiters.set(messageId, { resolve, reject, timer });
    });
  }

  /** False when nobody waits (a late or duplicate reply). */
  settle(messageId: string, body: ReplyBody): boolean {
    const w = this.waiters.get(messageId);
    if (w === undefined) return false;
    this.waiters.delete(messageId);
    clearTimeout(w.timer);
    w.resolve(body);
    return true;
  }

  cancel(messageId: string): void {
    const w = this.waiters.get(messageId);
    if (w === undefined) return;
    this.waiters.delete(messageId);
    clearTimeout(w.timer);
  }

  rejectAll(err: Error): void {
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
  }
}
