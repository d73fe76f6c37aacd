/**
 * The actions the page can take, each reporting its progress in an op line (ops.ts): cordon,
 * uncordon, drain (watched until no agent is left on the container), deploy and migrate.
 */
import type { ContainerActionResponse } from '../protocol/api.js';
import type { AgentList, DeployBody, DeployResponse, MigrateBody, MigrateResponse } from '../protocol/agents-api.js';
import { PATHS } from '../protocol/paths.js';
import { describeError, type Api } from './api.js';
import type { Cluster } from './cluster.js';
import { sleep } from './format.js';
import { startOp } from './ops.js';

/** How often a drain's remaining agents are counted, and for how long at most. */
export const DRAIN_POLL_MS = 1_000;
export const DRAIN_WATCH_MAX_MS = 10 * 60_000;

export type ContainerAction = 'cordon' | 'uncordon' | 'drain';

export async function containerAction(api: Api, cluster: Cluster, action: ContainerAction, id: string): Promise<void> {
  const op = startOp(`${action} ${id}…`);
  try {
    await api.post<ContainerActionResponse>(PATHS.containerAction(id, action));
    void cluster.refreshContainers();
    if (action !== 'drain') {
      op.update(`${id}: ${action === 'cordon' ? 'cordoned (gets no new agents)' : 'uncordoned'}`, 'done');
      return;
    }
    const deadline = Date.now() + DRAIN_WATCH_MAX_MS;
    while (Date.now() < deadline) {
      const { total } = await api.get<AgentList>(`${PATHS.agentDeployments}?container_id=${encodeURIComponent(id)}&limit=1`);
      if (total === 0) {
        op.update(`${id} drained: no agents left on it`, 'done');
        void cluster.refreshContainers();
        return;
      }
      op.update(`draining ${id}: ${total} agent${total === 1 ? '' : 's'} left…`);
      await sleep(DRAIN_POLL_MS);
    }
    op.update(`draining ${id}: still not empty after ${DRAIN_WATCH_MAX_MS / 60_000} min; stopped watching`, 'error');
  } catch (err) {
    op.update(`${action} ${id} failed: ${describeError(err)}`, 'error');
  }
}

export async function deployAgent(api: Api, cluster: Cluster, body: DeployBody): Promise<DeployResponse | null> {
  const op = startOp(`deploying ${body.agent_type}${body.name === undefined ? '' : `/${body.name}`}…`);
  try {
    const res = await api.post<DeployResponse>(PATHS.deployAgents, body);
    op.update(res.agents.map((a) => `${a.agent_id} placed on ${a.container_id} (${a.host_address}): ${a.reason}`).join('; '), 'done');
    void cluster.refreshAgents();
    void cluster.refreshContainers();
    return res;
  } catch (err) {
    op.update(`deploy failed: ${describeError(err)}`, 'error');
    return null;
  }
}

export async function migrateAgent(api: Api, cluster: Cluster, agentId: string, body: MigrateBody): Promise<MigrateResponse | null> {
  const op = startOp(`migrating ${agentId}…`);
  const slash = agentId.indexOf('/');
  try {
    const res = await api.post<MigrateResponse>(PATHS.agentAction(agentId.slice(0, slash), agentId.slice(slash + 1), 'migrate'), body);
    op.update(`${agentId} moved from ${res.from_container_id} to ${res.container_id} (${res.host_address})`, 'done');
    void cluster.refreshAgents();
    void cluster.refreshContainers();
    return res;
  } catch (err) {
    op.update(`migrate ${agentId} failed: ${describeError(err)}`, 'error');
    return null;
  }
}
