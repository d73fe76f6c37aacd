/**
 * A test playing the container side of messaging through the store, as src/runtime does: it reads
 * its container inbox (rings), reads agents' mailboxes, and pushes ReplyBody replies to a
 * message's `replyTo`. No turns are committed, so the mailbox keeps what was accepted.
 * `registerFakeContainer` makes its container known and active, so that a leader's reconciler
 * leaves the agents placed on it where they are.
 */
import { containerInbox, type ReplyBody } from '../../src/protocol/runtime.js';
import { NO_ENTRY_ID, type ClusterStore, type InboxEntry, type MailboxEntry, type MessageStore } from '../../src/store/index.js';
import { waitFor } from './processes.js';

export class FakeRuntime {
  private inboxCursor = NO_ENTRY_ID;
  private readonly mailboxCursors = new Map<string, string>();

  constructor(
    private readonly store: MessageStore,
    readonly containerId: string,
  ) {}

  /** Inbox entries since the last call; waits up to `blockMs` for the first. */
  async inbox(blockMs = 0): Promise<InboxEntry[]> {
    const entries = await this.store.readInbox(containerInbox(this.containerId), this.inboxCursor, blockMs);
    if (entries.length > 0) this.inboxCursor = entries.at(-1)!.entryId;
    return entries;
  }

  /** The rings among the inbox entries since the last read (the control plane may add others). */
  async rings(blockMs = 0): Promise<InboxEntry[]> {
    return (await this.inbox(blockMs)).filter((e) => e.kind === 'ring');
  }

  /** The agent's next mailbox entry this runtime has not seen (waits for it). */
  async receive(agentId: string, timeoutMs = 5_000): Promise<MailboxEntry> {
    const after = this.mailboxCursors.get(agentId) ?? NO_ENTRY_ID;
    const [entry] = await waitFor(`a message for ${agentId}`, async () => {
      const entries = await this.store.readMailbox(agentId, after, 1);
      return entries.length > 0 ? entries : undefined;
    }, timeoutMs, 10);
    this.mailboxCursors.set(agentId, entry!.entryId);
    return entry!;
  }

  /** Replies to `entry` as the runtime would: `kind: 'reply'`, ref = its message id. */
  async reply(entry: MailboxEntry, body: ReplyBody): Promise<void> {
    if (entry.replyTo === undefined) throw new Error(`message ${entry.messageId} has no replyTo`);
    await this.store.pushInbox(entry.replyTo, { kind: 'reply', ref: entry.messageId, body: JSON.stringify(body) });
  }

  ok(entry: MailboxEntry, agentId: string, result: unknown): Promise<void> {
    return this.reply(entry, { ok: true, result, agent_id: agentId, container_id: this.containerId });
  }

  fail(entry: MailboxEntry, agentId: string, code: 'handler_error' | 'expired' | 'unknown_type', message: string): Promise<void> {
    return this.reply(entry, { ok: false, error: { code, message }, agent_id: agentId, container_id: this.containerId });
  }
}

/** Registers `id` as an active container serving `agentTypes`, with a lease no test outlives. */
export async function registerFakeContainer(store: ClusterStore, id: string, agentTypes: string[]): Promise<number> {
  const record = await store.registerContainer({
    name: id,
    hostAddress: '127.0.0.1',
    apiPort: 8001,
    capabilities: [],
    labels: {},
    resources: {},
    metadata: {},
    agentTypes,
    leaseIntervalMs: 1_000,
    leaseTimeoutMs: 600_000,
  });
  return record.epoch;
}
