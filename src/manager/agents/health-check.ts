/** The `health_check` action: container liveness, agents per container, and agents nobody runs. */
import type { HealthCheckResponse } from '../../protocol/agents-api.js';
import type { ContainerRecord } from '../../protocol/container.js';
import type { AgentRecord } from '../../store/messaging.js';
import { awaitsPlacement, byId, isSettled, orphanedBy } from './placement.js';

export function healthCheck(containers: readonly ContainerRecord[], agents: readonly AgentRecord[]): HealthCheckResponse {
  const records = byId(containers);
  const counts = new Map<string, number>();
  const orphaned: HealthCheckResponse['orphaned_agents'] = [];
  const unplaced: string[] = [];
  for (const a of agents) {
    if (a.containerId === null) {
      if (awaitsPlacement(a)) unplaced.push(a.id);
      continue;
    }
    counts.set(a.containerId, (counts.get(a.containerId) ?? 0) + 1);
    const why = isSettled(a) ? undefined : orphanedBy(a, records.get(a.containerId));
    if (why !== undefined) orphaned.push({ agent_id: a.id, container_id: a.containerId, reason: why });
  }
  const views = containers.map((c) => ({
    container_id: c.id,
    host_address: c.hostAddress,
    state: c.state,
    availability: c.availability,
    epoch: c.epoch,
    alive: c.state === 'active',
    last_heartbeat: new Date(c.lastRenewalMs).toISOString(),
    agents: counts.get(c.id) ?? 0,
  }));
  return {
    success: true,
    action: 'health_check',
    healthy: views.every((c) => c.alive) && orphaned.length === 0 && unplaced.length === 0,
    containers: views,
    orphaned_agents: orphaned,
    unplaced_agents: unplaced,
  };
}
