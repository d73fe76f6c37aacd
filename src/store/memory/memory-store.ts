/**
 * The embedded store for `flotilla dev` and unit tests: the same semantics as the Redis store,
 * kept in one process's memory. Each method does its whole change synchronously, which makes it
 * as atomic as the Redis store's scripts. Values that Redis keeps as JSON are copied through JSON
 * here too, so both stores hand back exactly the same records. The messaging part (MessageStore)
 * is delegated to the small modules in messaging/.
 */
import { MemoryLogs } from './observability/logs.js';
import { MemoryLatency } from './observability/latency.js';
import type { LatencyReport, LogPage, LogQuery, LogRecord, ObservabilityStore } from '../observability.js';
import type { Availability, ContainerRecord, ContainerRegistration } from '../../protocol/container.js';
import type { ClusterEvent, ClusterEventType } from '../../protocol/events.js';
import { AVAILABILITY_EVENTS } from '../availability-event.js';
import {
  MESSAGE_DEDUP_TTL_MS,
  type AgentRecord,
  type AgentState,
  type AppendResult,
  type AssignAgentOptions,
  type CommitResult,
  type InboxEntry,
  type LastReply,
  type MailboxEntry,
  type MailboxMessage,
  type MessageStore,
  type NewAgent,
  type PushInboxOptions,
  type TurnCommit,
} from '../messaging.js';
import {
  EVENTS_MAX_LENGTH,
  EXPIRE_BATCH_LIMIT,
  StoreError,
  StoreUnavailableError,
  type ClusterStore,
  type LateContainer,
  type EventQuery,
  type Fence,
  type FencedWriteResult,
  type LeadershipResult,
  type ManagerInfo,
  type ManagerPresence,
  type RemoveResult,
  type RenewResult,
} from '../store.js';
import {
  assertAvailability,
  assertEventFields,
  assertEventQuery,
  assertFence,
  assertManagerInfo,
  assertNonNegativeInteger,
  assertPositiveInteger,
  assertRegistration,
  assertResource,
} from '../validate.js';
import { MemoryEventLog } from './event-log.js';
import { MemoryAgents } from './messaging/agents.js';
import { MemoryDedup } from './messaging/dedup.js';
import { MemoryInboxes } from './messaging/inboxes.js';
import { MemoryMailboxes } from './messaging/mailboxes.js';
import { MemoryTopics } from './messaging/topics.js';

export interface MemoryStoreOptions {
  /** Epoch milliseconds; injectable so tests can move time without waiting. */
  clock?: () => number;
  /** How long a message id is remembered for dedup; MESSAGE_DEDUP_TTL_MS by default. */
  messageDedupTtlMs?: number;
}

type EventFields = Omit<ClusterEvent, 'id' | 'type' | 'atMs'>;

function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export class MemoryStore implements ClusterStore, MessageStore, ObservabilityStore {
  readonly kind = 'memory';
  private readonly clock: () => number;
  private readonly containers = new Map<string, ContainerRecord>();
  /** Last epoch per container name; outlives the record so epochs never go down. */
  private readonly epochs = new Map<string, number>();
  /** Lease deadline per active container id. */
  private readonly leases = new Map<string, number>();
  private readonly fences = new Map<string, Fence>();
  private readonly resources = new Map<string, Record<string, string>>();
  private leader: { id: string; expiresAtMs: number } | null = null;
  private term = 0;
  private readonly managers = new Map<string, { presence: ManagerPresence; deadlineMs: number }>();
  private readonly events = new MemoryEventLog(EVENTS_MAX_LENGTH);
  private closed = false;
  private readonly agents: MemoryAgents;
  private readonly mailboxes: MemoryMailboxes;
  private readonly topics = new MemoryTopics();
  private readonly inboxes: MemoryInboxes;

  private readonly logs: MemoryLogs;
  private readonly latency: MemoryLatency;

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? Date.now;
    const dedupTtlMs = assertPositiveInteger('messageDedupTtlMs', options.messageDedupTtlMs ?? MESSAGE_DEDUP_TTL_MS);
    this.agents = new MemoryAgents(this.clock);
    this.mailboxes = new MemoryMailboxes(this.agents, new MemoryDedup(dedupTtlMs), this.clock);
    this.inboxes = new MemoryInboxes(this.clock);
    this.logs = new MemoryLogs(this.clock);
    this.latency = new MemoryLatency(this.clock);
  }

  // --- containers -------------------------------------------------------------------------

  async registerContainer(reg: ContainerRegistration): Promise<ContainerRecord> {
    this.assertOpen();
    assertRegistration(reg);
    const now = this.clock();
    const id = reg.name;
    const epoch = (this.epochs.get(id) ?? 0) + 1;
    this.epochs.set(id, epoch);
    const previous = this.containers.get(id)?.availability;
    const record: ContainerRecord = {
      id,
      name: reg.name,
      hostAddress: reg.hostAddress,
      apiPort: reg.apiPort,
      capabilities: jsonCopy(reg.capabilities),
      labels: jsonCopy(reg.labels),
      resources: jsonCopy(reg.resources),
      metadata: jsonCopy(reg.metadata),
      agentTypes: jsonCopy(reg.agentTypes),
      state: 'active',
      availability: previous === 'cordoned' || previous === 'draining' ? previous : 'schedulable',
      epoch,
      leaseTimeoutMs: reg.leaseTimeoutMs,
      leaseIntervalMs: reg.leaseIntervalMs,
      registeredAtMs: now,
      lastRenewalMs: now,
      downAtMs: null,
    };
    this.containers.set(id, record);
    this.leases.set(id, now + reg.leaseTimeoutMs);
    this.log(now, 'container_joined', {
      containerId: id,
      epoch,
      data: { hostAddress: reg.hostAddress, apiPort: reg.apiPort },
    });
    return structuredClone(record);
  }

  async renewLease(id: string, epoch: number, timeoutMs: number): Promise<RenewResult> {
    this.assertOpen();
    assertPositiveInteger('epoch', epoch);
    assertPositiveInteger('lease timeoutMs', timeoutMs);
    const record = this.containers.get(id);
    if (!record) return { ok: false, reason: 'unknown' };
    if (record.epoch !== epoch) return { ok: false, reason: 'stale_epoch' };
    if (record.state !== 'active') return { ok: false, reason: 'down' };
    const now = this.clock();
    const deadlineMs = now + timeoutMs;
    record.lastRenewalMs = now;
    this.leases.set(id, deadlineMs);
    return { ok: true, deadlineMs };
  }

  async getContainer(id: string): Promise<ContainerRecord | null> {
    this.assertOpen();
    const record = this.containers.get(id);
    return record ? structuredClone(record) : null;
  }

  async listContainers(): Promise<ContainerRecord[]> {
    this.assertOpen();
    return [...this.containers.values()].sort((a, b) => compareIds(a.id, b.id)).map((r) => structuredClone(r));
  }

  async deregisterContainer(id: string, epoch: number): Promise<boolean> {
    this.assertOpen();
    assertPositiveInteger('epoch', epoch);
    const record = this.containers.get(id);
    if (!record || record.epoch !== epoch) return false;
    this.forget(id);
    this.log(this.clock(), 'container_left', { containerId: id, epoch, data: {} });
    return true;
  }

  async removeContainer(id: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    this.assertOpen();
    const record = this.containers.get(id);
    if (!record) return { ok: false, reason: 'not_found' };
    if (record.state === 'active' && opts.force !== true) return { ok: false, reason: 'active' };
    this.forget(id);
    this.log(this.clock(), 'container_removed', { containerId: id, epoch: record.epoch, data: { state: record.state } });
    return { ok: true, record: structuredClone(record) };
  }

  async setAvailability(id: string, availability: Availability): Promise<ContainerRecord | null> {
    this.assertOpen();
    assertAvailability(availability);
    const record = this.containers.get(id);
    if (!record) return null;
    const from = record.availability;
    if (from !== availability) {
      record.availability = availability;
      this.log(this.clock(), AVAILABILITY_EVENTS[availability], { containerId: id, epoch: record.epoch, data: { from } });
    }
    return structuredClone(record);
  }

  /** In one process there are no sessions to lose: only leases tell. */
  async expireDisconnected(windowMs: number, trustAfterMs: number, limit: number = EXPIRE_BATCH_LIMIT): Promise<string[]> {
    this.assertOpen();
    assertPositiveInteger('expire limit', limit);
    assertNonNegativeInteger('windowMs', windowMs);
    assertNonNegativeInteger('trustAfterMs', trustAfterMs);
    return [];
  }

  async lateContainers(windowMs: number, lateFactor: number, limit: number = EXPIRE_BATCH_LIMIT): Promise<LateContainer[]> {
    this.assertOpen();
    assertPositiveInteger('late limit', limit);
    assertNonNegativeInteger('windowMs', windowMs);
    if (!(lateFactor > 0)) throw new StoreError(`lateFactor must be > 0, got ${lateFactor}`);
    const now = this.clock();
    return [...this.leases]
      .filter(([, deadline]) => deadline <= now + windowMs)
      .sort(([idA, a], [idB, b]) => a - b || compareIds(idA, idB))
      .slice(0, limit)
      .flatMap(([id]) => {
        const r = this.containers.get(id);
        if (r?.state !== 'active' || now - r.lastRenewalMs <= lateFactor * r.leaseIntervalMs) return [];
        return [{ id, epoch: r.epoch, lastRenewalMs: r.lastRenewalMs, hostAddress: r.hostAddress, apiPort: r.apiPort }];
      });
  }

  async markUnreachable(late: LateContainer[]): Promise<string[]> {
    this.assertOpen();
    const now = this.clock();
    const down: string[] = [];
    for (const c of late) {
      const r = this.containers.get(c.id);
      if (r?.state !== 'active' || r.epoch !== c.epoch || r.lastRenewalMs !== c.lastRenewalMs) continue;
      this.leases.delete(c.id);
      r.state = 'down';
      r.downAtMs = now;
      this.log(now, 'container_down', { containerId: c.id, epoch: r.epoch, data: { reason: 'unreachable', lastRenewalMs: r.lastRenewalMs } });
      down.push(c.id);
    }
    return down;
  }

  async expireLeases(limit: number = EXPIRE_BATCH_LIMIT): Promise<string[]> {
    this.assertOpen();
    assertPositiveInteger('expire limit', limit);
    const now = this.clock();
    // The order of Redis ZRANGEBYSCORE: by deadline, then by id.
    const due = [...this.leases]
      .filter(([, deadline]) => deadline <= now)
      .sort(([idA, a], [idB, b]) => a - b || compareIds(idA, idB))
      .slice(0, limit);
    const down: string[] = [];
    for (const [id] of due) {
      this.leases.delete(id);
      const record = this.containers.get(id);
      if (record?.state !== 'active') continue;
      record.state = 'down';
      record.downAtMs = now;
      this.log(now, 'container_down', { containerId: id, epoch: record.epoch, data: { lastRenewalMs: record.lastRenewalMs } });
      down.push(id);
    }
    return down;
  }

  // --- fencing ----------------------------------------------------------------------------

  async assignFence(resource: string, fence: Fence): Promise<void> {
    this.assertOpen();
    assertResource(resource);
    assertFence(fence);
    this.fences.set(resource, { owner: fence.owner, epoch: fence.epoch });
  }

  async fencedWrite(resource: string, fence: Fence, fields: Record<string, string>): Promise<FencedWriteResult> {
    this.assertOpen();
    assertResource(resource);
    assertFence(fence);
    const current = this.fences.get(resource);
    if (!current) return { ok: false, reason: 'no_fence' };
    if (current.owner !== fence.owner) return { ok: false, reason: 'not_owner' };
    if (current.epoch !== fence.epoch) return { ok: false, reason: 'stale_epoch' };
    if (Object.keys(fields).length > 0) {
      this.resources.set(resource, { ...this.resources.get(resource), ...fields });
    }
    return { ok: true };
  }

  async readResource(resource: string): Promise<Record<string, string>> {
    this.assertOpen();
    assertResource(resource);
    return { ...this.resources.get(resource) };
  }

  // --- managers and leadership ------------------------------------------------------------

  async acquireLeadership(managerId: string, ttlMs: number): Promise<LeadershipResult> {
    this.assertOpen();
    assertPositiveInteger('leadership ttlMs', ttlMs);
    const now = this.clock();
    const holder = this.currentLeader(now);
    if (holder === managerId) {
      this.leader = { id: managerId, expiresAtMs: now + ttlMs };
      return { isLeader: true, leaderId: managerId, term: this.term };
    }
    if (holder !== null) return { isLeader: false, leaderId: holder, term: this.term };
    this.leader = { id: managerId, expiresAtMs: now + ttlMs };
    this.term += 1;
    this.log(now, 'leader_elected', { managerId, data: { term: this.term } });
    return { isLeader: true, leaderId: managerId, term: this.term };
  }

  async releaseLeadership(managerId: string): Promise<void> {
    this.assertOpen();
    if (this.currentLeader(this.clock()) === managerId) this.leader = null;
  }

  /** In one process there are no sessions to lose: only the lease tells. */
  async endDeadLeadership(_leaderId: string, trustAfterMs: number): Promise<boolean> {
    this.assertOpen();
    assertNonNegativeInteger('trustAfterMs', trustAfterMs);
    return false;
  }

  async getLeader(): Promise<{ leaderId: string | null; term: number }> {
    this.assertOpen();
    return { leaderId: this.currentLeader(this.clock()), term: this.term };
  }

  async heartbeatManager(info: ManagerInfo, ttlMs: number): Promise<void> {
    this.assertOpen();
    assertManagerInfo(info);
    assertPositiveInteger('manager ttlMs', ttlMs);
    const now = this.clock();
    const presence: ManagerPresence = {
      id: info.id,
      address: info.address,
      version: info.version,
      startedAtMs: info.startedAtMs,
      lastSeenMs: now,
    };
    this.managers.set(info.id, { presence, deadlineMs: now + ttlMs });
  }

  async listManagers(): Promise<ManagerPresence[]> {
    this.assertOpen();
    const now = this.clock();
    for (const [id, { deadlineMs }] of this.managers) {
      if (deadlineMs <= now) this.managers.delete(id);
    }
    return [...this.managers.values()]
      .map(({ presence }) => structuredClone(presence))
      .sort((a, b) => compareIds(a.id, b.id));
  }

  async removeManager(id: string): Promise<void> {
    this.assertOpen();
    this.managers.delete(id);
  }

  // --- events -----------------------------------------------------------------------------

  async appendEvent(type: ClusterEventType, fields: EventFields = { data: {} }): Promise<ClusterEvent> {
    this.assertOpen();
    assertEventFields(fields);
    return this.log(this.clock(), type, fields);
  }

  async lastEventId(): Promise<string | null> {
    this.assertOpen();
    return this.events.lastId();
  }

  async listEvents(query: EventQuery = {}): Promise<ClusterEvent[]> {
    this.assertOpen();
    assertEventQuery(query);
    return this.events.list(query);
  }

  // --- shipped logs and latency reports (ObservabilityStore; see observability/) ----------

  async appendLogs(records: readonly LogRecord[]): Promise<void> {
    this.assertOpen();
    this.logs.append(records);
  }

  async readLogs(query: LogQuery): Promise<LogPage> {
    this.assertOpen();
    return this.logs.read(query);
  }

  async putLatency(report: LatencyReport, ttlMs: number): Promise<void> {
    this.assertOpen();
    this.latency.put(report, ttlMs);
  }

  async listLatency(containerIds: readonly string[]): Promise<LatencyReport[]> {
    this.assertOpen();
    return this.latency.list(containerIds);
  }

  // --- agents, mailboxes, turns, topics, inboxes (MessageStore; see messaging/) ----------

  async createAgent(agent: NewAgent): Promise<boolean> {
    this.assertOpen();
    return this.agents.create(agent);
  }

  async getAgent(id: string): Promise<AgentRecord | null> {
    this.assertOpen();
    return this.agents.get(id);
  }

  async listAgents(): Promise<AgentRecord[]> {
    this.assertOpen();
    return this.agents.list();
  }

  async listAgentsPage(limit: number): Promise<{ agents: AgentRecord[]; total: number }> {
    this.assertOpen();
    assertPositiveInteger('limit', limit);
    const all = this.agents.list();
    return { agents: all.slice(0, limit), total: all.length };
  }

  async listAgentsOn(containerId: string): Promise<string[]> {
    this.assertOpen();
    return this.agents.listOn(containerId);
  }

  async agentsOnVersion(containerId: string): Promise<number> {
    this.assertOpen();
    return this.agents.version(containerId);
  }

  async assignAgent(id: string, owner: Fence | null, state: AgentState, opts?: AssignAgentOptions): Promise<AgentRecord | null> {
    this.assertOpen();
    return this.agents.assign(id, owner, state, opts);
  }

  async setAgentState(id: string, state: AgentState, opts?: { fence?: Fence; error?: string }): Promise<boolean> {
    this.assertOpen();
    return this.agents.setState(id, state, opts);
  }

  async deleteAgent(id: string): Promise<boolean> {
    this.assertOpen();
    return this.agents.delete(id);
  }

  async appendMessage(agentId: string, message: MailboxMessage): Promise<AppendResult> {
    this.assertOpen();
    return this.mailboxes.append(agentId, message);
  }

  async readMailbox(agentId: string, afterEntryId: string, limit?: number): Promise<MailboxEntry[]> {
    this.assertOpen();
    return this.mailboxes.read(agentId, afterEntryId, limit);
  }

  async mailboxDepth(agentId: string): Promise<number> {
    this.assertOpen();
    return this.mailboxes.depth(agentId);
  }

  async loadAgentState(agentId: string): Promise<string | null> {
    this.assertOpen();
    return this.mailboxes.loadState(agentId);
  }

  async commitTurn(agentId: string, fence: Fence, commit: TurnCommit): Promise<CommitResult> {
    this.assertOpen();
    return this.mailboxes.commit(agentId, fence, commit);
  }

  async lastReply(agentId: string): Promise<LastReply | null> {
    this.assertOpen();
    return this.mailboxes.lastReply(agentId);
  }

  async subscribe(topic: string, agentId: string): Promise<void> {
    this.assertOpen();
    this.topics.subscribe(topic, agentId);
  }

  async unsubscribe(topic: string, agentId: string): Promise<void> {
    this.assertOpen();
    this.topics.unsubscribe(topic, agentId);
  }

  async subscribers(topic: string): Promise<string[]> {
    this.assertOpen();
    return this.topics.subscribers(topic);
  }

  async pushInbox(inbox: string, entry: Omit<InboxEntry, 'entryId'>, options?: PushInboxOptions): Promise<string> {
    this.assertOpen();
    return this.inboxes.push(inbox, entry, options);
  }

  async inboxTail(inbox: string): Promise<string> {
    this.assertOpen();
    return this.inboxes.tail(inbox);
  }

  async readInbox(inbox: string, afterEntryId: string, blockMs: number, limit?: number): Promise<InboxEntry[]> {
    this.assertOpen();
    return this.inboxes.read(inbox, afterEntryId, blockMs, limit);
  }

  // --- health -----------------------------------------------------------------------------

  async ping(): Promise<number> {
    this.assertOpen();
    return 0;
  }

  async now(): Promise<number> {
    this.assertOpen();
    return this.clock();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.inboxes.close();
  }

  // --- internals --------------------------------------------------------------------------

  private assertOpen(): void {
    // A closed Redis connection fails calls the same way.
    if (this.closed) throw new StoreUnavailableError('the memory store is closed');
  }

  private forget(id: string): void {
    this.containers.delete(id);
    this.leases.delete(id);
  }

  /** Redis keeps a key with a PX deadline until the clock passes it. */
  private currentLeader(now: number): string | null {
    if (this.leader && now > this.leader.expiresAtMs) this.leader = null;
    return this.leader?.id ?? null;
  }

  private log(now: number, type: ClusterEventType, fields: EventFields): ClusterEvent {
    // Only the fields the Redis stream would hold: absent ones stay absent, data goes through JSON.
    const event: Omit<ClusterEvent, 'id'> = { type, atMs: now, data: jsonCopy(fields.data ?? {}) };
    if (fields.containerId !== undefined) event.containerId = fields.containerId;
    if (fields.epoch !== undefined) event.epoch = fields.epoch;
    if (fields.managerId !== undefined) event.managerId = fields.managerId;
    return this.events.append(now, event);
  }
}

/** Byte order, as Redis sorts members (ids are ASCII, so UTF-16 order is the same). */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
