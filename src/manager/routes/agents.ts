/**
 * Agents as the control plane sees them: deploy (place and fence), list and inspect, migrate,
 * delete. An agent id `type/name` is two path segments. Running them is the containers' job; the
 * manager only decides where, fences, and tells the containers through their inboxes.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  AgentDetail,
  AgentList,
  AgentParams,
  AgentView,
  DEFAULT_AGENTS_LISTED,
  DeleteAgentResponse,
  DeployBody,
  DeployResponse,
  ListAgentsQuery,
  MAX_AGENT_CONFIG_BYTES,
  MigrateBody,
  MigrateResponse,
} from '../../protocol/agents-api.js';
import { PATHS } from '../../protocol/paths.js';
import { DEFAULT_STRATEGY } from '../../scheduler/index.js';
import type { AgentRecord, PlacementSpec } from '../../store/messaging.js';
import { mapLimit } from '../../common/concurrency.js';
import { deployAgents, type Cursor } from '../agents/deploy.js';
import { migrateAgent } from '../agents/migrate.js';
import { releaseFrom } from '../agents/moves.js';
import { byId } from '../agents/placement.js';
import { placementErrors, toAgentDetail, toAgentView } from '../agents/views.js';
import type { ManagerContext } from '../context.js';
import { HttpError, NotFoundError } from '../errors.js';

/** Store reads in flight at once for a list (records by id, mailbox depths). */
export const LIST_READ_CONCURRENCY = 32;

function specOf(b: DeployBody): PlacementSpec {
  const c = b.constraints ?? {};
  return {
    strategy: b.deployment_strategy ?? DEFAULT_STRATEGY,
    constraints: {
      ...(c.labels === undefined ? {} : { labels: c.labels }),
      ...(c.capabilities === undefined ? {} : { capabilities: c.capabilities }),
      ...(c.min_resources === undefined ? {} : { min_resources: c.min_resources }),
    },
    ...(b.preferred_container === undefined ? {} : { preferredContainer: b.preferred_container }),
    ...(b.resource_requirements === undefined ? {} : { resourceRequirements: b.resource_requirements }),
  };
}

export const agentRoutes: FastifyPluginAsyncTypebox<ManagerContext> = async (app, ctx) => {
  const { store } = ctx;
  // round_robin's position for deploys through this manager.
  const cursor: Cursor = { value: undefined };

  app.post(
    PATHS.deployAgents,
    { config: { access: 'operate' }, schema: { summary: 'Deploy agents (placed by the scheduler)', tags: ['agents'], body: DeployBody, response: { 200: DeployResponse } } },
    async (req) => {
      const b = req.body;
      const config = b.agent_config ?? {};
      if (Buffer.byteLength(JSON.stringify(config)) > MAX_AGENT_CONFIG_BYTES) {
        throw new HttpError(400, 'validation_failed', `body: agent_config must be at most ${MAX_AGENT_CONFIG_BYTES} bytes of JSON`, 'agent_config');
      }
      const deployed = await deployAgents(store, { type: b.agent_type, name: b.name, replicas: b.replicas ?? 1, config, spec: specOf(b) }, cursor);
      req.log.info({ agents: deployed.map((d) => `${d.agentId}@${d.container.id}`) }, `deployed ${deployed.length} agent(s)`);
      return {
        success: true as const,
        agents: deployed.map((d) => ({
          agent_id: d.agentId,
          container_id: d.container.id,
          host_address: d.container.hostAddress,
          state: 'activating',
          reason: d.reason,
        })),
      };
    },
  );

  app.get(
    PATHS.agentDeployments,
    { config: { access: 'read' }, schema: { summary: 'List agent deployments', tags: ['agents'], querystring: ListAgentsQuery, response: { 200: AgentList } } },
    async (req) => {
      const { container_id: on, limit = DEFAULT_AGENTS_LISTED } = req.query;
      const [containers, errors, matching] = await Promise.all([store.listContainers(), placementErrors(store), agentsMatching(on, limit)]);
      const owners = byId(containers);
      const agents = await mapLimit(matching.shown, LIST_READ_CONCURRENCY, async (a) =>
        toAgentView(a, { containers: owners, errors, mailboxDepth: await store.mailboxDepth(a.id) }),
      );
      return { agents, total: matching.total };
    },
  );

  /**
   * The first `limit` agents by id and how many match: all agents, or those a container owns (read
   * through its index, so a drain's progress polls do not read every agent).
   */
  async function agentsMatching(containerId: string | undefined, limit: number): Promise<{ shown: AgentRecord[]; total: number }> {
    if (containerId === undefined) {
      const page = await store.listAgentsPage(limit);
      return { shown: page.agents, total: page.total };
    }
    const ids = await store.listAgentsOn(containerId);
    const records = await mapLimit(ids.slice(0, limit), LIST_READ_CONCURRENCY, (id) => store.getAgent(id));
    return { shown: records.filter((a): a is AgentRecord => a !== null && a.containerId === containerId), total: ids.length };
  }

  async function viewInputs(a: AgentRecord) {
    const [owner, errors, mailboxDepth] = await Promise.all([
      a.containerId === null ? null : store.getContainer(a.containerId),
      placementErrors(store),
      store.mailboxDepth(a.id),
    ]);
    return { containers: byId(owner === null ? [] : [owner]), errors, mailboxDepth };
  }

  async function getAgent(type: string, name: string): Promise<AgentRecord> {
    const id = `${type}/${name}`;
    const agent = await store.getAgent(id);
    if (agent === null) throw new NotFoundError('agent', id);
    return agent;
  }

  app.get(
    PATHS.agentAction(':type', ':name', 'deployment'),
    { config: { access: 'read' }, schema: { summary: "One agent's deployment, without its config", tags: ['agents'], params: AgentParams, response: { 200: AgentView } } },
    async (req) => {
      const agent = await getAgent(req.params.type, req.params.name);
      return toAgentView(agent, await viewInputs(agent));
    },
  );

  app.get(
    PATHS.agent(':type', ':name'),
    { config: { access: 'read' }, schema: { summary: 'One agent, with its config', tags: ['agents'], params: AgentParams, response: { 200: AgentDetail } } },
    async (req) => {
      const agent = await getAgent(req.params.type, req.params.name);
      return toAgentDetail(agent, await viewInputs(agent));
    },
  );

  app.delete(
    PATHS.agent(':type', ':name'),
    { config: { access: 'operate' }, schema: { summary: 'Remove an agent', tags: ['agents'], params: AgentParams, response: { 200: DeleteAgentResponse } } },
    async (req) => {
      const agent = await getAgent(req.params.type, req.params.name);
      // Deleted first: the owner's next commit then fails (no_agent) even if the deactivate is lost.
      if (!(await store.deleteAgent(agent.id))) throw new NotFoundError('agent', agent.id);
      const owner = agent.containerId === null ? null : await store.getContainer(agent.containerId);
      await releaseFrom(store, owner, agent.id);
      await store.appendEvent('agent_deleted', {
        ...(agent.containerId === null ? {} : { containerId: agent.containerId, epoch: agent.epoch }),
        data: { agent_id: agent.id, container_id: agent.containerId },
      });
      req.log.info({ agent: agent.id, container: agent.containerId }, 'agent deleted');
      return { success: true as const, agent_id: agent.id, container_id: agent.containerId };
    },
  );

  app.post(
    PATHS.agentAction(':type', ':name', 'migrate'),
    {
      config: { access: 'operate' },
      schema: { summary: 'Migrate an agent to another container', tags: ['agents'], params: AgentParams, body: MigrateBody, response: { 200: MigrateResponse } },
      // Every field is optional: `curl -X POST .../migrate` without a body is the whole call.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => {
      const agentId = `${req.params.type}/${req.params.name}`;
      const preserveState = req.body.preserve_state ?? true;
      const { move, from, state } = await migrateAgent(store, { agentId, target: req.body.target_container_id, preserveState });
      req.log.info({ agent: agentId, from, to: move.to.id, preserveState }, 'agent migrated');
      return {
        success: true as const,
        agent_id: agentId,
        from_container_id: from,
        container_id: move.to.id,
        host_address: move.to.hostAddress,
        state,
        reason: move.reason,
        preserve_state: preserveState,
      };
    },
  );
};
