/**
 * The memory store's capped event log, numbered like a Redis stream: `<ms>-<seq>`, where `ms`
 * never goes backwards even if the clock does, and `seq` counts events within one millisecond.
 */
import type { ClusterEvent } from '../../protocol/events.js';
import type { EventQuery } from '../store.js';

interface StreamId {
  ms: number;
  seq: number;
}

function parseId(id: string): StreamId {
  const [ms = '0', seq = '0'] = id.split('-');
  return { ms: Number(ms), seq: Number(seq) };
}

function isAfter(a: StreamId, b: StreamId): boolean {
  return a.ms > b.ms || (a.ms === b.ms && a.seq > b.seq);
}

export class MemoryEventLog {
  private readonly entries: { at: StreamId; event: ClusterEvent }[] = [];
  private last: StreamId = { ms: 0, seq: 0 };

  constructor(private readonly maxLength: number) {}

  /** Numbers and stores `event` (its id is replaced); drops the oldest beyond the cap. */
  append(nowMs: number, event: Omit<ClusterEvent, 'id'>): ClusterEvent {
    const at = nowMs > this.last.ms ? { ms: nowMs, seq: 0 } : { ms: this.last.ms, seq: this.last.seq + 1 };
    this.last = at;
    const stored: ClusterEvent = { id: `${at.ms}-${at.seq}`, ...event };
    this.entries.push({ at, event: stored });
    if (this.entries.length > this.maxLength) this.entries.splice(0, this.entries.length - this.maxLength);
    return structuredClone(stored);
  }

  /** The id of the newest event, or null before any. */
  lastId(): string | null {
    return this.entries.length === 0 ? null : `${this.last.ms}-${this.last.seq}`;
  }

  list(query: EventQuery): ClusterEvent[] {
    const { afterId, limit } = query;
    let selected: { event: ClusterEvent }[];
    if (afterId !== undefined) {
      const after = parseId(afterId);
      const start = this.entries.findIndex((e) => isAfter(e.at, after));
      selected = start < 0 ? [] : this.entries.slice(start, limit === undefined ? undefined : start + limit);
    } else if (limit !== undefined) {
      selected = limit === 0 ? [] : this.entries.slice(-limit);
    } else {
      selected = this.entries;
    }
    return selected.map((e) => structuredClone(e.event));
  }
}
