/**
 * A stand-in for the manager's API in the CLI's unit tests: a real HTTP server on 127.0.0.1 that
 * serves canned JSON (typed with the wire types, so it cannot drift from them silently) and
 * records every request. The real manager is exercised by the end-to-end tests.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterStatus, ContainerList, ContainerView, ErrorBody, EventView } from '../../src/protocol/api.js';

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  authorization: string | undefined;
  /** The `Last-Event-ID` header (an event stream resuming). */
  lastEventId: string | undefined;
  body: string;
}

export interface CannedAnswer {
  status: number;
  /** JSON-encoded unless it is a string, which is sent as text/html (or as `contentType`). */
  body: unknown;
  /** For a string body: its content type instead of text/html (e.g. text/event-stream). */
  contentType?: string;
  /** Send the body but leave the response open (a stream that goes on) until close(). */
  keepOpen?: boolean;
}

/**
 * Answers keyed by `METHOD /path?query`, exactly as the CLI should send them. A list is served in
 * order, its last answer again and again (a state that changes while the CLI polls).
 */
export type Routes = Record<string, CannedAnswer | CannedAnswer[]>;

export interface FakeManager {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

function notFoundBody(what: string): ErrorBody {
  return { error: 'not_found', message: `${what} not found`, status_code: 404 };
}

export async function startFakeManager(routes: Routes): Promise<FakeManager> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const url = req.url ?? '/';
      const lastEventId = req.headers['last-event-id'];
      requests.push({ method, url, authorization: req.headers.authorization, lastEventId: Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, body });
      const canned = routes[`${method} ${url}`];
      const answer = (Array.isArray(canned) ? (canned.length > 1 ? canned.shift() : canned[0]) : canned) ?? { status: 404, body: notFoundBody(`route ${method} ${url}`) };
      const isText = typeof answer.body === 'string';
      res.writeHead(answer.status, { 'content-type': isText ? (answer.contentType ?? 'text/html') : 'application/json' });
      const text = isText ? (answer.body as string) : JSON.stringify(answer.body);
      if (answer.keepOpen === true) res.write(text);
      else res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err === undefined ? resolve() : reject(err)));
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const SECOND_MS = 1_000;
const isoAgo = (ms: number): string => new Date(Date.now() - ms).toISOString();

export function containerView(id: string, overrides: Partial<ContainerView> = {}): ContainerView {
  return {
    container_id: id,
    container_name: id,
    host_address: '127.0.0.1',
    api_port: 8001,
    endpoint: 'http://127.0.0.1:8001',
    state: 'active',
    availability: 'schedulable',
    epoch: 1,
    capabilities: ['gpu'],
    labels: { zone: 'a' },
    resources: { cpu_cores: 4, max_agents: 10 },
    metadata: {},
    agent_types: ['echo', 'llm'],
    lease_interval_ms: 1_000,
    lease_timeout_ms: 3_000,
    registered_at: isoAgo(600 * SECOND_MS),
    last_heartbeat: isoAgo(SECOND_MS),
    down_at: null,
    ...overrides,
  };
}

export const ACTIVE = containerView('gpu-box-1', { epoch: 3 });
export const DOWN = containerView('office-2', {
  host_address: '127.0.0.2',
  api_port: 8101,
  endpoint: 'http://127.0.0.2:8101',
  state: 'down',
  availability: 'cordoned',
  agent_types: [],
  last_heartbeat: isoAgo(90 * SECOND_MS),
  down_at: isoAgo(87 * SECOND_MS),
});

export const ACTIVE_LIST: ContainerList = { containers: [ACTIVE], total: 1 };
export const ALL_LIST: ContainerList = { containers: [ACTIVE, DOWN], total: 2 };

export const STATUS: ClusterStatus = {
  status: 'degraded',
  timestamp: new Date().toISOString(),
  version: '0.1.0',
  cluster: {
    total_containers: 2,
    active_containers: 1,
    inactive_containers: 1,
    down_containers: 1,
    cordoned_containers: 1,
    draining_containers: 0,
    capacity: { max_agents: 10, cpu_cores: 4, memory_mb: 0, gpus: 0 },
    containers: [ACTIVE, DOWN].map((c) => ({
      container_id: c.container_id,
      host_address: c.host_address,
      state: c.state,
      availability: c.availability,
      epoch: c.epoch,
    })),
  },
  deployments: { total_agents: 5, agents_per_container: { 'gpu-box-1': 5 } },
  managers: [{ manager_id: 'mgr-a', address: '127.0.0.1:8000', leader: true, last_seen: isoAgo(300) }],
  leader: { manager_id: 'mgr-a', term: 4 },
  store: 'memory',
};

export const EVENTS: { events: EventView[] } = {
  events: [
    {
      id: '1700000000000-0',
      type: 'container_joined',
      timestamp: '2023-11-14T22:13:20.000Z',
      container_id: 'gpu-box-1',
      epoch: 3,
      data: { host_address: '127.0.0.1' },
    },
    { id: '1700000000500-0', type: 'leader_elected', timestamp: '2023-11-14T22:13:20.500Z', manager_id: 'mgr-a', data: { term: 4 } },
  ],
};

/** Runs `fn` against a fake manager serving `routes`, and closes it whatever happens. */
export async function withFake(routes: Routes, fn: (fake: FakeManager) => Promise<void>): Promise<void> {
  const fake = await startFakeManager(routes);
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

/** The line of `text` that mentions `needle`, so a row's cells can be checked together. */
export function lineWith(text: string, needle: string): string {
  const line = text.split('\n').find((l) => l.includes(needle));
  assert.ok(line !== undefined, `no line with ${needle} in:\n${text}`);
  return line;
}

export function assertNoStackTrace(stderr: string): void {
  assert.doesNotMatch(stderr, /^\s+at /m, `stack trace on stderr:\n${stderr}`);
}
