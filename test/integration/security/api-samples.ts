/**
 * One well-formed request for every manager route, keyed `METHOD url-pattern`, in an order that
 * works on a freshly seeded cluster (reads first, destructive calls last). The role matrix and the
 * fuzz test walk the app's own route table and fail on a route without a sample here, so a new
 * route cannot escape them.
 */
import type { ClusterStore } from '../../../src/store/store.js';
import type { MessageStore } from '../../../src/store/messaging.js';
import type { Access } from '../../../src/manager/access.js';
import { deployAgents } from '../../../src/manager/agents/deploy.js';
import { DEFAULT_STRATEGY } from '../../../src/scheduler/index.js';
import { newKeyAndCsr } from '../../../src/tls/index.js';

export const OWN = 'c-own';
export const OTHER = 'c-other';
export const SPARE = 'c-spare';
export const MESSAGE_ID = '6f1c8a52-3b7e-4f0e-9a51-1f2d3c4b5a69';
/** Long leases: a busy machine must not see the seeded containers go down mid-matrix. */
const LEASE = { leaseIntervalMs: 100_000, leaseTimeoutMs: 600_000 };

export interface SampleState {
  /** c-own's current epoch (register bumps it). */
  epoch: number;
}

export interface Sample {
  /** The access the route must declare: pinned here, so a route that quietly opens up fails the matrix. */
  access: Access;
  path: (s: SampleState) => string;
  body?: (s: SampleState) => unknown;
  /** Called with a 2xx answer's body. */
  after?: (s: SampleState, body: unknown) => void;
  /** An endless response (SSE): read the status, then hang up. */
  stream?: boolean;
  /** A redirect: 3xx is its success. */
  redirect?: boolean;
}

/** A real CSR for c-own (the certificate route signs it when the manager has a cluster CA). */
export const OWN_CSR = (await newKeyAndCsr(OWN)).csrPem;

const registerBody = { container_name: OWN, host_address: '127.0.0.1', agent_types: ['echo'], lease_interval_ms: 100_000, lease_timeout_ms: 600_000 };

export const SAMPLES: ReadonlyArray<[string, Sample]> = [
  ['GET /.well-known/jwks.json', { access: 'public', path: () => '/.well-known/jwks.json' }],
  ['GET /openapi.json', { access: 'public', path: () => '/openapi.json' }],
  ['GET /docs', { access: 'public', path: () => '/docs' }],
  ['GET /health', { access: 'public', path: () => '/health' }],
  ['GET /ready', { access: 'public', path: () => '/ready' }],
  ['GET /metrics', { access: 'read', path: () => '/metrics' }],
  ['GET /dashboard', { access: 'public', path: () => '/dashboard', redirect: true }],
  ['GET /dashboard/', { access: 'public', path: () => '/dashboard/' }],
  ['GET /dashboard/app.js', { access: 'public', path: () => '/dashboard/app.js' }],
  ['GET /dashboard/app.js.map', { access: 'public', path: () => '/dashboard/app.js.map' }],
  ['GET /dashboard/styles.css', { access: 'public', path: () => '/dashboard/styles.css' }],
  ['GET /api/v1/logs', { access: 'read', path: () => '/api/v1/logs?limit=5' }],
  ['GET /api/v1/cluster/latency', { access: 'read', path: () => '/api/v1/cluster/latency' }],
  // Port 1 on loopback: refused at once; the probe reports it (200, reachable: false).
  ['POST /api/v1/cluster/probe', { access: 'operate', path: () => '/api/v1/cluster/probe', body: () => ({ host: '127.0.0.1', port: 1 }) }],
  ['GET /api/v1/cluster/status', { access: 'read', path: () => '/api/v1/cluster/status' }],
  ['GET /api/v1/cluster/events', { access: 'read', path: () => '/api/v1/cluster/events' }],
  ['GET /api/v1/cluster/events/stream', { access: 'read', path: () => '/api/v1/cluster/events/stream', stream: true }],
  ['GET /api/v1/cluster/ca', { access: 'public', path: () => '/api/v1/cluster/ca' }],
  ['POST /api/v1/cluster/containers/:id/certificate', { access: 'container', path: () => `/api/v1/cluster/containers/${OWN}/certificate`, body: () => ({ csr: OWN_CSR }) }],
  ['GET /api/v1/cluster/containers', { access: 'read', path: () => '/api/v1/cluster/containers' }],
  ['GET /api/v1/cluster/containers/:id', { access: 'read', path: () => `/api/v1/cluster/containers/${OWN}` }],
  ['POST /api/v1/cluster/containers/:id/heartbeat', { access: 'container', path: () => `/api/v1/cluster/containers/${OWN}/heartbeat`, body: (s) => ({ epoch: s.epoch }) }],
  [
    'POST /api/v1/cluster/containers/register',
    { access: 'join', path: () => '/api/v1/cluster/containers/register', body: () => registerBody, after: (s, b) => (s.epoch = (b as { epoch: number }).epoch) },
  ],
  ['POST /api/v1/cluster/containers/:id/cordon', { access: 'operate', path: () => `/api/v1/cluster/containers/${OTHER}/cordon` }],
  ['POST /api/v1/cluster/containers/:id/uncordon', { access: 'operate', path: () => `/api/v1/cluster/containers/${OTHER}/uncordon` }],
  ['POST /api/v1/cluster/containers/:id/drain', { access: 'operate', path: () => `/api/v1/cluster/containers/${SPARE}/drain` }],
  ['POST /api/v1/cluster/agents/deploy', { access: 'operate', path: () => '/api/v1/cluster/agents/deploy', body: () => ({ agent_type: 'echo', name: 'a2' }) }],
  ['GET /api/v1/cluster/agents/deployments', { access: 'read', path: () => '/api/v1/cluster/agents/deployments' }],
  ['GET /api/v1/cluster/agents/:type/:name/deployment', { access: 'read', path: () => '/api/v1/cluster/agents/echo/a1/deployment' }],
  ['GET /api/v1/cluster/agents/:type/:name', { access: 'read', path: () => '/api/v1/cluster/agents/echo/a1' }],
  ['POST /api/v1/cluster/agents/:type/:name/migrate', { access: 'operate', path: () => '/api/v1/cluster/agents/echo/a1/migrate', body: () => ({}) }],
  ['POST /api/v1/cluster/actions', { access: 'operate', path: () => '/api/v1/cluster/actions', body: () => ({ action: 'health_check' }) }],
  ['GET /api/v1/cluster/metrics/distribution', { access: 'read', path: () => '/api/v1/cluster/metrics/distribution' }],
  ['POST /api/v1/agents/:type/:name/messages', { access: 'operate', path: () => '/api/v1/agents/echo/a1/messages', body: () => ({ message: 'hi', wait: false, message_id: MESSAGE_ID }) }],
  ['GET /api/v1/agents/:type/:name/messages/:message_id', { access: 'operate', path: () => `/api/v1/agents/echo/a1/messages/${MESSAGE_ID}` }],
  ['POST /api/v1/topics/:topic/subscribers', { access: 'operate', path: () => '/api/v1/topics/t1/subscribers', body: () => ({ agent_id: 'echo/a1' }) }],
  ['GET /api/v1/topics/:topic/subscribers', { access: 'read', path: () => '/api/v1/topics/t1/subscribers' }],
  ['POST /api/v1/topics/:topic/messages', { access: 'operate', path: () => '/api/v1/topics/t1/messages', body: () => ({ message: { n: 1 } }) }],
  ['DELETE /api/v1/topics/:topic/subscribers/:type/:name', { access: 'operate', path: () => '/api/v1/topics/t1/subscribers/echo/a1' }],
  ['POST /api/v1/cluster/communication/message', { access: 'operate', path: () => '/api/v1/cluster/communication/message', body: () => ({ container_id: OWN, message_type: 'ping' }) }],
  ['DELETE /api/v1/cluster/agents/:type/:name', { access: 'operate', path: () => '/api/v1/cluster/agents/echo/a2' }],
  ['DELETE /api/v1/cluster/containers/:id', { access: 'operate', path: () => `/api/v1/cluster/containers/${SPARE}?force=true` }],
  ['POST /api/v1/cluster/containers/:id/deregister', { access: 'container', path: () => `/api/v1/cluster/containers/${OWN}/deregister`, body: (s) => ({ epoch: s.epoch }) }],
];

/** Three containers serving `echo`, and agent echo/a1 placed on c-own. */
export async function seedCluster(store: ClusterStore & MessageStore): Promise<SampleState> {
  const base = { apiPort: 8001, capabilities: [], labels: {}, resources: { max_agents: 100 }, metadata: {}, agentTypes: ['echo'], ...LEASE };
  const own = await store.registerContainer({ name: OWN, hostAddress: '127.0.0.1', ...base });
  await store.registerContainer({ name: OTHER, hostAddress: '127.0.0.2', ...base });
  await store.registerContainer({ name: SPARE, hostAddress: '127.0.0.3', ...base });
  await deployAgents(store, { type: 'echo', name: 'a1', replicas: 1, config: {}, spec: { strategy: DEFAULT_STRATEGY, constraints: {}, preferredContainer: OWN } }, { value: undefined });
  return { epoch: own.epoch };
}
