/**
 * The agents API over real HTTP (an in-process manager on the memory store, fake containers):
 * where deploy puts agents under each strategy and constraint, that a refused deploy writes
 * nothing, and what migrate, delete, the cluster actions, the distribution and /status record.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ErrorBody } from '../../src/protocol/api.js';
import type { AgentDetail, AgentList, AgentView, DeployResponse, Distribution, HealthCheckResponse, MigrateResponse, RebalanceResponse } from '../../src/protocol/agents-api.js';
import type { ClusterStatus } from '../../src/protocol/api.js';
import { startAgentCluster, type AgentCluster } from '../helpers/agent-cluster.js';

const DEPLOY = '/api/v1/cluster/agents/deploy';
const LIST = '/api/v1/cluster/agents/deployments';

async function withCluster(fn: (c: AgentCluster) => Promise<void>): Promise<void> {
  const cluster = await startAgentCluster();
  try {
    await fn(cluster);
  } finally {
    await cluster.close();
  }
}

async function deploy(c: AgentCluster, body: Record<string, unknown>): Promise<DeployResponse> {
  const res = await c.call<DeployResponse & ErrorBody>('POST', DEPLOY, { agent_type: 'echo', ...body });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Container of each agent deployed, in order. */
const where = (r: DeployResponse): string[] => r.agents.map((a) => a.container_id);

async function agentEvents(c: AgentCluster): Promise<Array<{ type: string; data: Record<string, unknown> }>> {
  return (await c.store.listEvents({ limit: 1_000 })).filter((e) => e.type.startsWith('agent_'));
}

describe('agents API', () => {
  test('deploy places on the least loaded container, fences the record and tells the container', () =>
    withCluster(async (c) => {
      await c.container('c1', { resources: { max_agents: 10 } });
      const c2 = await c.container('c2', { resources: { max_agents: 10 } });
      await deploy(c, { name: 'a', preferred_container: 'c1' });
      const res = await deploy(c, { name: 'alice', agent_config: { greeting: 'hi' } });
      assert.deepEqual(res.agents, [{ agent_id: 'echo/alice', container_id: 'c2', host_address: '127.0.0.1', state: 'activating', reason: 'least loaded: 0/10 agents' }]);

      const record = await c.store.getAgent('echo/alice');
      assert.equal(record?.containerId, 'c2');
      assert.equal(record?.epoch, c2.epoch);
      assert.equal(record?.state, 'activating');
      assert.deepEqual(record?.config, { greeting: 'hi' });
      assert.equal(record?.placement.strategy, 'least_loaded');
      assert.deepEqual(await c.controls('c2'), [{ agent: 'echo/alice', op: 'activate' }]);
      assert.deepEqual(await c.controls('c1'), [{ agent: 'echo/a', op: 'activate' }]);
      const placed = (await agentEvents(c)).find((e) => e.data.agent_id === 'echo/alice');
      assert.equal(placed?.type, 'agent_placed');
      assert.equal(placed?.data.to, 'c2');
    }));

  test('each strategy picks what it should', () =>
    withCluster(async (c) => {
      await c.container('a', { host_address: '127.0.0.1', resources: { max_agents: 10, memory_mb: 1_000 }, capabilities: ['gpu', 'python'] });
      await c.container('b', { host_address: '127.0.0.1', resources: { max_agents: 10, memory_mb: 8_000 }, capabilities: ['python'] });
      await c.container('c', { host_address: '127.0.0.2', resources: { max_agents: 10, memory_mb: 2_000 }, capabilities: ['python'] });

      assert.deepEqual(where(await deploy(c, { name: 'rr', replicas: 4, deployment_strategy: 'round_robin' })), ['a', 'b', 'c', 'a']);
      // a: 2 agents, b: 1, c: 1
      assert.deepEqual(where(await deploy(c, { name: 'res', deployment_strategy: 'resource_based' })), ['b']);
      // capability_based: of those with python, the one with no extra capability and fewest agents
      assert.deepEqual(where(await deploy(c, { name: 'cap', deployment_strategy: 'capability_based', constraints: { capabilities: ['python'] } })), ['c']);
      // hosts: 127.0.0.1 has a+b = 4 agents, 127.0.0.2 has c = 2
      assert.deepEqual(where(await deploy(c, { name: 'sp', deployment_strategy: 'spread' })), ['c']);
      // no affinity given: the least loaded (a 2, b 2, c 3 → a by id)
      assert.deepEqual(where(await deploy(c, { name: 'aff', deployment_strategy: 'affinity_based' })), ['a']);
      assert.deepEqual(where(await deploy(c, { name: 'll' })), ['b']);
    }));

  test('constraints: labels, capabilities, minimum and required resources, preferred container', () =>
    withCluster(async (c) => {
      await c.container('zone-a', { labels: { zone: 'a' }, resources: { gpus: 0, memory_mb: 1_000 } });
      await c.container('zone-b', { labels: { zone: 'b', 'node.role': 'worker' }, capabilities: ['gpu'], resources: { gpus: 2, memory_mb: 4_000 } });
      await c.container('zone-c', { labels: { zone: 'c' }, agent_types: ['echo', 'llm'] });

      assert.deepEqual(where(await deploy(c, { name: 'l1', constraints: { labels: ['zone == b'] } })), ['zone-b']);
      assert.deepEqual(where(await deploy(c, { name: 'l2', constraints: { labels: ['zone != b', 'zone != c'] } })), ['zone-a']);
      assert.deepEqual(where(await deploy(c, { name: 'l3', constraints: { labels: ['node.labels.node.role == worker'] } })), ['zone-b']);
      assert.deepEqual(where(await deploy(c, { name: 'cap', constraints: { capabilities: ['gpu'] } })), ['zone-b']);
      assert.deepEqual(where(await deploy(c, { name: 'min', constraints: { min_resources: { gpus: 1 } } })), ['zone-b']);
      assert.deepEqual(where(await deploy(c, { name: 'mem', resource_requirements: { memory_mb: 3_000 } })), ['zone-b']);
      assert.deepEqual(where(await deploy(c, { name: 'pref', preferred_container: 'zone-a' })), ['zone-a']);
      assert.deepEqual(where(await deploy(c, { agent_type: 'llm', name: 'only-c' })), ['zone-c']);

      // zone-b has 1,000 of 4,000 memory_mb left: a second 3,000 fits nowhere.
      const full = await c.call<ErrorBody>('POST', DEPLOY, { agent_type: 'echo', name: 'mem2', resource_requirements: { memory_mb: 3_000 } });
      assert.equal(full.status, 409);
      assert.equal(full.body.error, 'no_placement');
      assert.match(full.body.message, /has under 3000 memory_mb free/);
    }));

  test('nothing fits: 409 with the reason, and nothing written', () =>
    withCluster(async (c) => {
      await c.container('c1', { resources: { max_agents: 2 } });
      await c.container('c2', { agent_types: ['llm'] });
      const before = (await c.store.listEvents({ limit: 1_000 })).length;

      const wrongType = await c.call<ErrorBody>('POST', DEPLOY, { agent_type: 'reviewer', name: 'x' });
      assert.equal(wrongType.status, 409);
      assert.equal(wrongType.body.message, 'no container can take agent type reviewer: 2 does not serve reviewer');

      const tooMany = await c.call<ErrorBody>('POST', DEPLOY, { agent_type: 'echo', name: 'r', replicas: 3 });
      assert.equal(tooMany.status, 409);
      assert.match(tooMany.body.message, /^replica 3 of 3: no container can take agent type echo: .*full \(2\/2 agents\)/);

      const label = await c.call<ErrorBody>('POST', DEPLOY, { agent_type: 'echo', constraints: { labels: ['zone == z'] } });
      assert.equal(label.status, 409);
      assert.match(label.body.message, /fails label zone == z/);

      const preferred = await c.call<ErrorBody>('POST', DEPLOY, { agent_type: 'echo', preferred_container: 'c2' });
      assert.equal(preferred.status, 409);
      assert.match(preferred.body.message, /preferred container "c2" cannot take agent type echo/);

      assert.deepEqual(await c.store.listAgents(), []);
      assert.deepEqual(await c.controls('c1'), []);
      assert.equal((await c.store.listEvents({ limit: 1_000 })).length, before);
    }));

  test('replicas are name-1..n; duplicates are refused and roll back nothing else', () =>
    withCluster(async (c) => {
      await c.container('c1');
      await c.container('c2');
      const res = await deploy(c, { name: 'w', replicas: 3 });
      assert.deepEqual(
        res.agents.map((a) => a.agent_id),
        ['echo/w-1', 'echo/w-2', 'echo/w-3'],
      );
      assert.deepEqual(where(res), ['c1', 'c2', 'c1']);

      const dup = await c.call<ErrorBody>('POST', DEPLOY, { agent_type: 'echo', name: 'w-2' });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error, 'agent_exists');
      assert.match(dup.body.message, /agent "echo\/w-2" already exists/);
      const overlapping = await c.call<ErrorBody>('POST', DEPLOY, { agent_type: 'echo', name: 'w', replicas: 4 });
      assert.equal(overlapping.status, 409);
      assert.equal((await c.store.listAgents()).length, 3);

      const generated = await deploy(c, {});
      assert.match(generated.agents[0]?.agent_id ?? '', /^echo\/[0-9a-f]{8}$/);
    }));

  test('bad input is a 400 naming the field', () =>
    withCluster(async (c) => {
      await c.container('c1');
      const cases: Array<[Record<string, unknown>, string, RegExp]> = [
        [{ agent_type: 'echo', constraints: { labels: ['zone == a', 'zone =='] } }, 'constraints.labels[1]', /label constraint "zone ==" is malformed/],
        [{ agent_type: 'echo', deployment_strategy: 'fastest' }, 'deployment_strategy', /deployment_strategy must be one of round_robin, least_loaded, resource_based/],
        [{ agent_type: 'a/b' }, 'agent_type', /agent_type/],
        [{ agent_type: 'echo', replicas: 101 }, 'replicas', /replicas/],
        [{ agent_type: 'echo', name: 'n'.repeat(127), replicas: 10 }, 'name', /longer than 128/],
        [{ agent_type: 'echo', agent_config: { prompt: 'x'.repeat(70_000) } }, 'agent_config', /at most 65536 bytes/],
        [{ agent_type: 'echo', resource_requirements: { memory_mb: -1 } }, 'resource_requirements.memory_mb', /resource_requirements/],
        [{ agent_type: 'echo', colour: 'blue' }, 'colour', /not a known field/],
      ];
      for (const [body, field, message] of cases) {
        const res = await c.call<ErrorBody>('POST', DEPLOY, body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.field, field, JSON.stringify(res.body));
        assert.match(res.body.message, message);
      }
      assert.deepEqual(await c.store.listAgents(), []);
    }));

  test('list, get and deployment views; 404 for an unknown agent', () =>
    withCluster(async (c) => {
      await c.container('c1');
      await c.container('c2');
      await deploy(c, { name: 'x', agent_config: { k: 1 }, constraints: { labels: ['!gpu'] }, resource_requirements: { memory_mb: 0 } });
      await deploy(c, { name: 'y' });
      await c.store.appendMessage('echo/x', { messageId: 'm1', kind: 'tell', from: 'api', body: '{}' });

      const list = await c.call<AgentList>('GET', LIST);
      assert.equal(list.status, 200);
      assert.equal(list.body.total, 2);
      const x = list.body.agents.find((a) => a.agent_id === 'echo/x');
      assert.deepEqual(
        { ...x, created_at: undefined, updated_at: undefined },
        {
          agent_id: 'echo/x',
          agent_type: 'echo',
          agent_name: 'x',
          state: 'activating',
          container_id: 'c1',
          host_address: '127.0.0.1',
          epoch: 1,
          turns: 0,
          last_handled: '0-0',
          mailbox_depth: 1,
          created_at: undefined,
          updated_at: undefined,
          deployment_strategy: 'least_loaded',
          constraints: { labels: ['!gpu'] },
          resource_requirements: { memory_mb: 0 },
        },
      );
      const onC2 = await c.call<AgentList>('GET', `${LIST}?container_id=c2&limit=1`);
      assert.deepEqual(
        onC2.body.agents.map((a) => a.agent_id),
        ['echo/y'],
      );
      assert.equal(onC2.body.total, 1);

      const detail = await c.call<AgentDetail>('GET', '/api/v1/cluster/agents/echo/x');
      assert.equal(detail.status, 200);
      assert.deepEqual(detail.body.agent_config, { k: 1 });
      const deployment = await c.call<AgentView>('GET', '/api/v1/cluster/agents/echo/x/deployment');
      assert.equal(deployment.body.container_id, 'c1');
      assert.equal('agent_config' in deployment.body, false);

      const missing = await c.call<ErrorBody>('GET', '/api/v1/cluster/agents/echo/nobody');
      assert.equal(missing.status, 404);
      assert.match(missing.body.message, /agent "echo\/nobody" not found/);
      assert.equal((await c.call('GET', '/api/v1/cluster/agents/echo/nobody/deployment')).status, 404);
      assert.equal((await c.call('GET', '/api/v1/cluster/agents/echo/bad%20name')).status, 400);
    }));

  test('migrate moves the fence and tells both containers', () =>
    withCluster(async (c) => {
      await c.container('c1');
      const c2 = await c.container('c2');
      await c.container('c3', { agent_types: ['llm'] });
      await deploy(c, { name: 'm', preferred_container: 'c1' });

      const refused = await c.call<ErrorBody>('POST', '/api/v1/cluster/agents/echo/m/migrate', { target_container_id: 'c3' });
      assert.equal(refused.status, 409);
      assert.match(refused.body.message, /preferred container "c3" cannot take agent type echo: serves llm/);
      assert.equal((await c.call('POST', '/api/v1/cluster/agents/echo/m/migrate', { target_container_id: 'c1' })).status, 409);
      assert.equal((await c.call('POST', '/api/v1/cluster/agents/echo/m/migrate', { target_container_id: 'nowhere' })).status, 404);
      assert.equal((await c.call('POST', '/api/v1/cluster/agents/echo/none/migrate', {})).status, 404);

      const moved = await c.call<MigrateResponse>('POST', '/api/v1/cluster/agents/echo/m/migrate');
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.deepEqual({ ...moved.body, reason: undefined }, {
        success: true,
        agent_id: 'echo/m',
        from_container_id: 'c1',
        container_id: 'c2',
        host_address: '127.0.0.1',
        state: 'activating',
        reason: undefined,
        preserve_state: true,
      });
      const record = await c.store.getAgent('echo/m');
      assert.deepEqual([record?.containerId, record?.epoch], ['c2', c2.epoch]);
      assert.deepEqual(await c.controls('c1'), [
        { agent: 'echo/m', op: 'activate' },
        { agent: 'echo/m', op: 'deactivate' },
      ]);
      assert.deepEqual(await c.controls('c2'), [{ agent: 'echo/m', op: 'activate' }]);
      const back = await c.call<MigrateResponse>('POST', '/api/v1/cluster/agents/echo/m/migrate', { target_container_id: 'c1' });
      assert.equal(back.body.container_id, 'c1');
      assert.equal(back.body.reason, 'preferred container');
      const events = (await agentEvents(c)).filter((e) => e.type === 'agent_moved');
      assert.deepEqual(
        events.map((e) => [e.data.from, e.data.to, e.data.cause]),
        [
          ['c1', 'c2', 'migrate'],
          ['c2', 'c1', 'migrate'],
        ],
      );
    }));

  test('migrate with preserve_state false resets the state in the fence change, keeping mailbox and watermark', () =>
    withCluster(async (c) => {
      const c1 = await c.container('c1');
      const c2 = await c.container('c2');
      await deploy(c, { name: 'fresh', preferred_container: 'c1' });
      const fence = { owner: 'c1', epoch: c1.epoch };
      // c1 handled one message (state and reply committed); two more are waiting.
      const ids: string[] = [];
      for (const n of [1, 2, 3]) {
        const appended = await c.store.appendMessage('echo/fresh', { messageId: `m-${n}`, kind: 'tell', from: 'api', body: JSON.stringify({ n }) });
        assert.ok(appended.ok);
        ids.push(appended.entryId);
      }
      assert.deepEqual(await c.store.commitTurn('echo/fresh', fence, { entryId: ids[0]!, state: '{"seen":1}', reply: { inbox: 'api', ref: 'm-1', body: '{}' } }), { ok: true });

      const res = await c.call<MigrateResponse>('POST', '/api/v1/cluster/agents/echo/fresh/migrate', { target_container_id: 'c2', preserve_state: false });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body, {
        success: true,
        agent_id: 'echo/fresh',
        from_container_id: 'c1',
        container_id: 'c2',
        host_address: '127.0.0.1',
        state: 'activating',
        reason: 'preferred container',
        preserve_state: false,
      });
      const record = await c.store.getAgent('echo/fresh');
      assert.deepEqual([record?.containerId, record?.epoch, record?.lastHandled, record?.turns], ['c2', c2.epoch, ids[0], 1]);
      assert.equal(await c.store.loadAgentState('echo/fresh'), null, 'the new owner runs init again');
      assert.equal(await c.store.lastReply('echo/fresh'), null);
      assert.equal(await c.store.mailboxDepth('echo/fresh'), 2, 'nothing accepted is lost');
      assert.deepEqual(
        (await c.store.readMailbox('echo/fresh', record!.lastHandled)).map((e) => e.entryId),
        ids.slice(1),
      );
      // The old owner's late commit is refused by the new fence: it cannot write state after the reset.
      assert.deepEqual(await c.store.commitTurn('echo/fresh', fence, { entryId: ids[1]!, state: '{"seen":2}' }), { ok: false, reason: 'not_owner' });
      assert.equal(await c.store.loadAgentState('echo/fresh'), null);
      assert.deepEqual((await c.controls('c1')).at(-1), { agent: 'echo/fresh', op: 'deactivate' });
      assert.deepEqual(await c.controls('c2'), [{ agent: 'echo/fresh', op: 'activate' }]);
    }));

  test('delete removes the record and tells the owner', () =>
    withCluster(async (c) => {
      await c.container('c1');
      await deploy(c, { name: 'd' });
      const res = await c.call('DELETE', '/api/v1/cluster/agents/echo/d');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { success: true, agent_id: 'echo/d', container_id: 'c1' });
      assert.equal(await c.store.getAgent('echo/d'), null);
      assert.deepEqual((await c.controls('c1')).at(-1), { agent: 'echo/d', op: 'deactivate' });
      assert.equal((await agentEvents(c)).at(-1)?.type, 'agent_deleted');
      assert.equal((await c.call('DELETE', '/api/v1/cluster/agents/echo/d')).status, 404);
    }));

  test('actions: health_check and rebalance (dry run, then for real)', () =>
    withCluster(async (c) => {
      await c.container('c1', { resources: { max_agents: 10 } });
      await deploy(c, { name: 'r', replicas: 4 });
      await c.container('c2', { resources: { max_agents: 10 } });

      const health = await c.call<HealthCheckResponse>('POST', '/api/v1/cluster/actions', { action: 'health_check' });
      assert.equal(health.status, 200);
      assert.equal(health.body.healthy, true);
      assert.deepEqual(
        health.body.containers.map((x) => [x.container_id, x.alive, x.agents]),
        [
          ['c1', true, 4],
          ['c2', true, 0],
        ],
      );
      assert.deepEqual(health.body.orphaned_agents, []);

      const dry = await c.call<RebalanceResponse>('POST', '/api/v1/cluster/actions', { action: 'rebalance', dry_run: true });
      assert.equal(dry.status, 200);
      assert.equal(dry.body.moves.length, 2);
      assert.ok(dry.body.moves.every((m) => !m.applied && m.from === 'c1' && m.to === 'c2'));
      assert.equal((await c.store.listAgentsOn('c2')).length, 0);

      const real = await c.call<RebalanceResponse>('POST', '/api/v1/cluster/actions', { action: 'rebalance', max_moves: 1 });
      assert.equal(real.body.moves.length, 1);
      assert.equal(real.body.converged, false);
      assert.ok(real.body.moves[0]?.applied);
      assert.deepEqual(await c.controls('c2'), [{ agent: real.body.moves[0]?.agent_id, op: 'activate' }]);
      const rest = await c.call<RebalanceResponse>('POST', '/api/v1/cluster/actions', { action: 'rebalance' });
      assert.equal(rest.body.moves.length, 1);
      assert.equal(rest.body.converged, true);
      assert.equal((await c.store.listAgentsOn('c2')).length, 2);

      const bad = await c.call<ErrorBody>('POST', '/api/v1/cluster/actions', { action: 'explode' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.message, 'body: action must be one of rebalance, health_check');
    }));

  test('distribution and the deployments block of /status', () =>
    withCluster(async (c) => {
      await c.container('c1', { host_address: '127.0.0.1', resources: { max_agents: 4 } });
      await c.container('c2', { host_address: '127.0.0.2', resources: { max_agents: 4 }, agent_types: ['echo', 'llm'] });
      await deploy(c, { name: 'e', replicas: 3 });
      await deploy(c, { agent_type: 'llm', name: 'l' });

      const dist = await c.call<Distribution>('GET', '/api/v1/cluster/metrics/distribution');
      assert.equal(dist.status, 200);
      assert.deepEqual(dist.body, {
        total_agents: 4,
        unplaced_agents: 0,
        load_ratio: 0.5,
        containers: [
          { container_id: 'c1', host_address: '127.0.0.1', state: 'active', availability: 'schedulable', agents: 2, max_agents: 4, load_ratio: 0.5 },
          { container_id: 'c2', host_address: '127.0.0.2', state: 'active', availability: 'schedulable', agents: 2, max_agents: 4, load_ratio: 0.5 },
        ],
        hosts: [
          { host_address: '127.0.0.1', containers: 1, agents: 2 },
          { host_address: '127.0.0.2', containers: 1, agents: 2 },
        ],
        types: { echo: 3, llm: 1 },
      });
      const status = await c.call<ClusterStatus>('GET', '/api/v1/cluster/status');
      assert.deepEqual(status.body.deployments, { total_agents: 4, agents_per_container: { c1: 2, c2: 2 } });
    }));
});
