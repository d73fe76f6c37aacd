/** GET /api/v1/cluster/metrics/distribution: where the agents are, by container, host and type. */
import type { Distribution } from '../../protocol/agents-api.js';
import type { ContainerRecord } from '../../protocol/container.js';
import { maxAgentsOf } from '../../scheduler/index.js';
import type { AgentRecord } from '../../store/messaging.js';

/** Rounded for reading: 0.333, not 0.33333333. */
function ratio(agents: number, slots: number): number | null {
  return slots > 0 ? Math.round((agents / slots) * 1_000) / 1_000 : null;
}

export function distributionOf(containers: readonly ContainerRecord[], agents: readonly AgentRecord[]): Distribution {
  const perContainer = new Map<string, number>();
  const types = new Map<string, number>();
  let unplaced = 0;
  for (const a of agents) {
    types.set(a.type, (types.get(a.type) ?? 0) + 1);
    if (a.containerId === null) unplaced += 1;
    else perContainer.set(a.containerId, (perContainer.get(a.containerId) ?? 0) + 1);
  }
  const hosts = new Map<string, { containers: number; agents: number }>();
  let activeAgents = 0;
  let activeSlots = 0;
  const views = containers.map((c) => {
    const count = perContainer.get(c.id) ?? 0;
    const slots = maxAgentsOf(c);
    const host = hosts.get(c.hostAddress) ?? { containers: 0, agents: 0 };
    host.containers += 1;
    host.agents += count;
    hosts.set(c.hostAddress, host);
    if (c.state === 'active') {
      activeAgents += count;
      activeSlots += slots;
    }
    return { container_id: c.id, host_address: c.hostAddress, state: c.state, availability: c.availability, agents: count, max_agents: slots, load_ratio: ratio(count, slots) };
  });
  return {
    total_agents: agents.length,
    unplaced_agents: unplaced,
    load_ratio: ratio(activeAgents, activeSlots),
    containers: views,
    hosts: [...hosts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([host_address, h]) => ({ host_address, ...h })),
    types: Object.fromEntries(types),
  };
}
