/**
 * One agent active on this container: its definition, its state, and its turn loop. Turns run
 * one at a time, in mailbox order; each ends with one fenced commit (state + watermark + reply).
 */
import type { TraceSpan, Tracing } from '../observability/tracing.js';
import { traceIdOf } from '../observability/trace-context.js';
import type { Logger } from '../common/logger.js';
import type { AgentRecord, MailboxEntry, MessageStore, TurnReply } from '../store/messaging.js';
import type { Fence } from '../store/store.js';
import type { ReplyBody } from '../protocol/runtime.js';
import type { AgentContext, AgentDefinition } from '../sdk/types.js';

/** Entries read from the mailbox at a time. */
export const TURN_BATCH = 32;
/**
 * After a store call fails (a read or commit that timed out, Redis restarting), the agent tries
 * again by itself, first after this long, doubling up to STORE_RETRY_MAX_MS: its mail may have
 * come with a ring it already used, and no other ring may follow.
 */
export const STORE_RETRY_BASE_MS = 250;
export const STORE_RETRY_MAX_MS = 5_000;

export type HostedAgentState = 'idle' | 'running' | 'stopping' | 'stopped';

/** What a turn may do beyond its own agent: provided by the runtime. */
export interface TurnServices {
  send(from: string, entry: MailboxEntry, seq: number, to: string, message: unknown, timeoutMs: number | undefined): Promise<unknown>;
  publish(from: string, entry: MailboxEntry, seq: number, topic: string, message: unknown): Promise<number>;
  subscribe(agentId: string, topic: string): Promise<void>;
  unsubscribe(agentId: string, topic: string): Promise<void>;
  deliverReply(reply: TurnReply): Promise<void>;
  /** The fence no longer holds (moved or deleted): stop hosting this agent. */
  lost(agentId: string, reason: string): void;
  /** False while the container's lease is in doubt (self-fencing): no new turn starts. */
  mayRun(): boolean;
  /** A turn finished (committed), for metrics and tests; `seconds` from the turn's start to its commit. */
  turned?(agentId: string, entry: MailboxEntry, ok: boolean, seconds: number): void;
  /** A span per turn, child of the sender's (the sends of the turn are its children). */
  tracing: Tracing;
}

/** What a hosted agent keeps of its record: only what turns need (see HostedAgent). */
export type HostedRecord = Pick<AgentRecord, 'id' | 'type' | 'name' | 'config' | 'lastHandled'>;

/** Shared by every agent whose config is empty (most built-in ones): one object, not one each. */
const EMPTY_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * A container may host 100,000 idle agents, so an idle one holds little: its id, type, name,
 * config, watermark and state text, and references to what the runtime shares among all of them
 * (definition, store, services, fence, logger). Not the whole AgentRecord (placement, times), and
 * no child logger until it logs: a pino child costs about a kilobyte.
 */
export class HostedAgent {
  private status: HostedAgentState = 'idle';
  private again = false;
  private watermark: string;
  private stateText: string;
  private current: Promise<void> | null = null;
  private abort: AbortController | null = null;
  /** Set while a retry after a store failure is scheduled (undefined otherwise: no cost when idle). */
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  readonly id: string;
  private readonly type: string;
  private readonly name: string;
  private readonly config: Record<string, unknown>;
  private childLog: Logger | null = null;

  constructor(
    record: HostedRecord,
    readonly fence: Fence,
    private readonly definition: AgentDefinition<unknown, Record<string, unknown>>,
    initialStateText: string,
    private readonly store: MessageStore,
    private readonly services: TurnServices,
    private readonly containerId: string,
    /** The container's logger: this agent's own (bound to its id) is made from it when first used. */
    private readonly parentLog: Logger,
  ) {
    this.id = record.id;
    this.type = record.type;
    this.name = record.name;
    this.config = Object.keys(record.config).length === 0 ? (EMPTY_CONFIG as Record<string, unknown>) : record.config;
    this.watermark = record.lastHandled;
    this.stateText = initialStateText;
  }

  /** This agent's logger (bound to `agent: <id>`), made on first use. */
  get log(): Logger {
    this.childLog ??= this.parentLog.child({ agent: this.id });
    return this.childLog;
  }

  get state(): HostedAgentState {
    return this.status;
  }

  /** Handle whatever is in the mailbox now; coalesces calls made while a run is in progress. */
  kick(): void {
    if (this.status === 'stopping' || this.status === 'stopped') return;
    if (this.status === 'running') {
      this.again = true;
      return;
    }
    this.status = 'running';
    this.current = this.run().finally(() => {
      if (this.status === 'running') this.status = 'idle';
      this.current = null;
    });
  }

  /** Stops after the turn in flight (whose handler sees `signal` aborted); then calls onStop. */
  async stop(): Promise<void> {
    if (this.status === 'stopped') return;
    this.status = 'stopping';
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.abort?.abort(new Error(`agent ${this.id} is stopping on ${this.containerId}`));
    await this.current;
    this.status = 'stopped';
    try {
      await this.definition.onStop?.({ id: this.id, config: this.config, log: this.log });
    } catch (err) {
      this.log.warn({ err, agent: this.id }, 'onStop failed');
    }
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      let entries: MailboxEntry[];
      try {
        entries = await this.store.readMailbox(this.id, this.watermark, TURN_BATCH);
      } catch (err) {
        this.log.warn({ err: (err as Error).message, agent: this.id }, 'mailbox read failed; will retry');
        this.retryLater();
        return;
      }
      this.failures = 0;
      for (const entry of entries) {
        if (this.status === 'stopping' || !this.services.mayRun()) return;
        const outcome = await this.turn(entry);
        if (outcome === 'stop') return;
        if (outcome === 'reread') {
          this.again = true;
          break;
        }
      }
      if (entries.length === TURN_BATCH) this.again = true;
    } while (this.again && this.status === 'running');
  }

  /**
   * One turn. `reread`: the watermark moved under us (a duplicate or a gap), read again from the
   * committed one. `stop`: the fence is lost or the store is in trouble; a ring or the runtime's
   * sweep starts the loop again later.
   */
  private async turn(entry: MailboxEntry): Promise<'next' | 'reread' | 'stop'> {
    const startedAt = performance.now();
    const expired = entry.kind === 'request' && entry.deadlineMs !== undefined && Date.now() > entry.deadlineMs;
    let result: ReplyBody;
    let newStateText: string | undefined;
    let turnSpan: TraceSpan | undefined;
    if (expired) {
      result = this.failure('expired', `the request expired before its turn (deadline ${new Date(entry.deadlineMs!).toISOString()})`);
    } else {
      // The turn's sends carry the turn's span as their parent (the same traceparent when not tracing).
      const span = this.services.tracing.start(`turn ${this.type}`, 'consumer', entry.traceparent, { 'flotilla.agent_id': this.id, 'flotilla.message_id': entry.messageId });
      turnSpan = span;
      const ctx = this.context(span.traceparent === entry.traceparent ? entry : { ...entry, ...(span.traceparent === undefined ? {} : { traceparent: span.traceparent }) });
      try {
        const value = await this.definition.onMessage(JSON.parse(entry.body) as unknown, ctx);
        result = { ok: true, result: value === undefined ? null : value, agent_id: this.id, container_id: this.containerId };
        newStateText = JSON.stringify(ctx.state === undefined ? null : ctx.state);
      } catch (err) {
        // The message fails, not the agent: the turn's state changes are dropped.
        this.log.warn({ err, agent: this.id, messageId: entry.messageId }, 'handler failed');
        result = this.failure('handler_error', (err as Error)?.message ?? String(err));
      } finally {
        this.abort = null;
      }
    }
    const reply: TurnReply | undefined =
      entry.replyTo === undefined ? undefined : { inbox: entry.replyTo, ref: entry.messageId, body: JSON.stringify(result) };
    let commit;
    try {
      commit = await this.store.commitTurn(this.id, this.fence, {
        entryId: entry.entryId,
        ...(newStateText === undefined ? {} : { state: newStateText }),
        ...(reply === undefined ? {} : { reply }),
      });
    } catch (err) {
      // Unknown outcome: re-read the watermark on the next run rather than guess.
      turnSpan?.end('commit failed');
      this.log.warn({ err: (err as Error).message, agent: this.id }, 'commit failed; the entry will be handled again');
      await this.resync();
      this.retryLater();
      return 'stop';
    }
    turnSpan?.end(commit.ok ? (result.ok ? undefined : result.error.message) : `not committed: ${commit.reason}`);
    if (commit.ok) {
      this.watermark = entry.entryId;
      if (newStateText !== undefined) this.stateText = newStateText;
      this.services.turned?.(this.id, entry, result.ok, (performance.now() - startedAt) / 1_000);
      if (reply !== undefined) await this.services.deliverReply(reply).catch((err: unknown) => this.log.warn({ err, agent: this.id }, 'reply delivery failed'));
      return 'next';
    }
    if (commit.reason === 'duplicate' || commit.reason === 'out_of_order') {
      return (await this.resync()) ? 'reread' : 'stop';
    }
    this.services.lost(this.id, commit.reason);
    return 'stop';
  }

  /** Runs the loop again after a backoff, once per failure streak step (bounded: one timer at most). */
  private retryLater(): void {
    if (this.retryTimer !== undefined || this.status === 'stopping' || this.status === 'stopped') return;
    const delay = Math.min(STORE_RETRY_MAX_MS, STORE_RETRY_BASE_MS * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 16);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, delay);
    this.retryTimer.unref();
  }

  private failure(code: 'handler_error' | 'expired', message: string): ReplyBody {
    return { ok: false, error: { code, message }, agent_id: this.id, container_id: this.containerId };
  }

  /** Re-reads the committed watermark and state; false when the agent is no longer ours. */
  private async resync(): Promise<boolean> {
    try {
      const [record, stateText] = await Promise.all([this.store.getAgent(this.id), this.store.loadAgentState(this.id)]);
      if (record === null || record.containerId !== this.fence.owner || record.epoch !== this.fence.epoch) {
        this.services.lost(this.id, 'fence moved');
        return false;
      }
      this.watermark = record.lastHandled;
      if (stateText !== null) this.stateText = stateText;
      return true;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, agent: this.id }, 'resync failed');
      this.retryLater();
      return false;
    }
  }

  private context(entry: MailboxEntry): AgentContext<unknown, Record<string, unknown>> {
    let seq = 0;
    this.abort = new AbortController();
    const { services } = this;
    const id = this.id;
    return {
      id,
      type: this.type,
      name: this.name,
      config: this.config,
      // A fresh copy each turn: a handler that throws leaves the committed state untouched.
      state: JSON.parse(this.stateText) as unknown,
      // Lines logged while handling a traced message carry its trace id (for `flotilla logs`).
      log: entry.traceparent === undefined ? this.log : this.log.child({ trace_id: traceIdOf(entry.traceparent) }),
      signal: this.abort.signal,
      message: { id: entry.messageId, from: entry.from, ...(entry.topic === undefined ? {} : { topic: entry.topic }) },
      placement: { containerId: this.fence.owner, epoch: this.fence.epoch },
      send: <R>(to: string, message: unknown, options?: { timeoutMs?: number }) =>
        services.send(id, entry, seq++, to, message, options?.timeoutMs) as Promise<R>,
      publish: (topic, message) => services.publish(id, entry, seq++, topic, message),
      subscribe: (topic) => services.subscribe(id, topic),
      unsubscribe: (topic) => services.unsubscribe(id, topic),
    };
  }
}
