/**
 * API paths, in one place for the manager's routes, the container's client and the CLI. Called
 * with an id they give a request path (encoded); called with a route parameter such as `:id`
 * they give the route pattern the manager registers.
 */
const seg = (id: string): string => (id.startsWith(':') ? id : encodeURIComponent(id));
export const API_PREFIX = '/api/v1';
export const PATHS = {
  health: '/health',
  ready: '/ready',
  clusterStatus: `${API_PREFIX}/cluster/status`,
  containers: `${API_PREFIX}/cluster/containers`,
  register: `${API_PREFIX}/cluster/containers/register`,
  container: (id: string) => `${API_PREFIX}/cluster/containers/${seg(id)}`,
  clusterCa: `${API_PREFIX}/cluster/ca`,
  containerAction: (id: string, action: 'heartbeat' | 'deregister' | 'cordon' | 'uncordon' | 'drain' | 'certificate') =>
    `${API_PREFIX}/cluster/containers/${seg(id)}/${action}`,
  events: `${API_PREFIX}/cluster/events`,
  eventStream: `${API_PREFIX}/cluster/events/stream`,
  deployAgents: `${API_PREFIX}/cluster/agents/deploy`,
  agentDeployments: `${API_PREFIX}/cluster/agents/deployments`,
  /** An agent id `type/name` is two path segments. */
  agent: (type: string, name: string) => `${API_PREFIX}/cluster/agents/${seg(type)}/${seg(name)}`,
  agentAction: (type: string, name: string, action: 'deployment' | 'migrate') => `${API_PREFIX}/cluster/agents/${seg(type)}/${seg(name)}/${action}`,
  clusterActions: `${API_PREFIX}/cluster/actions`,
  distribution: `${API_PREFIX}/cluster/metrics/distribution`,
  latency: `${API_PREFIX}/cluster/latency`,
  probe: `${API_PREFIX}/cluster/probe`,
  logs: `${API_PREFIX}/logs`,
} as const;

/** Authentication's own paths (public). */
export const AUTH_PATHS = {
  jwks: '/.well-known/jwks.json',
} as const;

/** Default ports, as users already have them. */
export const DEFAULT_CLUSTER_PORT = 8000;
export const DEFAULT_AGENT_PORT = 8001;
