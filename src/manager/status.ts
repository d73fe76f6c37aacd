import type { ClusterStatus } from '../protocol/api.js';
import type { ContainerRecord } from '../protocol/container.js';
import type { ManagerPresence } from '../store/store.js';
import { VERSION } from '../common/version.js';

/** Agents a container takes when it does not declare `max_agents`. */
export const DEFAULT_MAX_AGENTS_PER_CONTAINER = 100;

export interface ClusterSnapshot {
  containers: ContainerRecord[];
  leader: { leaderId: string | null; term: number };
  managers: ManagerPresence[];
  storeKind: string;
  now: number;
  /** Agents per container id; empty until agents exist. */
  agentsPerContainer?: Record<string, number>;
  /** Every agent, placed or not; default: the sum of agentsPerContainer over known containers. */
  totalAgents?: number;
}

/** The body of GET /api/v1/cluster/status, computed from one snapshot of the store. */
export function summarizeCluster(s: ClusterSnapshot): ClusterStatus {
  let active = 0;
  let down = 0;
  let cordoned = 0;
  let draining = 0;
  const capacity = { max_agents: 0, cpu_cores: 0, memory_mb: 0, gpus: 0 };
  for (const c of s.containers) {
    if (c.state === 'down') {
      down += 1;
      continue;
    }
    active += 1;
    if (c.availability === 'cordoned') cordoned += 1;
    if (c.availability === 'draining') draining += 1;
    // Capacity counts only what can take new agents.
    if (c.availability !== 'schedulable') continue;
    capacity.max_agents += c.resources.max_agents ?? DEFAULT_MAX_AGENTS_PER_CONTAINER;
    capacity.cpu_cores += c.resources.cpu_cores ?? 0;
    capacity.memory_mb += c.resources.memory_mb ?? 0;
    capacity.gpus += c.resources.gpus ?? 0;
  }
  const agentsPerContainer: Record<string, number> = {};
  // Own keys only: `constructor` is a valid container id.
  for (const c of s.containers) agentsPerContainer[c.id] = s.agentsPerContainer !== undefined && Object.hasOwn(s.agentsPerContainer, c.id) ? (s.agentsPerContainer[c.id] ?? 0) : 0;
  const totalAgents = s.totalAgents ?? Object.values(agentsPerContainer).reduce((a, b) => a + b, 0);
  const status = down === 0 ? 'healthy' : active > 0 ? 'degraded' : 'unavailable';
  return {
    status,
    timestamp: new Date(s.now).toISOString(),
    version: VERSION,
    cluster: {
      total_containers: s.containers.length,
      active_containers: active,
      inactive_containers: down,
      down_containers: down,
      cordoned_containers: cordoned,
      draining_containers: draining,
      capacity,
      containers: s.containers
        .map((c) => ({ container_id: c.id, host_address: c.hostAddress, state: c.state, availability: c.availability, epoch: c.epoch }))
        .sort((a, b) => (a.container_id < b.container_id ? -1 : 1)),
    },
    deployments: { total_agents: totalAgents, agents_per_container: agentsPerContainer },
    managers: s.managers
      .map((m) => ({ manager_id: m.id, address: m.address, leader: m.id === s.leader.leaderId, last_seen: new Date(m.lastSeenMs).toISOString() }))
      .sort((a, b) => (a.manager_id < b.manager_id ? -1 : 1)),
    leader: { manager_id: s.leader.leaderId, term: s.leader.term },
    store: s.storeKind,
  };
}
