/**
 * The production store: cluster state in one shared Redis (or Redis Cluster: keys that change
 * together share a hash tag, see keys.ts). Every change that touches more than one key, or needs
 * the Redis clock, is one Lua script (see scripts/), so it is atomic and clock-skew free.
 *
 * The store owns the connection it is given: close() quits it. Blocking inbox reads use
 * connections of their own, duplicated from it on first use (messaging/blocking-pool.ts).
 *
 * The messaging part (MessageStore: agents, mailboxes, turns, topics, inboxes) is delegated to the
 * small modules in messaging/, which share this store's connection, keys and error mapping.
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
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
  type ClusterStore,
  type LateContainer,
  type EventQuery,
  type Fence,
  type FenceFailure,
  type FencedWriteResult,
  type LeadershipResult,
  type ManagerInfo,
  type ManagerPresence,
  type RemoveResult,
  type RenewFailure,
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
import {
  decodeContainer,
  decodeEvent,
  decodeManager,
  eventArgs,
  managerFields,
  pairsToHash,
  registrationFields,
} from './codec.js';
import { defineScripts, type ScriptName, type ScriptRunner } from './commands.js';
import { toStoreError } from './errors.js';
import { DEFAULT_KEY_PREFIX, RedisKeys } from './keys.js';
import { RedisAgents } from './messaging/agents.js';
import { BlockingPool } from './messaging/blocking-pool.js';
import type { RedisContext } from './messaging/context.js';
import { RedisInboxes } from './messaging/inbox.js';
import { RedisMailboxes } from './messaging/mailbox.js';
import { RedisTopics } from './messaging/topics.js';
import { RedisLogs } from './observability/logs.js';
import { RedisLatency } from './observability/latency.js';
import type { LatencyReport, LogPage, LogQuery, LogRecord, ObservabilityStore } from '../observability.js';

export interface RedisStoreOptions {
  redis: Redis;
  /** Key prefix, so that several clusters can share one Redis. */
  prefix?: string;
  /** How long a message id is remembered for dedup; MESSAGE_DEDUP_TTL_MS by default (tests shorten it). */
  messageDedupTtlMs?: number;
  /** How long past its block a blocking read may take before it fails; BLOCKING_READ_GRACE_MS by default. */
  blockingReadGraceMs?: number;
}

type EventFields = Omit<ClusterEvent, 'id' | 'type' | 'atMs'>;

const FENCE_FAILURES = new Set(['no_fence', 'not_owner', 'stale_epoch']);
const RENEW_FAILURES = new Set(['unknown', 'stale_epoch', 'down']);

export class RedisStore implements ClusterStore, MessageStore, ObservabilityStore {
  readonly kind = 'redis';
  readonly keys: RedisKeys;
  private readonly redis: Redis;
  private readonly runScript: ScriptRunner;
  /** The connection's latest error, so that StoreUnavailableError can say why. */
  private lastConnectionError: Error | undefined;
  private readonly onConnectionError = (err: Error): void => {
    this.lastConnectionError = err;
  };
  private readonly onReady = (): void => {
    this.lastConnectionError = undefined;
    // Each (re)connection is a new session: learn its id for the lease renewals.
    this.redis.client('ID').then(
      (id) => {
        this.sessionId = String(id);
      },
      () => {
        this.sessionId = '';
      },
    );
  };
  /** CLIENT ID of this store's connection ('' until known): recorded with each lease renewal. */
  private sessionId = '';
  private readonly blocking: BlockingPool;
  private readonly agents: RedisAgents;
  private readonly mailboxes: RedisMailboxes;
  private readonly topics: RedisTopics;
  private readonly inboxes: RedisInboxes;
  private readonly logs: RedisLogs;
  private readonly latency: RedisLatency;

  constructor(options: RedisStoreOptions) {
    this.redis = options.redis;
    this.keys = new RedisKeys(options.prefix ?? DEFAULT_KEY_PREFIX);
    this.runScript = defineScripts(this.redis);
    this.redis.on('error', this.onConnectionError);
    this.redis.on('ready', this.onReady);
    if (this.redis.status === 'ready') this.onReady();
    const context: RedisContext = {
      redis: this.redis,
      keys: this.keys,
      call: (operation, fn) => this.call(operation, fn),
      script: (name, keys, args) => this.script(name, keys, args),
    };
    this.blocking = new BlockingPool(this.redis, options.blockingReadGraceMs);
    this.agents = new RedisAgents(context);
    this.mailboxes = new RedisMailboxes(context, assertPositiveInteger('messageDedupTtlMs', options.messageDedupTtlMs ?? MESSAGE_DEDUP_TTL_MS));
    this.topics = new RedisTopics(context);
    this.inboxes = new RedisInboxes(context, this.blocking);
    this.logs = new RedisLogs(context);
    this.latency = new RedisLatency(context);
  }

  // --- containers -------------------------------------------------------------------------

  async registerContainer(reg: ContainerRegistration): Promise<ContainerRecord> {
    assertRegistration(reg);
    const k = this.keys;
    const reply = await this.script(
      'registerContainer',
      [k.epochs, k.container(reg.name), k.containers, k.leases, k.events],
      [
        reg.name,
        reg.leaseTimeoutMs,
        EVENTS_MAX_LENGTH,
        JSON.stringify({ hostAddress: reg.hostAddress, apiPort: reg.apiPort }),
        ...registrationFields(reg),
      ],
    );
    return this.requireContainer(reply, 'registerContainer');
  }

  async renewLease(id: string, epoch: number, timeoutMs: number): Promise<RenewResult> {
    assertPositiveInteger('epoch', epoch);
    assertPositiveInteger('lease timeoutMs', timeoutMs);
    const reply = await this.script('renewLease', [this.keys.container(id), this.keys.leases], [id, epoch, timeoutMs, this.sessionId]);
    const [ok, value] = Array.isArray(reply) ? reply : [];
    if (ok === 1) return { ok: true, deadlineMs: Number(value) };
    if (typeof value === 'string' && RENEW_FAILURES.has(value)) return { ok: false, reason: value as RenewFailure };
    throw new StoreError('unexpected reply from Redis to renewLease');
  }

  async getContainer(id: string): Promise<ContainerRecord | null> {
    const hash = await this.call('getContainer', () => this.redis.hgetall(this.keys.container(id)));
    return decodeContainer(hash);
  }

  /**
   * One SMEMBERS and one pipeline of HGETALLs: two round trips whatever the cluster's size, and
   * Redis serves other clients in between. (One script returning every record was measured no
   * faster for 5,000 containers and blocked Redis for ~80 ms.)
   */
  async listContainers(): Promise<ContainerRecord[]> {
    return this.call('listContainers', async () => {
      const ids = await this.redis.smembers(this.keys.containers);
      if (ids.length === 0) return [];
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hgetall(this.keys.container(id));
      const replies = (await pipeline.exec()) ?? [];
      const records: ContainerRecord[] = [];
      for (const [err, hash] of replies) {
        if (err) throw err;
        // A record removed between the two round trips is simply no longer listed.
        const record = decodeContainer(hash as Record<string, string>);
        if (record) records.push(record);
      }
      return records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }

  async deregisterContainer(id: string, epoch: number): Promise<boolean> {
    assertPositiveInteger('epoch', epoch);
    const k = this.keys;
    const reply = await this.script('deregisterContainer', [k.container(id), k.containers, k.leases, k.events], [id, epoch, EVENTS_MAX_LENGTH]);
    return reply === 1;
  }

  async removeContainer(id: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    const k = this.keys;
    const reply = await this.script(
      'removeContainer',
      [k.container(id), k.containers, k.leases, k.events],
      [id, opts.force === true ? '1' : '0', EVENTS_MAX_LENGTH],
    );
    if (!Array.isArray(reply)) throw new StoreError('unexpected reply from Redis to removeContainer');
    const [status, ...fields] = reply as unknown[];
    if (status === 'not_found' || status === 'active') return { ok: false, reason: status };
    return { ok: true, record: this.requireContainer(fields, 'removeContainer') };
  }

  async setAvailability(id: string, availability: Availability): Promise<ContainerRecord | null> {
    assertAvailability(availability);
    const reply = await this.script(
      'setAvailability',
      [this.keys.container(id), this.keys.events],
      [id, availability, AVAILABILITY_EVENTS[availability], EVENTS_MAX_LENGTH],
    );
    return decodeContainer(pairsToHash(reply));
  }

  async expireDisconnected(windowMs: number, trustAfterMs: number, limit: number = EXPIRE_BATCH_LIMIT): Promise<string[]> {
    assertPositiveInteger('expire limit', limit);
    assertNonNegativeInteger('windowMs', windowMs);
    assertNonNegativeInteger('trustAfterMs', trustAfterMs);
    const k = this.keys;
    const suspects = await this.script('suspectLeases', [k.leases], [k.containerPrefix, windowMs, limit]);
    if (!Array.isArray(suspects) || suspects.length === 0) return [];
    // Right after a Redis restart every session is new and not every container has renewed on
    // its new one yet: the sessions say nothing then, so leave it to the leases.
    if (!(await this.sessionsTrusted(trustAfterMs))) return [];
    const pairs = suspects.map(String);
    const alive = await this.liveSessions(pairs.filter((_, i) => i % 2 === 1));
    const gone: string[] = [];
    for (let i = 0; i < pairs.length; i += 2) if (!alive.has(pairs[i + 1]!)) gone.push(pairs[i]!, pairs[i + 1]!);
    if (gone.length === 0) return [];
    const reply = await this.script('markDisconnected', [k.leases, k.events], [k.containerPrefix, windowMs, EVENTS_MAX_LENGTH, ...gone]);
    if (!Array.isArray(reply)) throw new StoreError('unexpected reply from Redis to markDisconnected');
    return reply.map(String);
  }

  async lateContainers(windowMs: number, lateFactor: number, limit: number = EXPIRE_BATCH_LIMIT): Promise<LateContainer[]> {
    assertPositiveInteger('late limit', limit);
    assertNonNegativeInteger('windowMs', windowMs);
    if (!(lateFactor > 0)) throw new StoreError(`lateFactor must be > 0, got ${lateFactor}`);
    const reply = await this.script('lateLeases', [this.keys.leases], [this.keys.containerPrefix, windowMs, lateFactor, limit]);
    if (!Array.isArray(reply)) throw new StoreError('unexpected reply from Redis to lateLeases');
    const flat = reply.map(String);
    const late: LateContainer[] = [];
    for (let i = 0; i + 4 < flat.length; i += 5) {
      late.push({ id: flat[i]!, epoch: Number(flat[i + 1]), lastRenewalMs: Number(flat[i + 2]), hostAddress: flat[i + 3]!, apiPort: Number(flat[i + 4]) });
    }
    return late;
  }

  async markUnreachable(late: LateContainer[]): Promise<string[]> {
    if (late.length === 0) return [];
    const k = this.keys;
    const triples = late.flatMap((c) => [c.id, String(c.epoch), String(c.lastRenewalMs)]);
    const reply = await this.script('markUnreachable', [k.leases, k.events], [k.containerPrefix, EVENTS_MAX_LENGTH, ...triples]);
    if (!Array.isArray(reply)) throw new StoreError('unexpected reply from Redis to markUnreachable');
    return reply.map(String);
  }

  async expireLeases(limit: number = EXPIRE_BATCH_LIMIT): Promise<string[]> {
    assertPositiveInteger('expire limit', limit);
    const reply = await this.script('expireLeases', [this.keys.leases, this.keys.events], [this.keys.containerPrefix, limit, EVENTS_MAX_LENGTH]);
    if (!Array.isArray(reply)) throw new StoreError('unexpected reply from Redis to expireLeases');
    return reply.map(String);
  }

  // --- fencing ----------------------------------------------------------------------------

  /** One HSET: it replaces owner and epoch together, so it needs no script. */
  async assignFence(resource: string, fence: Fence): Promise<void> {
    assertResource(resource);
    assertFence(fence);
    await this.call('assignFence', () => this.redis.hset(this.keys.fence(resource), 'owner', fence.owner, 'epoch', String(fence.epoch)));
  }

  async fencedWrite(resource: string, fence: Fence, fields: Record<string, string>): Promise<FencedWriteResult> {
    assertResource(resource);
    assertFence(fence);
    const reply = await this.script(
      'fencedWrite',
      [this.keys.fence(resource), this.keys.fenceData(resource)],
      [fence.owner, fence.epoch, ...Object.entries(fields).flat()],
    );
    if (reply === 'ok') return { ok: true };
    if (typeof reply === 'string' && FENCE_FAILURES.has(reply)) return { ok: false, reason: reply as FenceFailure };
    throw new StoreError('unexpected reply from Redis to fencedWrite');
  }

  async readResource(resource: string): Promise<Record<string, string>> {
    assertResource(resource);
    return this.call('readResource', () => this.redis.hgetall(this.keys.fenceData(resource)));
  }

  // --- managers and leadership ------------------------------------------------------------

  async acquireLeadership(managerId: string, ttlMs: number): Promise<LeadershipResult> {
    assertPositiveInteger('leadership ttlMs', ttlMs);
    const k = this.keys;
    const reply = await this.script('acquireLeadership', [k.leader, k.leaderTerm, k.events, k.leaderSession], [managerId, ttlMs, EVENTS_MAX_LENGTH, this.sessionId]);
    if (!Array.isArray(reply) || reply.length !== 3) throw new StoreError('unexpected reply from Redis to acquireLeadership');
    const [isLeader, leaderId, term] = reply as unknown[];
    return { isLeader: isLeader === 1, leaderId: String(leaderId), term: Number(term) };
  }

  async releaseLeadership(managerId: string): Promise<void> {
    await this.script('releaseLeadership', [this.keys.leader, this.keys.leaderSession], [managerId]);
  }

  async endDeadLeadership(leaderId: string, trustAfterMs: number): Promise<boolean> {
    assertNonNegativeInteger('trustAfterMs', trustAfterMs);
    const k = this.keys;
    const session = await this.call('getLeaderSession', () => this.redis.get(k.leaderSession));
    if (session === null || session === '' || !(await this.sessionsTrusted(trustAfterMs))) return false;
    if ((await this.liveSessions([session])).has(session)) return false;
    return (await this.script('endDeadLeadership', [k.leader, k.leaderSession], [leaderId, session])) === 1;
  }

  /** Right after a Redis restart every session is new: recorded ones say nothing until then. */
  private async sessionsTrusted(trustAfterMs: number): Promise<boolean> {
    const uptime = /uptime_in_seconds:(\d+)/.exec(await this.call('info', () => this.redis.info('server')))?.[1];
    return uptime !== undefined && Number(uptime) * 1_000 >= trustAfterMs;
  }

  /** Which of `sessions` (CLIENT IDs) are connected now. */
  private async liveSessions(sessions: string[]): Promise<Set<string>> {
    const listed = await this.call('clientList', () => this.redis.call('CLIENT', 'LIST', 'ID', ...sessions) as Promise<string>);
    return new Set([...listed.matchAll(/(?:^|\n)id=(\d+) /g)].map((m) => m[1]!));
  }

  async getLeader(): Promise<{ leaderId: string | null; term: number }> {
    const [leaderId, term] = await this.call('getLeader', () => this.redis.mget(this.keys.leader, this.keys.leaderTerm));
    return { leaderId: leaderId ?? null, term: term == null ? 0 : Number(term) };
  }

  async heartbeatManager(info: ManagerInfo, ttlMs: number): Promise<void> {
    assertManagerInfo(info);
    assertPositiveInteger('manager ttlMs', ttlMs);
    await this.script('heartbeatManager', [this.keys.manager(info.id), this.keys.managerDeadlines], [info.id, ttlMs, ...managerFields(info)]);
  }

  async listManagers(): Promise<ManagerPresence[]> {
    const reply = await this.script('listManagers', [this.keys.managerDeadlines], [this.keys.managerPrefix]);
    if (!Array.isArray(reply)) throw new StoreError('unexpected reply from Redis to listManagers');
    return reply
      .map((pairs) => decodeManager(pairsToHash(pairs)))
      .filter((m): m is ManagerPresence => m !== null)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async removeManager(id: string): Promise<void> {
    await this.call('removeManager', async () => {
      const replies = await this.redis.multi().del(this.keys.manager(id)).zrem(this.keys.managerDeadlines, id).exec();
      const failed = replies?.find(([err]) => err);
      if (failed?.[0]) throw failed[0];
    });
  }

  // --- events -----------------------------------------------------------------------------

  async appendEvent(type: ClusterEventType, fields: EventFields = { data: {} }): Promise<ClusterEvent> {
    assertEventFields(fields);
    const reply = await this.script('appendEvent', [this.keys.events], [EVENTS_MAX_LENGTH, type, ...eventArgs(fields)]);
    if (!Array.isArray(reply) || reply.length !== 2) throw new StoreError('unexpected reply from Redis to appendEvent');
    const [id, atMs] = reply as unknown[];
    // Built from what was written rather than read back (one round trip), in the stream's shape.
    return decodeEvent([
      String(id),
      ['type', type, 'atMs', String(atMs), 'data', JSON.stringify(fields.data ?? {}), ...optionalEventPairs(fields)],
    ]);
  }

  async lastEventId(): Promise<string | null> {
    const newest = await this.call('lastEventId', () => this.redis.xrevrange(this.keys.events, '+', '-', 'COUNT', 1));
    return newest[0]?.[0] ?? null;
  }

  async listEvents(query: EventQuery = {}): Promise<ClusterEvent[]> {
    assertEventQuery(query);
    const { afterId, limit } = query;
    if (limit === 0) return [];
    const key = this.keys.events;
    const entries = await this.call('listEvents', async () => {
      if (afterId !== undefined) {
        // '(' makes the start exclusive (Redis 6.2+).
        return limit === undefined
          ? this.redis.xrange(key, `(${afterId}`, '+')
          : this.redis.xrange(key, `(${afterId}`, '+', 'COUNT', limit);
      }
      if (limit !== undefined) return (await this.redis.xrevrange(key, '+', '-', 'COUNT', limit)).reverse();
      return this.redis.xrange(key, '-', '+');
    });
    return entries.map(decodeEvent);
  }

  // --- shipped logs and latency reports (ObservabilityStore; see observability/) ----------

  appendLogs(records: readonly LogRecord[]): Promise<void> {
    return this.logs.append(records);
  }

  readLogs(query: LogQuery): Promise<LogPage> {
    return this.logs.read(query);
  }

  putLatency(report: LatencyReport, ttlMs: number): Promise<void> {
    return this.latency.put(report, ttlMs);
  }

  listLatency(containerIds: readonly string[]): Promise<LatencyReport[]> {
    return this.latency.list(containerIds);
  }

  // --- agents, mailboxes, turns, topics, inboxes (MessageStore; see messaging/) ----------

  createAgent(agent: NewAgent): Promise<boolean> {
    return this.agents.create(agent);
  }

  getAgent(id: string): Promise<AgentRecord | null> {
    return this.agents.get(id);
  }

  listAgents(): Promise<AgentRecord[]> {
    return this.agents.list();
  }

  listAgentsOn(containerId: string): Promise<string[]> {
    return this.agents.listOn(containerId);
  }

  listAgentsPage(limit: number): Promise<{ agents: AgentRecord[]; total: number }> {
    return this.agents.page(limit);
  }

  agentsOnVersion(containerId: string): Promise<number> {
    return this.agents.version(containerId);
  }

  assignAgent(id: string, owner: Fence | null, state: AgentState, opts?: AssignAgentOptions): Promise<AgentRecord | null> {
    return this.agents.assign(id, owner, state, opts);
  }

  setAgentState(id: string, state: AgentState, opts?: { fence?: Fence; error?: string }): Promise<boolean> {
    return this.agents.setState(id, state, opts);
  }

  deleteAgent(id: string): Promise<boolean> {
    return this.agents.delete(id);
  }

  appendMessage(agentId: string, message: MailboxMessage): Promise<AppendResult> {
    return this.mailboxes.append(agentId, message);
  }

  readMailbox(agentId: string, afterEntryId: string, limit?: number): Promise<MailboxEntry[]> {
    return this.mailboxes.read(agentId, afterEntryId, limit);
  }

  mailboxDepth(agentId: string): Promise<number> {
    return this.mailboxes.depth(agentId);
  }

  loadAgentState(agentId: string): Promise<string | null> {
    return this.mailboxes.loadState(agentId);
  }

  commitTurn(agentId: string, fence: Fence, commit: TurnCommit): Promise<CommitResult> {
    return this.mailboxes.commit(agentId, fence, commit);
  }

  lastReply(agentId: string): Promise<LastReply | null> {
    return this.mailboxes.lastReply(agentId);
  }

  subscribe(topic: string, agentId: string): Promise<void> {
    return this.topics.subscribe(topic, agentId);
  }

  unsubscribe(topic: string, agentId: string): Promise<void> {
    return this.topics.unsubscribe(topic, agentId);
  }

  subscribers(topic: string): Promise<string[]> {
    return this.topics.subscribers(topic);
  }

  pushInbox(inbox: string, entry: Omit<InboxEntry, 'entryId'>, options?: PushInboxOptions): Promise<string> {
    return this.inboxes.push(inbox, entry, options);
  }

  inboxTail(inbox: string): Promise<string> {
    return this.inboxes.tail(inbox);
  }

  readInbox(inbox: string, afterEntryId: string, blockMs: number, limit?: number): Promise<InboxEntry[]> {
    return this.inboxes.read(inbox, afterEntryId, blockMs, limit);
  }

  /** Open blocking-read connections (idle or in use); none until the first blocking read. */
  get blockingConnections(): number {
    return this.blocking.size;
  }

  // --- health -----------------------------------------------------------------------------

  async ping(): Promise<number> {
    return this.call('ping', async () => {
      const started = performance.now();
      await this.redis.ping();
      return performance.now() - started;
    });
  }

  async now(): Promise<number> {
    const [seconds, micros] = await this.call('now', () => this.redis.time());
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  async close(): Promise<void> {
    await this.blocking.close();
    this.redis.off('error', this.onConnectionError);
    this.redis.off('ready', this.onReady);
    // QUIT lets pending replies arrive; when Redis is away there is nothing to wait for.
    if (this.redis.status === 'ready') {
      try {
        await this.redis.quit();
        return;
      } catch {
        // Fall through to a hard disconnect.
      }
    }
    this.redis.disconnect();
  }

  // --- internals --------------------------------------------------------------------------

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toStoreError(operation, err, this.lastConnectionError);
    }
  }

  private script(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.call(name, () => this.runScript(name, keys, args));
  }

  private requireContainer(reply: unknown, operation: string): ContainerRecord {
    const record = decodeContainer(pairsToHash(reply));
    if (!record) throw new StoreError(`unexpected empty reply from Redis to ${operation}`);
    return record;
  }
}

function optionalEventPairs(fields: EventFields): string[] {
  const pairs: string[] = [];
  if (fields.containerId !== undefined) pairs.push('containerId', fields.containerId);
  if (fields.epoch !== undefined) pairs.push('epoch', String(fields.epoch));
  if (fields.managerId !== undefined) pairs.push('managerId', fields.managerId);
  return pairs;
}
