/**
 * The one interface to cluster state. Two implementations: Redis (production, several processes
 * and hosts) and memory (`flotilla dev`, unit tests). The contract suite in test/contract runs
 * the same scenarios against both so that they cannot drift.
 *
 * Time: every deadline is computed from the store's clock (Redis `TIME` inside scripts; the
 * memory store's injected clock), never from the caller's, so clock skew between hosts cannot
 * expire a healthy lease or keep a dead one alive.
 */
import type { Availability, ContainerRecord, ContainerRegistration } from '../protocol/container.js';
import type { ClusterEvent, ClusterEventType } from '../protocol/events.js';

/** How many events the capped event log keeps (approximately, for Redis `MAXLEN ~`). */
export const EVENTS_MAX_LENGTH = 10_000;
/** Upper bound on leases the failure detector expires in one pass; the rest wait for the next. */
export const EXPIRE_BATCH_LIMIT = 1_000;

export type RenewFailure = 'unknown' | 'stale_epoch' | 'down';
export type RenewResult = { ok: true; deadlineMs: number } | { ok: false; reason: RenewFailure };

export type RemoveResult = { ok: true; record: ContainerRecord } | { ok: false; reason: 'not_found' | 'active' };

/** A container late with its renewal, lease not lapsed yet: the failure detector probes it. */
export interface LateContainer {
  id: string;
  epoch: number;
  /** The store-clock time of its last renewal: marking it down checks it has not renewed since. */
  lastRenewalMs: number;
  hostAddress: string;
  apiPort: number;
}

export type FenceFailure = 'no_fence' | 'not_owner' | 'stale_epoch';
export type FencedWriteResult = { ok: true } | { ok: false; reason: FenceFailure };

/** A token that proves who may write: a container and the epoch of its current registration. */
export interface Fence {
  owner: string;
  epoch: number;
}

export interface LeadershipResult {
  /** True when `managerId` holds (or just took) the leader lease. */
  isLeader: boolean;
  /** The current leader's id, if any. */
  leaderId: string | null;
  /** Increases each time leadership changes hands. */
  term: number;
}

export interface ManagerInfo {
  id: string;
  address: string;
  version: string;
  startedAtMs: number;
}

export interface ManagerPresence extends ManagerInfo {
  lastSeenMs: number;
}

export interface EventQuery {
  /** Only events with an id strictly after this one (`<ms>-<seq>`). */
  afterId?: string;
  /** At most this many: the next ones after `afterId`, else the newest. Always oldest first. */
  limit?: number;
}

export interface ClusterStore {
  /** Store kind, for logs and `/status`. */
  readonly kind: 'redis' | 'memory';

  // --- containers -------------------------------------------------------------------------
  /**
   * Atomically: bump the name's epoch (epochs never go down, even across removal), write the
   * record as `active`/`schedulable` (keeping a previous `cordoned`/`draining` availability),
   * start its lease, and log `container_joined`.
   */
  registerContainer(reg: ContainerRegistration): Promise<ContainerRecord>;
  /** Extend the lease if `epoch` is the current one and the container is not `down`. */
  renewLease(id: string, epoch: number, timeoutMs: number): Promise<RenewResult>;
  getContainer(id: string): Promise<ContainerRecord | null>;
  /** Every container record, sorted by id. */
  listContainers(): Promise<ContainerRecord[]>;
  /**
   * A container leaving on its own (SIGTERM): removes the record if `epoch` is current, logs
   * `container_left`. Returns false when the epoch is stale (a newer incarnation exists).
   */
  deregisterContainer(id: string, epoch: number): Promise<boolean>;
  /** An operator removing a record; refused for an `active` container unless `force`. */
  removeContainer(id: string, opts?: { force?: boolean }): Promise<RemoveResult>;
  /**
   * Set availability and log the matching event (`container_cordoned`, `container_draining`,
   * `container_uncordoned`) when it changes; null when the container is unknown.
   */
  setAvailability(id: string, availability: Availability): Promise<ContainerRecord | null>;
  /**
   * The failure detector's step: every `active` container whose lease deadline has passed is
   * marked `down` (with `downAtMs`), its lease removed, and `container_down` logged. Returns
   * the ids marked down, at most `limit`.
   */
  expireLeases(limit?: number): Promise<string[]>;
  /**
   * The failure detector's fast path: marks `down` every `active` container whose lease lapses
   * within `windowMs` (it missed renewals) AND whose store session is gone (the Redis connection
   * it last renewed on no longer exists: its process died and the kernel closed its sockets).
   * A live container that is merely slow keeps its connection and is left to its lease. Right
   * after a store restart every session is new and the old ones are all gone, so sessions are
   * trusted only once the store has been up `trustAfterMs` (by then every live container has
   * renewed on its new session). Stores without sessions (memory) return []. Returns the ids.
   */
  expireDisconnected(windowMs: number, trustAfterMs: number, limit?: number): Promise<string[]>;
  /**
   * The failure detector's probe path, part one: `active` containers whose lease lapses within
   * `windowMs` and that have not renewed for more than `lateFactor` times their own renewal
   * interval. At most `limit`.
   */
  lateContainers(windowMs: number, lateFactor: number, limit?: number): Promise<LateContainer[]>;
  /**
   * Part two: marks `down` (reason `unreachable`) each given container that did not answer the
   * probe, if nothing changed since it was found late (still `active`, same epoch, no renewal
   * since). Returns the ids marked down.
   */
  markUnreachable(late: LateContainer[]): Promise<string[]>;

  // --- fencing primitive ------------------------------------------------------------------
  /** Make `fence` the only writer of `resource` (called by the control plane on placement). */
  assignFence(resource: string, fence: Fence): Promise<void>;
  /**
   * Write fields of `resource` only if `fence` is the one assigned (same owner, same epoch: an
   * older or a newer epoch is `stale_epoch`); nothing is written otherwise.
   */
  fencedWrite(resource: string, fence: Fence, fields: Record<string, string>): Promise<FencedWriteResult>;
  readResource(resource: string): Promise<Record<string, string>>;

  // --- managers and leadership ------------------------------------------------------------
  /**
   * Take the leader lease if free (a new term, `leader_elected` logged), or extend it if held by
   * `managerId` (same term).
   */
  acquireLeadership(managerId: string, ttlMs: number): Promise<LeadershipResult>;
  /** Give up the lease if held by `managerId` (on clean shutdown). */
  releaseLeadership(managerId: string): Promise<void>;
  /**
   * The leader fast path, asked by a standby that found `leaderId` holding the lease: if the
   * store session the leader last renewed on is gone (its process died, the kernel closed its
   * sockets), end its lease now so the caller can take it. Sessions are trusted only once the
   * store has been up `trustAfterMs`, as in expireDisconnected. Stores without sessions (memory)
   * return false. Returns true when it ended the lease.
   */
  endDeadLeadership(leaderId: string, trustAfterMs: number): Promise<boolean>;
  getLeader(): Promise<{ leaderId: string | null; term: number }>;
  /** Record that a manager is alive until now + ttlMs. */
  heartbeatManager(info: ManagerInfo, ttlMs: number): Promise<void>;
  /** Managers whose presence has not expired. */
  listManagers(): Promise<ManagerPresence[]>;
  removeManager(id: string): Promise<void>;

  // --- events -----------------------------------------------------------------------------
  appendEvent(type: ClusterEventType, fields?: Omit<ClusterEvent, 'id' | 'type' | 'atMs'>): Promise<ClusterEvent>;
  listEvents(query?: EventQuery): Promise<ClusterEvent[]>;
  /**
   * The newest event's id (null before any), in one cheap call. Every change to a container's
   * membership, state, availability or epoch logs an event in the same atomic step, so an
   * unchanged id means an unchanged set of containers: caches use it as their version.
   */
  lastEventId(): Promise<string | null>;

  // --- health -----------------------------------------------------------------------------
  /** Round trip to the store in milliseconds; throws StoreUnavailableError when it does not answer. */
  ping(): Promise<number>;
  /** The store's current time in epoch milliseconds. */
  now(): Promise<number>;
  close(): Promise<void>;
}

export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The store could not be reached or did not answer in time. */
export class StoreUnavailableError extends StoreError {
  override readonly name = 'StoreUnavailableError';
}
