/**
 * The agents' side of a container: hosts the agents fenced to this container's current epoch,
 * reads the container's inbox (rings, replies, control), and gives turns their `send`/`publish`.
 *
 * The agent records are the truth; control entries and rings are hints. A periodic sweep compares
 * what this container hosts with what the store says it owns, so a lost hint only delays. The
 * comparison costs in proportion to the agents owned, so it runs only when the store's
 * agentsOnVersion moved, something here failed, or FULL_SWEEP_INTERVAL_MS passed: an idle
 * container with 100,000 agents does one GET per SWEEP_INTERVAL_MS.
 */
import { NO_TRACING, type Tracing } from '../observability/tracing.js';
import type { Logger } from '../common/logger.js';
import { PeriodicTask } from '../common/loop.js';
import { sleep } from '../common/backoff.js';
import { containerInbox, DEFAULT_SEND_TIMEOUT_MS, RING_BODY, type ControlBody, type ReplyBody } from '../protocol/runtime.js';
import { AgentCallError, SendTimeoutError } from '../sdk/errors.js';
import type { InboxEntry, MailboxEntry, MessageStore, TurnReply } from '../store/messaging.js';
import { NO_ENTRY_ID } from '../store/messaging.js';
import type { Fence } from '../store/store.js';
import { HostedAgent, type TurnServices } from './hosted-agent.js';
import { turnMessageId } from './message-ids.js';
import { PendingReplies } from './pending-replies.js';
import type { AgentTypeRegistry } from './registry.js';

/** How long one blocking inbox read waits; also the longest a stop waits for the reader. */
export const INBOX_BLOCK_MS = 1_000;
/** How often the store's view of who owns what is checked for changes (one cheap read). */
export const SWEEP_INTERVAL_MS = 2_000;
/** The longest time between two full comparisons when nothing seems to change. */
export const FULL_SWEEP_INTERVAL_MS = 60_000;
/** A full comparison waits at least this many times as long as its last listing took. */
export const SWEEP_COST_RATIO = 10;
/** Pause after a failed inbox read before the next (the store is down). */
export const INBOX_RETRY_MS = 500;

export type RuntimeState = 'stopped' | 'running' | 'paused';

export interface AgentRuntimeOptions {
  store: MessageStore;
  containerId: string;
  registry: AgentTypeRegistry;
  log: Logger;
  /** Called after every committed turn (metrics, tests); `seconds` from the turn's start to its commit. */
  onTurn?: (agentId: string, entry: MailboxEntry, ok: boolean, seconds: number) => void;
  /** Called after a turn's message was put in another agent's mailbox (metrics). */
  onSent?: (kind: 'request' | 'topic') => void;
  /** A span per turn when exporting traces (NO_TRACING when not given). */
  tracing?: Tracing;
}

export class AgentRuntime {
  private readonly hosted = new Map<string, HostedAgent>();
  private readonly activating = new Set<string>();
  private readonly pending = new PendingReplies();
  private readonly inbox: string;
  private epoch: number | null = null;
  private currentFence: Fence | null = null;
  private status: RuntimeState = 'stopped';
  private reader: Promise<void> | null = null;
  private readerAbort: AbortController | null = null;
  private sweeper: PeriodicTask | null = null;
  /** agentsOnVersion when the last full sweep started, and when (performance.now()). */
  private sweptVersion: number | null = null;
  private sweptAt = Number.NEGATIVE_INFINITY;
  /** How long the last listing of our agents took (ms). */
  private listingMs = 0;
  /** A full sweep is due whatever the version says (start, failed activation, inbox trouble). */
  private sweepDue = true;
  private readonly services: TurnServices;

  constructor(private readonly o: AgentRuntimeOptions) {
    this.inbox = containerInbox(o.containerId);
    this.services = {
      send: (from, entry, seq, to, message, timeoutMs) => this.send(from, turnMessageId(from, entry.entryId, seq), to, message, timeoutMs ?? DEFAULT_SEND_TIMEOUT_MS, entry.traceparent),
      publish: (from, entry, seq, topic, message) => this.publish(from, turnMessageId(from, entry.entryId, seq), topic, message, entry.traceparent),
      subscribe: (agentId, topic) => this.o.store.subscribe(topic, agentId),
      unsubscribe: (agentId, topic) => this.o.store.unsubscribe(topic, agentId),
      deliverReply: (reply) => this.deliver(reply),
      lost: (agentId, reason) => void this.release(agentId, reason),
      mayRun: () => this.status === 'running',
      tracing: o.tracing ?? NO_TRACING,
      ...(o.onTurn === undefined ? {} : { turned: o.onTurn }),
    };
  }

  get state(): RuntimeState {
    return this.status;
  }

  /** How many agents are hosted now (cheaper than `agents().length`). */
  get hostedCount(): number {
    return this.hosted.size;
  }

  /** Ids of the agents hosted now. */
  agents(): string[] {
    return [...this.hosted.keys()].sort();
  }

  /** Start (or restart) hosting for a registration with this epoch. Agents of an older epoch are dropped. */
  async start(epoch: number): Promise<void> {
    if (this.epoch !== null && this.epoch !== epoch) await this.releaseAll('new registration');
    this.epoch = epoch;
    this.status = 'running';
    this.sweepDue = true;
    if (this.reader === null) {
      this.readerAbort = new AbortController();
      this.reader = this.readInbox(this.readerAbort.signal);
    }
    this.sweeper ??= new PeriodicTask('agent-sweep', SWEEP_INTERVAL_MS, () => this.sweep(), this.o.log).start();
    await this.sweep();
  }

  /** Self-fencing: stop starting turns while the lease is in doubt (hosted agents are kept). */
  pause(): void {
    if (this.status === 'running') this.status = 'paused';
  }

  resume(): void {
    if (this.status !== 'paused') return;
    this.status = 'running';
    for (const agent of this.hosted.values()) agent.kick();
  }

  /** The registration is over: drop every agent (their fences are no longer ours). */
  async releaseAll(reason: string): Promise<void> {
    await Promise.all([...this.hosted.keys()].map((id) => this.release(id, reason)));
  }

  async stop(): Promise<void> {
    this.status = 'stopped';
    await this.sweeper?.stop();
    this.sweeper = null;
    this.readerAbort?.abort();
    await this.releaseAll('container stopping');
    await this.reader;
    this.reader = null;
    this.pending.rejectAll(new Error('container stopping'));
  }

  // --- hosting ----------------------------------------------------------------------------

  /** One object per epoch, shared by every agent hosted under it. */
  private fence(): Fence | null {
    if (this.epoch === null) return null;
    if (this.currentFence?.epoch !== this.epoch) this.currentFence = Object.freeze({ owner: this.o.containerId, epoch: this.epoch });
    return this.currentFence;
  }

  /** Host `agentId` if its fence is ours now. Idempotent. */
  async activate(agentId: string): Promise<void> {
    const fence = this.fence();
    if (fence === null || this.status === 'stopped' || this.hosted.has(agentId) || this.activating.has(agentId)) return;
    this.activating.add(agentId);
    try {
      const record = await this.o.store.getAgent(agentId);
      if (record === null || record.containerId !== fence.owner || record.epoch !== fence.epoch) return;
      const definition = this.o.registry.get(record.type);
      if (definition === undefined) {
        await this.o.store.setAgentState(agentId, 'failed', { fence, error: `agent type ${record.type} is not served by container ${fence.owner}` });
        this.o.log.error({ agent: agentId, type: record.type }, 'agent type not served here');
        return;
      }
      // A child logger only if init uses it: an idle agent should cost little (see HostedAgent).
      const parentLog = this.o.log;
      let initLog: Logger | undefined;
      let stateText = await this.o.store.loadAgentState(agentId);
      if (stateText === null) {
        const initCtx = {
          id: agentId,
          config: record.config,
          get log(): Logger {
            initLog ??= parentLog.child({ agent: agentId });
            return initLog;
          },
        };
        const initial = definition.init === undefined ? {} : await definition.init(initCtx);
        stateText = JSON.stringify(initial === undefined ? null : initial);
      }
      // A crash between a commit and its reply's delivery: deliver it again (callers dedup by ref).
      const last = await this.o.store.lastReply(agentId);
      if (last !== null && last.entryId === record.lastHandled) await this.deliver(last).catch(() => undefined);
      const agent = new HostedAgent(record, fence, definition, stateText, this.o.store, this.services, fence.owner, parentLog);
      if (!(await this.o.store.setAgentState(agentId, 'active', { fence }))) return;
      this.hosted.set(agentId, agent);
      parentLog.info({ agent: agentId, epoch: fence.epoch, watermark: record.lastHandled }, 'agent active');
      if (this.status === 'running') agent.kick();
    } catch (err) {
      this.sweepDue = true;
      this.o.log.warn({ err: (err as Error).message, agent: agentId }, 'activation failed; the sweep retries');
    } finally {
      this.activating.delete(agentId);
    }
  }

  /** Stop hosting `agentId` (after its turn in flight). */
  async release(agentId: string, reason: string): Promise<void> {
    const agent = this.hosted.get(agentId);
    if (agent === undefined) return;
    this.hosted.delete(agentId);
    this.o.log.info({ agent: agentId, reason }, 'agent released');
    await agent.stop();
  }

  /**
   * Compares the hosted agents with those the store says are ours, and fixes the difference.
   * Unless forced, skipped while the store's agentsOnVersion stands still (and nothing here failed,
   * for up to FULL_SWEEP_INTERVAL_MS), and while the last listing's cost says to wait: listing
   * 100,000 agents takes a while, and back to back it would starve the lease renewals.
   */
  private async sweep(force = false): Promise<void> {
    if (this.status === 'stopped' || this.epoch === null) return;
    // Read before listing: a change made while this sweep runs moves it again, so the next one runs.
    const version = await this.o.store.agentsOnVersion(this.o.containerId);
    const now = performance.now();
    if (!force) {
      if (!this.sweepDue && version === this.sweptVersion && now - this.sweptAt < FULL_SWEEP_INTERVAL_MS) return;
      if (now - this.sweptAt < this.listingMs * SWEEP_COST_RATIO) return;
    }
    this.sweepDue = false;
    try {
      const owned = new Set(await this.o.store.listAgentsOn(this.o.containerId));
      this.listingMs = performance.now() - now;
      for (const id of this.hosted.keys()) if (!owned.has(id)) await this.release(id, 'no longer assigned here');
      for (const id of owned) if (!this.hosted.has(id)) await this.activate(id);
    } catch (err) {
      this.sweepDue = true;
      throw err;
    }
    this.sweptVersion = version;
    this.sweptAt = now;
  }

  /**
   * Every hosted agent reads its mailbox once. Rings are durable (the inbox is a stream), so this
   * is needed only when rings may have been missed: after the inbox could not be read.
   */
  private kickAll(): void {
    if (this.status === 'running') for (const agent of this.hosted.values()) agent.kick();
  }

  // --- the inbox --------------------------------------------------------------------------

  private async readInbox(signal: AbortSignal): Promise<void> {
    // Only what comes after start-up: older rings, replies and control entries were for an earlier
    // process (replaying a stale `deactivate` would drop an agent we own); the first sweep reads
    // ownership and every mailbox from the store instead.
    let after = await this.o.store.inboxTail(this.inbox).catch(() => NO_ENTRY_ID);
    let failed = false;
    while (!signal.aborted) {
      let entries: InboxEntry[];
      try {
        entries = await this.o.store.readInbox(this.inbox, after, INBOX_BLOCK_MS);
      } catch (err) {
        if (signal.aborted) return;
        failed = true;
        this.o.log.warn({ err: (err as Error).message }, 'inbox read failed; retrying');
        await sleep(INBOX_RETRY_MS, signal);
        continue;
      }
      if (failed) {
        // The inbox may have been trimmed past entries we never read: look at every mailbox once,
        // and at what we own.
        failed = false;
        this.sweepDue = true;
        this.kickAll();
      }
      for (const entry of entries) {
        after = entry.entryId;
        this.dispatch(entry);
      }
    }
  }

  private dispatch(entry: InboxEntry): void {
    switch (entry.kind) {
      case 'ring': {
        const agent = this.hosted.get(entry.ref);
        if (agent !== undefined) {
          if (this.status === 'running') agent.kick();
        } else if (!this.activating.has(entry.ref)) {
          // The sender saw an owner that is no longer us (the agent just moved): pass it on.
          void this.forwardRing(entry.ref);
        }
        return;
      }
      case 'reply':
        this.pending.settle(entry.ref, JSON.parse(entry.body) as ReplyBody);
        return;
      case 'control': {
        let body: Partial<ControlBody> & { message_type?: unknown };
        try {
          body = JSON.parse(entry.body) as Partial<ControlBody> & { message_type?: unknown };
        } catch {
          body = {};
        }
        if (body.op === 'activate') void this.activate(entry.ref);
        else if (body.op === 'deactivate') void this.release(entry.ref, 'deactivated by the control plane');
        // An operator's message (POST /api/v1/cluster/communication/message): `sweep` re-reads
        // ownership and every mailbox now; anything else is logged, never acted on blindly.
        else if (body.message_type === 'sweep') void this.sweep(true).then(() => this.kickAll(), () => undefined);
        else this.o.log.info({ messageType: body.message_type, ref: entry.ref, bytes: entry.body.length }, 'control message');
        return;
      }
    }
  }

  private async forwardRing(agentId: string): Promise<void> {
    try {
      const record = await this.o.store.getAgent(agentId);
      if (record?.containerId && record.containerId !== this.o.containerId) {
        await this.o.store.pushInbox(containerInbox(record.containerId), { kind: 'ring', ref: agentId, body: RING_BODY });
      }
    } catch (err) {
      this.o.log.debug({ err: (err as Error).message, agent: agentId }, 'could not forward a ring');
    }
  }

  // --- what turns can do ------------------------------------------------------------------

  private async deliver(reply: TurnReply): Promise<void> {
    await this.o.store.pushInbox(reply.inbox, { kind: 'reply', ref: reply.ref, body: reply.body });
  }

  /**
   * Puts a message in `to`'s mailbox and rings its owner, which the append reports: two round
   * trips. (Unplaced: no ring; the container that activates it reads its mailbox.)
   */
  private async post(to: string, message: Parameters<MessageStore['appendMessage']>[1]): Promise<void> {
    const result = await this.o.store.appendMessage(to, message);
    if (!result.ok) throw new AgentCallError('no_agent', `agent ${to} does not exist`, to);
    if (!result.duplicate) this.o.onSent?.(message.kind === 'topic' ? 'topic' : 'request');
    if (result.owner !== null) await this.o.store.pushInbox(containerInbox(result.owner), { kind: 'ring', ref: to, body: RING_BODY });
  }

  async send(from: string, messageId: string, to: string, message: unknown, timeoutMs: number, traceparent?: string): Promise<unknown> {
    const reply = this.pending.wait(messageId, timeoutMs, () => new SendTimeoutError(to, timeoutMs, messageId));
    try {
      await this.post(to, {
        messageId,
        kind: 'request',
        from,
        replyTo: this.inbox,
        body: JSON.stringify(message === undefined ? null : message),
        deadlineMs: Date.now() + timeoutMs,
        ...(traceparent === undefined ? {} : { traceparent }),
      });
    } catch (err) {
      this.pending.cancel(messageId);
      throw err;
    }
    const body = await reply;
    if (body.ok) return body.result;
    throw new AgentCallError(body.error.code, `${to}: ${body.error.message}`, to);
  }

  async publish(from: string, publishId: string, topic: string, message: unknown, traceparent?: string): Promise<number> {
    const subscribers = await this.o.store.subscribers(topic);
    const body = JSON.stringify(message === undefined ? null : message);
    let delivered = 0;
    for (const agentId of subscribers) {
      try {
        // One id per subscriber, derived from the publish: a repeated turn publishes no duplicates.
        await this.post(agentId, { messageId: turnMessageId(publishId, topic, 0, agentId), kind: 'topic', from, topic, body, ...(traceparent === undefined ? {} : { traceparent }) });
        delivered += 1;
      } catch (err) {
        if (!(err instanceof AgentCallError)) throw err;
      }
    }
    return delivered;
  }
}
