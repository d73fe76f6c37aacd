/**
 * An in-memory log numbered like a Redis stream: ids `<ms>-<seq>`, where `ms` is the clock's and
 * never goes backwards (even if the clock does) and `seq` counts entries within one millisecond.
 * The last id outlives trimming, as a Redis stream's does, so ids never repeat while it exists.
 */
import { compareStreamIds } from '../stream-id.js';

export interface StreamItem<T> {
  id: string;
  value: T;
}

export class MemoryStream<T> {
  private items: StreamItem<T>[] = [];
  private lastMs = 0;
  private lastSeq = 0;

  /** The newest id ever given (kept after trimming), or '0-0' for a stream never appended to. */
  lastId(): string {
    return `${this.lastMs}-${this.lastSeq}`;
  }

  get length(): number {
    return this.items.length;
  }

  /** Stores `value` under the next id, and returns that id. */
  append(nowMs: number, value: T): string {
    if (nowMs > this.lastMs) {
      this.lastMs = nowMs;
      this.lastSeq = 0;
    } else {
      this.lastSeq += 1;
    }
    const id = `${this.lastMs}-${this.lastSeq}`;
    this.items.push({ id, value });
    return id;
  }

  /** The entries strictly after `afterId`, oldest first, at most `limit`. */
  after(afterId: string, limit: number): StreamItem<T>[] {
    const start = this.firstAfter(afterId);
    return this.items.slice(start, start + limit);
  }

  /** The entries strictly before `beforeId` (all, when null), newest first, at most `limit`. */
  before(beforeId: string | null, limit: number): StreamItem<T>[] {
    const end = beforeId === null ? this.items.length : this.firstAtOrAfter(beforeId);
    return this.items.slice(Math.max(0, end - limit), end).reverse();
  }

  /** Drops the entries at or before `id` (XTRIM MINID to the id after it). */
  dropThrough(id: string): void {
    const keep = this.firstAfter(id);
    if (keep > 0) this.items = this.items.slice(keep);
  }

  /** Keeps the newest `maxLength` entries. */
  capTo(maxLength: number): void {
    if (this.items.length > maxLength) this.items = this.items.slice(this.items.length - maxLength);
  }

  private firstAtOrAfter(id: string): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareStreamIds(this.items[mid]!.id, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first entry with an id after `id` (binary search: ids increase). */
  private firstAfter(id: string): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareStreamIds(this.items[mid]!.id, id) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
