/**
 * The data plane's part of the store: agents (desired state and placement), their durable
 * mailboxes, their state, and fenced turns. Implemented by both stores; the messaging contract
 * suite runs against both.
 *
 * Mechanism (see docs/architecture.md, "Messaging"):
 * - Every agent has a mailbox: an append-only log (a Redis stream) of entries with increasing ids.
 *   A message is *accepted* once appended. Appends are deduplicated by the message's UUID for
 *   `MESSAGE_DEDUP_TTL_MS`, so a client retrying the same message does not enqueue it twice.
 * - The agent's runtime reads entries after its **watermark** (`lastHandled`), one at a time, and
 *   commits each turn with `commitTurn`: in one atomic step it checks the fence (owner container and
 *   epoch), checks the entry is the next unhandled one, writes the new state, advances the
 *   watermark, remembers the reply, and trims handled entries. A redelivered entry (at or below the
 *   watermark) is refused as `duplicate`, so it has no second effect: effectively once for state.
 *   No consumer groups: the watermark is committed with the state, so a new owner needs no claim
 *   step — it reads after the watermark.
 * - Ownership is a fence `{owner, epoch}` on the agent; the control plane moves an agent by
 *   assigning a new fence, after which the old owner's commits are refused.
 * - Replies and doorbells go to a per-container (or per-manager) **inbox** stream, so a
 *   container blocks on one key, not on thousands of mailboxes.
 *
 * Where: Redis keeps each agent's keys under one hash tag `{a:<id>}` and runs each change as one
 * script there (redis/keys.ts, redis/scripts/, redis/messaging/); the indexes of agents in `{c}`
 * are derived and repairable. The memory store (memory/messaging/) does the same checks in the
 * same order, synchronously. Both: test/contract/messaging-contract.ts.
 *
 * Refinements made while implementing it (the reasons are on the members):
 * - `createAgent` takes a `NewAgent`: the store stamps the times (its clock, as everywhere) and
 *   starts the watermark at '0-0' and `turns` at 0.
 * - A turn's reply carries its routing (`TurnReply`: inbox, ref, body), because commitTurn trims
 *   the handled entry: after a crash the new owner could not otherwise tell where the remembered
 *   reply goes.
 * - Entry ids are canonical `<ms>-<seq>` (no leading zeros); anything else is a StoreError.
 * - `error` is kept only while the agent is `failed`; any other state clears it.
 * - `assignAgent` can reset the agent's state (`resetState`, for a migrate without state) in the
 *   step that moves the fence: a separate delete could race the old owner's last commit.
 * - Deleting an agent does not remove its topic subscriptions (other slots) nor its dedup keys
 *   (they expire): a publisher that meets `no_agent` unsubscribes it.
 */
import type { Fence } from './store.js';

/** How long a message id is remembered for dedup (the stores take a shorter one for tests). */
export const MESSAGE_DEDUP_TTL_MS = 24 * 60 * 60 * 1_000;
/** An inbox keeps at least, and about, this many entries (replies not read by then are dropped). */
export const INBOX_MAX_LENGTH = 10_000;
/** Upper bound on one mailbox read, and its default. */
export const MAILBOX_READ_MAX = 100;
/** Upper bound on one inbox read, and its default. */
export const INBOX_READ_MAX = 1_000;
/** The watermark of an agent that has committed no turn yet. */
export const NO_ENTRY_ID = '0-0';

export const AGENT_STATES = ['pending', 'placing', 'activating', 'active', 'migrating', 'draining', 'stopped', 'failed'] as const;
export const MESSAGE_KINDS = ['request', 'tell', 'topic'] as const;
export const INBOX_ENTRY_KINDS = ['reply', 'ring', 'control'] as const;

export type AgentState = (typeof AGENT_STATES)[number];

export interface PlacementSpec {
  strategy: string;
  constraints: { labels?: string[]; capabilities?: string[]; min_resources?: Record<string, number> };
  preferredContainer?: string;
  resourceRequirements?: Record<string, number>;
}

export interface AgentRecord {
  /** `type/name`, e.g. `reviewer/alice`; both parts are safe names. */
  id: string;
  type: string;
  name: string;
  config: Record<string, unknown>;
  placement: PlacementSpec;
  state: AgentState;
  /** Owner container and its epoch at assignment; null while unplaced. */
  containerId: string | null;
  epoch: number;
  /** Id of the last mailbox entry whose turn was committed ('0-0' before any). */
  lastHandled: string;
  turns: number;
  createdAtMs: number;
  updatedAtMs: number;
  /** Why the agent is `failed`, if it is. */
  error?: string;
}

/**
 * What `createAgent` takes. The store fills in the rest: `createdAtMs`/`updatedAtMs` from its
 * clock, `lastHandled` '0-0', `turns` 0. `containerId`/`epoch` place it at once (both or neither).
 */
export interface NewAgent {
  id: string;
  type: string;
  name: string;
  config: Record<string, unknown>;
  placement: PlacementSpec;
  state: AgentState;
  containerId?: string | null;
  epoch?: number;
  error?: string;
}

export type MessageKind = (typeof MESSAGE_KINDS)[number];

export interface MailboxMessage {
  /** UUID chosen by the sender; the dedup key. */
  messageId: string;
  kind: MessageKind;
  /** Sender: an agent id, `api`, or `topic:<name>`. */
  from: string;
  /** Where the reply goes: an inbox name (container or manager id); absent for tell/topic. */
  replyTo?: string;
  /** JSON text of the message body. */
  body: string;
  /** W3C traceparent, carried across hosts. */
  traceparent?: string;
  /** Epoch ms after which the sender no longer waits for a reply. */
  deadlineMs?: number;
  topic?: string;
}

export interface MailboxEntry extends MailboxMessage {
  /** The log's id for this entry (increasing within a mailbox). */
  entryId: string;
  acceptedAtMs: number;
}

/**
 * `owner`: the agent's owner container when the message was appended (null while unplaced), read
 * in the same atomic step, so a sender rings it without another round trip. A move right after
 * is harmless: the old owner forwards the ring, and the new one reads the mailbox on activation.
 */
export type AppendResult = { ok: true; entryId: string; duplicate: boolean; owner: string | null } | { ok: false; reason: 'no_agent' };

/**
 * A turn's reply with its routing. The store keeps it with the commit; delivering it (pushInbox)
 * is the runtime's next step, and `lastReply` lets a new owner redeliver it after a crash.
 */
export interface TurnReply {
  /** The inbox to deliver to: the request's `replyTo`. */
  inbox: string;
  /** The request's message id (`InboxEntry.ref`). */
  ref: string;
  /** JSON text (`InboxEntry.body`). */
  body: string;
}

export interface TurnCommit {
  entryId: string;
  /** New agent state (JSON text); undefined leaves it unchanged. */
  state?: string;
  /** The reply to remember; undefined forgets the previous turn's. */
  reply?: TurnReply;
}

export interface LastReply extends TurnReply {
  /** The mailbox entry whose turn produced it. */
  entryId: string;
}

export type CommitResult = { ok: true } | { ok: false; reason: 'no_agent' | 'not_owner' | 'stale_epoch' | 'duplicate' | 'out_of_order' };

export type InboxEntryKind = (typeof INBOX_ENTRY_KINDS)[number];

/** Options of `pushInbox`. */
export interface PushInboxOptions {
  /**
   * The inbox, with everything in it, expires this many ms after this push (the store's clock).
   * A later push without `ttlMs` keeps that expiry (as XADD keeps a key's TTL); a later one with
   * `ttlMs` replaces it. Without it, an existing expiry is kept and a new inbox never expires.
   * For inboxes nobody reads for ever, e.g. the manager's per-message reply inboxes: the one who
   * creates the inbox sets the TTL, and whoever pushes to it later (a runtime) need not know.
   */
  ttlMs?: number;
}

/** Options of `assignAgent`. */
export interface AssignAgentOptions {
  /** Also delete the agent's state and last reply, in the same step as the fence change. */
  resetState?: boolean;
}

export interface InboxEntry {
  entryId: string;
  kind: InboxEntryKind;
  /** For replies: the request's message id. For rings: the agent id whose mailbox has mail. */
  ref: string;
  /** JSON text. */
  body: string;
}

export interface MessageStore {
  // --- agents (desired state) -----------------------------------------------------------
  /** Creates the record; false when an agent with this id already exists. */
  createAgent(agent: NewAgent): Promise<boolean>;
  getAgent(id: string): Promise<AgentRecord | null>;
  /** Every agent, sorted by id. */
  listAgents(): Promise<AgentRecord[]>;
  /**
   * The first `limit` agents by id, reading only those (a list page, without reading every agent),
   * and how many agents there are (the index's count: exact unless a crash left an index entry
   * that a retry has yet to repair).
   */
  listAgentsPage(limit: number): Promise<{ agents: AgentRecord[]; total: number }>;
  /** Agent ids whose owner is `containerId`, sorted. */
  listAgentsOn(containerId: string): Promise<string[]>;
  /**
   * A counter that goes up whenever an agent's fence moves onto or off `containerId` (created
   * there, assigned to or from it, re-fenced there with a new epoch, deleted while there); 0 if
   * never. One cheap read, so a container can skip its ownership sweep (listAgentsOn, which costs
   * in proportion to the agents it hosts) while nothing changed.
   */
  agentsOnVersion(containerId: string): Promise<number>;
  /**
   * Sets the fence (owner + epoch) and state together; null owner unplaces it. With
   * `resetState`, the same atomic step also deletes the agent's state and its last reply, so the
   * next owner starts fresh (its type's `init` runs again) and the old owner, whose commits the new
   * fence refuses, can never write state after the reset. The mailbox, the watermark and `turns`
   * are kept: every accepted, unhandled message is still handled, once.
   */
  assignAgent(id: string, owner: Fence | null, state: AgentState, opts?: AssignAgentOptions): Promise<AgentRecord | null>;
  /**
   * Lifecycle changes that do not move the agent (e.g. active → failed). Fenced when `fence` is
   * given. `error` only with `failed`. False when the agent is unknown or the fence does not match.
   */
  setAgentState(id: string, state: AgentState, opts?: { fence?: Fence; error?: string }): Promise<boolean>;
  /** Removes the agent, its mailbox, its state and its last reply; false when it did not exist. */
  deleteAgent(id: string): Promise<boolean>;

  // --- mailboxes --------------------------------------------------------------------------
  /**
   * Appends to the agent's mailbox, stamped with the store's clock. The same `messageId` within
   * the dedup TTL appends nothing and returns the first entry's id with `duplicate: true`.
   */
  appendMessage(agentId: string, message: MailboxMessage): Promise<AppendResult>;
  /** Entries strictly after `afterEntryId`, oldest first, at most `limit` (≤ MAILBOX_READ_MAX). */
  readMailbox(agentId: string, afterEntryId: string, limit?: number): Promise<MailboxEntry[]>;
  /** Unhandled entries (after the watermark). */
  mailboxDepth(agentId: string): Promise<number>;

  // --- turns --------------------------------------------------------------------------------
  loadAgentState(agentId: string): Promise<string | null>;
  /** The atomic, fenced end of a turn (see the module comment). */
  commitTurn(agentId: string, fence: Fence, commit: TurnCommit): Promise<CommitResult>;
  /** The remembered reply of the last committed turn, for redelivering it after a crash. */
  lastReply(agentId: string): Promise<LastReply | null>;

  // --- topics -------------------------------------------------------------------------------
  subscribe(topic: string, agentId: string): Promise<void>;
  unsubscribe(topic: string, agentId: string): Promise<void>;
  subscribers(topic: string): Promise<string[]>;

  // --- inboxes (replies and doorbells) --------------------------------------------------------
  /**
   * Appends to the capped inbox (`INBOX_MAX_LENGTH`); returns the entry id. With `ttlMs`, the
   * inbox expires that long after this push (see PushInboxOptions); the push and the expiry are
   * one atomic step. An expired inbox reads as empty, and a push to it starts a new one.
   */
  pushInbox(inbox: string, entry: Omit<InboxEntry, 'entryId'>, options?: PushInboxOptions): Promise<string>;
  /**
   * Entries after `afterEntryId`, oldest first, at most `limit` (≤ INBOX_READ_MAX); when there
   * are none, waits up to `blockMs` for one (0: do not wait). A wait never delays other calls.
   */
  readInbox(inbox: string, afterEntryId: string, blockMs: number, limit?: number): Promise<InboxEntry[]>;
  /** The newest entry id of the inbox (NO_ENTRY_ID when it is empty or gone): where a reader that wants only new entries starts. */
  inboxTail(inbox: string): Promise<string>;
}
