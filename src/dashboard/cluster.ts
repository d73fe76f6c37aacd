/**
 * What the page knows of the cluster, and how it stays current: one fetch of containers, status
 * and load (and of the agents while a view shows them), refetched when the event stream says
 * something relevant happened. The stream is read with `fetch` (EventSource cannot send an
 * Authorization header) and resumed after the last event id; while it is down the page polls.
 */
import type { ClusterStatus, ContainerList, ContainerView, EventView } from '../protocol/api.js';
import type { AgentList, AgentView, Distribution } from '../protocol/agents-api.js';
import { PATHS } from '../protocol/paths.js';
import { SseParser } from '../client/sse-parser.js';
import { ApiError, describeError, type Api } from './api.js';
import { sleep } from './format.js';

/** How the page hears of changes: the SSE stream, or polling while the stream is down. */
export type LiveMode = 'connecting' | 'live' | 'polling';
export type Topic = 'containers' | 'agents' | 'events' | 'mode';

/** Events kept for the feeds (newest last). */
export const EVENTS_KEPT = 500;
/** Events read at start, so the feed is not empty. */
export const EVENTS_BACKLOG = 100;
/** Several events in a burst (a failover moves many agents) give one refetch. */
export const REFRESH_DEBOUNCE_MS = 200;
/** Polling while the stream is down. */
export const POLL_INTERVAL_MS = 3_000;
/** A refetch even while the stream is up: lease renewals, turns and mailbox depths send no events. */
export const LIVE_REFRESH_MS = 10_000;
export const STREAM_RETRY_INITIAL_MS = 500;
export const STREAM_RETRY_MAX_MS = 10_000;
/** The most agents one list call returns (the API's bound). */
export const AGENTS_LIMIT = 10_000;
/** The agents read first, so the table shows rows before the whole list has come. */
export const AGENTS_FIRST_PAGE = 200;

export type Load = Distribution['containers'][number];

export interface Snapshot {
  status: ClusterStatus | null;
  containers: ContainerView[];
  /** The container list has been read at least once. */
  containersLoaded: boolean;
  load: ReadonlyMap<string, Load>;
  /** null until first fetched (only while a view needs them). */
  agents: AgentView[] | null;
  agentsTotal: number;
  /** False while only the first page of agents has come. */
  agentsComplete: boolean;
  events: EventView[];
  mode: LiveMode;
  /** The last refetch's failure, shown on the page; null when it worked. */
  error: string | null;
}

/** Runs `fn` once at a time; a call while it runs makes it run once more after. */
class Coalesced {
  private running: Promise<void> | null = null;
  private again = false;
  constructor(private readonly fn: () => Promise<void>) {}

  run(): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.fn();
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }
}

export class Cluster {
  readonly snapshot: Snapshot = {
    status: null,
    containers: [],
    containersLoaded: false,
    load: new Map(),
    agents: null,
    agentsTotal: 0,
    agentsComplete: false,
    events: [],
    mode: 'connecting',
    error: null,
  };
  private readonly listeners = new Set<(topic: Topic) => void>();
  private readonly containersFetch = new Coalesced(() => this.fetchContainers());
  private readonly agentsFetch = new Coalesced(() => this.fetchAgents());
  private agentViews = 0;
  private lastEventId: string | null = null;
  private readonly stopped = new AbortController();
  private debounce: { containers?: ReturnType<typeof setTimeout>; agents?: ReturnType<typeof setTimeout> } = {};
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private lastRefreshMs = 0;
  private firstPageSeen: () => void = () => undefined;
  /** Settles when the first agents have been read (or failed to be). */
  private readonly firstAgentsPage = new Promise<void>((resolve) => {
    this.firstPageSeen = resolve;
  });

  constructor(private readonly api: Api) {}

  start(): void {
    // The first view mounts right after this: if it shows agents, their first page goes first,
    // because the overview's reads (status, distribution) read every agent too and would slow it.
    setTimeout(() => {
      void (this.agentViews > 0 ? this.firstAgentsPage : Promise.resolve()).then(() => this.containersFetch.run());
    }, 0);
    void this.startEvents();
    this.pollTimer = setInterval(() => this.tick(), POLL_INTERVAL_MS);
  }

  stop(): void {
    this.stopped.abort();
    clearInterval(this.pollTimer);
    clearTimeout(this.debounce.containers);
    clearTimeout(this.debounce.agents);
    this.listeners.clear();
  }

  on(listener: (topic: Topic) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A view that shows agents holds this while mounted; the agents are fetched only then. */
  needAgents(): () => void {
    this.agentViews++;
    if (this.agentViews === 1 || this.snapshot.agents === null) void this.agentsFetch.run();
    return () => {
      this.agentViews--;
    };
  }

  refreshContainers(): Promise<void> {
    return this.containersFetch.run();
  }

  refreshAgents(): Promise<void> {
    return this.agentViews > 0 ? this.agentsFetch.run() : Promise.resolve();
  }

  private emit(topic: Topic): void {
    for (const listener of this.listeners) listener(topic);
  }

  private soon(what: 'containers' | 'agents'): void {
    if (this.debounce[what] !== undefined) return;
    this.debounce[what] = setTimeout(() => {
      this.debounce[what] = undefined;
      void (what === 'containers' ? this.refreshContainers() : this.refreshAgents());
    }, REFRESH_DEBOUNCE_MS);
  }

  /**
   * The three reads behind the overview, each applied as soon as it arrives: the container list
   * is quick, while status and distribution read every agent, so the table does not wait for them.
   */
  private async fetchContainers(): Promise<void> {
    const signal = this.stopped.signal;
    const errors: string[] = [];
    const apply = async <T>(read: Promise<T>, use: (value: T) => void): Promise<void> => {
      try {
        use(await read);
        this.emit('containers');
      } catch (err) {
        if (!signal.aborted) errors.push(describeError(err));
      }
    };
    await Promise.all([
      apply(this.api.get<ContainerList>(`${PATHS.containers}?include_inactive=true`, signal), (list) => {
        this.snapshot.containers = list.containers.sort((a, b) => a.container_id.localeCompare(b.container_id));
        this.snapshot.containersLoaded = true;
      }),
      apply(this.api.get<Distribution>(PATHS.distribution, signal), (distribution) => {
        this.snapshot.load = new Map(distribution.containers.map((c) => [c.container_id, c]));
      }),
      apply(this.api.get<ClusterStatus>(PATHS.clusterStatus, signal), (status) => {
        this.snapshot.status = status;
      }),
    ]);
    if (signal.aborted) return;
    this.lastRefreshMs = Date.now();
    // Read by the benchmark, which lets these reads end before it leaves the page.
    performance.mark('flotilla:containers-fetched');
    const error = errors[0] ?? null;
    if (error !== this.snapshot.error) {
      this.snapshot.error = error;
      this.emit('containers');
    }
  }

  /**
   * The agents list. The first time, a first page comes before the whole list: the API reads a
   * mailbox depth per agent shown, so 10,000 take seconds while the first rows take a fraction.
   */
  private async fetchAgents(): Promise<void> {
    const signal = this.stopped.signal;
    try {
      if (this.snapshot.agents === null) {
        const first = await this.api.get<AgentList>(`${PATHS.agentDeployments}?limit=${AGENTS_FIRST_PAGE}`, signal);
        this.snapshot.agents = first.agents;
        this.snapshot.agentsTotal = first.total;
        this.snapshot.agentsComplete = first.agents.length >= first.total;
        this.firstPageSeen();
        this.emit('agents');
        if (this.snapshot.agentsComplete) return;
      }
      const list = await this.api.get<AgentList>(`${PATHS.agentDeployments}?limit=${AGENTS_LIMIT}`, signal);
      this.snapshot.agents = list.agents;
      this.snapshot.agentsTotal = list.total;
      this.snapshot.agentsComplete = true;
      this.snapshot.error = null;
    } catch (err) {
      if (signal.aborted) return;
      this.snapshot.error = describeError(err);
    } finally {
      this.firstPageSeen();
    }
    this.emit('agents');
  }

  private tick(): void {
    if (this.snapshot.mode !== 'live') {
      void this.pollEvents();
      void this.refreshContainers();
      void this.refreshAgents();
    } else if (Date.now() - this.lastRefreshMs >= LIVE_REFRESH_MS) {
      void this.refreshContainers();
      void this.refreshAgents();
    }
  }

  private setMode(mode: LiveMode): void {
    if (this.snapshot.mode === mode) return;
    this.snapshot.mode = mode;
    this.emit('mode');
  }

  private addEvents(events: readonly EventView[]): void {
    if (events.length === 0) return;
    let containers = false;
    let agents = false;
    for (const e of events) {
      if (this.lastEventId !== null && compareIds(e.id, this.lastEventId) <= 0) continue;
      this.lastEventId = e.id;
      this.snapshot.events.push(e);
      if (e.type.startsWith('agent_')) agents = true;
      // Every event can change the counts: placements change the load, a leader change the status.
      containers = true;
    }
    if (this.snapshot.events.length > EVENTS_KEPT) this.snapshot.events.splice(0, this.snapshot.events.length - EVENTS_KEPT);
    this.emit('events');
    if (containers) this.soon('containers');
    if (agents) this.soon('agents');
  }

  private async pollEvents(): Promise<void> {
    try {
      const query = this.lastEventId === null ? `limit=${EVENTS_BACKLOG}` : `after=${encodeURIComponent(this.lastEventId)}&limit=1000`;
      const { events } = await this.api.get<{ events: EventView[] }>(`${PATHS.events}?${query}`, this.stopped.signal);
      this.addEvents(events);
    } catch {
      // the next tick tries again; the refetch shows the error
    }
  }

  private async startEvents(): Promise<void> {
    await this.pollEvents();
    let wait = STREAM_RETRY_INITIAL_MS;
    while (!this.stopped.signal.aborted) {
      try {
        await this.follow(() => {
          wait = STREAM_RETRY_INITIAL_MS;
        });
      } catch (err) {
        if (this.stopped.signal.aborted) return;
        // A 404 is a manager without the stream: poll only, and look again rarely.
        if (err instanceof ApiError && err.status === 404) wait = STREAM_RETRY_MAX_MS;
      }
      this.setMode('polling');
      // Whatever happened while the stream was down: read it now, then reconnect.
      void this.pollEvents();
      void this.refreshContainers();
      await sleep(wait);
      wait = Math.min(wait * 2, STREAM_RETRY_MAX_MS);
    }
  }

  /** One connection to the stream, until it ends. */
  private async follow(onOpen: () => void): Promise<void> {
    const query = this.lastEventId === null ? '' : `?after=${encodeURIComponent(this.lastEventId)}`;
    const res = await fetch(`${PATHS.eventStream}${query}`, {
      headers: this.api.headers({ accept: 'text/event-stream' }),
      cache: 'no-store',
      signal: this.stopped.signal,
    });
    if (!res.ok || res.body === null) {
      const body = (await res.json().catch(() => ({}))) as ApiError['body'];
      const err = new ApiError(res.status, { message: `event stream: HTTP ${res.status}`, ...body });
      if (res.status === 401) this.api.unauthorized(err);
      throw err;
    }
    onOpen();
    this.setMode('live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const events: EventView[] = [];
        for (const message of parser.feed(value)) {
          try {
            events.push(JSON.parse(message.data) as EventView);
          } catch {
            // not an event (the manager sends only events and comments)
          }
        }
        this.addEvents(events);
      }
    } finally {
      reader.releaseLock();
    }
  }
}

/** Stream ids `<ms>-<seq>` compared as numbers. */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
