/**
 * The manager's cache of the container list and the agents per container, for the read paths
 * that would otherwise list everything on every request (GET /status, GET /containers, the
 * reconciler's check for changes). The store stays the truth: an entry is reused only while the
 * store's version (the newest event id, which moves with every container change in the same atomic
 * step) is unchanged and the entry is younger than the caller's bound. Concurrent readers share
 * one refresh.
 */
import type { ContainerRecord } from '../protocol/container.js';
import type { AgentState, MessageStore } from '../store/messaging.js';
import type { ClusterStore } from '../store/store.js';

/** How stale a container list may be for the status page (it shows no heartbeat times). */
export const STATUS_MAX_AGE_MS = 5_000;
/** How stale for the containers listing (it shows each last heartbeat). */
export const LIST_MAX_AGE_MS = 1_000;
/** How stale the agents-per-container counts may be (they also move with events). */
export const AGENT_COUNTS_MAX_AGE_MS = 5_000;

export interface AgentCounts {
  perContainer: Map<string, number>;
  total: number;
  /** Every agent by its recorded state (for the metrics). */
  byState: Map<AgentState, number>;
}

interface Entry<T> {
  version: string | null;
  at: number;
  value: T;
}

class VersionedCache<T> {
  private entry: Entry<T> | null = null;
  private inflight: Promise<Entry<T>> | null = null;

  constructor(
    private readonly version: () => Promise<string | null>,
    private readonly load: () => Promise<T>,
    private readonly clock: () => number,
  ) {}

  async get(maxAgeMs: number): Promise<T> {
    const version = await this.version();
    const e = this.entry;
    if (e !== null && e.version === version && this.clock() - e.at < maxAgeMs) return e.value;
    // The version is read before loading: a change during the load makes the next read refresh.
    this.inflight ??= this.load().then(
      (value) => {
        this.inflight = null;
        this.entry = { version, at: this.clock(), value };
        return this.entry;
      },
      (err: unknown) => {
        this.inflight = null;
        throw err;
      },
    );
    return (await this.inflight).value;
  }
}

export class ClusterView {
  private readonly containersCache: VersionedCache<ContainerRecord[]>;
  private readonly countsCache: VersionedCache<AgentCounts>;

  constructor(store: ClusterStore & MessageStore, clock: () => number = Date.now) {
    const version = (): Promise<string | null> => store.lastEventId();
    this.containersCache = new VersionedCache(version, () => store.listContainers(), clock);
    this.countsCache = new VersionedCache(
      version,
      async () => {
        const agents = await store.listAgents();
        const perContainer = new Map<string, number>();
        const byState = new Map<AgentState, number>();
        for (const a of agents) {
          if (a.containerId !== null) perContainer.set(a.containerId, (perContainer.get(a.containerId) ?? 0) + 1);
          byState.set(a.state, (byState.get(a.state) ?? 0) + 1);
        }
        return { perContainer, total: agents.length, byState };
      },
      clock,
    );
  }

  /** Every container, sorted by id, at most `maxAgeMs` old and current as of the store's version. */
  containers(maxAgeMs: number): Promise<ContainerRecord[]> {
    return this.containersCache.get(maxAgeMs);
  }

  /** Placed agents per container id, and all agents (placed or not). */
  agentCounts(maxAgeMs: number = AGENT_COUNTS_MAX_AGE_MS): Promise<AgentCounts> {
    return this.countsCache.get(maxAgeMs);
  }
}
