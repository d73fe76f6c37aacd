/**
 * The memory store's message-id dedup: what the Redis store keeps as one string per (agent,
 * message id) with a PX expiry. Like those keys it outlives deleteAgent. An id is remembered until
 * the clock passes its deadline (a PX key lives through its last millisecond, as in Redis).
 */
interface Remembered {
  entryId: string;
  expiresAtMs: number;
}

export class MemoryDedup {
  /** In insertion order, which is expiry order while the clock moves forward: pruned from the front. */
  private readonly ids = new Map<string, Remembered>();

  constructor(private readonly ttlMs: number) {}

  /** The entry id remembered for this message, if it has not expired. */
  lookup(agentId: string, messageId: string, now: number): string | null {
    const key = dedupKey(agentId, messageId);
    const found = this.ids.get(key);
    if (!found) return null;
    if (now > found.expiresAtMs) {
      this.ids.delete(key);
      return null;
    }
    return found.entryId;
  }

  remember(agentId: string, messageId: string, entryId: string, now: number): void {
    this.prune(now);
    this.ids.set(dedupKey(agentId, messageId), { entryId, expiresAtMs: now + this.ttlMs });
  }

  private prune(now: number): void {
    for (const [key, { expiresAtMs }] of this.ids) {
      if (now <= expiresAtMs) return;
      this.ids.delete(key);
    }
  }
}

function dedupKey(agentId: string, messageId: string): string {
  return `${agentId}\n${messageId}`;
}
