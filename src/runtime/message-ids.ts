import { createHash, randomUUID } from 'node:crypto';

/**
 * The id of the n-th message an agent sends while handling one mailbox entry. Deterministic, so
 * when a turn runs again (its container died before the commit) the same sends get the same ids
 * and the receivers' dedup drops them: effectively once across agents, not only within one.
 * Shaped as a UUID (version 8, "custom"), so it passes wherever a UUID is expected.
 */
export function turnMessageId(agentId: string, entryId: string, seq: number, salt = ''): string {
  const h = createHash('sha256').update(`${agentId}\n${entryId}\n${seq}\n${salt}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export function newMessageId(): string {
  return randomUUID();
}
