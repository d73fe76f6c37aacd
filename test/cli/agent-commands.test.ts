/**
 * `flotilla agents deploy|ls|get|rm|migrate` and the waiting `containers drain`, run as real
 * processes against a fake manager: what they send, what they print, their exit codes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AgentDetail, AgentList, AgentView, DeployResponse, MigrateResponse } from '../../src/protocol/agents-api.js';
import type { ContainerActionResponse, ErrorBody } from '../../src/protocol/api.js';
import { ACTIVE, lineWith, withFake } from './fake-manager.js';
import { runCli } from './run-cli.js';

const AGENTS = '/api/v1/cluster/agents';

const isoAgo = (ms: number): string => new Date(Date.now() - ms).toISOString();

function agentView(id: string, overrides: Partial<AgentView> = {}): AgentView {
  const [type = '', name = ''] = id.split('/');
  return {
    agent_id: id,
    agent_type: type,
    agent_name: name,
    state: 'active',
    container_id: 'gpu-box-1',
    host_address: '127.0.0.1',
    epoch: 3,
    turns: 12,
    last_handled: '1700000000000-0',
    mailbox_depth: 2,
    created_at: isoAgo(120_000),
    updated_at: isoAgo(5_000),
    deployment_strategy: 'least_loaded',
    constraints: { labels: ['zone == a'] },
    ...overrides,
  };
}

const DEPLOYED: DeployResponse = {
  success: true,
  agents: [
    { agent_id: 'llm/bot-1', container_id: 'gpu-box-1', host_address: '127.0.0.1', state: 'activating', reason: 'spread: host 127.0.0.1 has 0 agents, the fewest' },
    { agent_id: 'llm/bot-2', container_id: 'gpu-box-2', host_address: '127.0.0.2', state: 'activating', reason: 'spread: host 127.0.0.2 has 0 agents, the fewest' },
  ],
};

const DRAINING: ContainerActionResponse = { success: true, container: { ...ACTIVE, availability: 'draining' } };
const list = (agents: AgentView[], total = agents.length): { status: number; body: AgentList } => ({ status: 200, body: { agents, total } });

describe('flotilla agents commands', { concurrency: 4 }, () => {
  test('agents deploy sends every flag as the API field and prints where the agents went', () =>
    withFake({ [`POST ${AGENTS}/deploy`]: { status: 200, body: DEPLOYED } }, async (fake) => {
      const { code, stdout, stderr } = await runCli([
        'agents', 'deploy', 'llm', '--url', fake.url,
        '--name', 'bot', '--replicas', '2', '--strategy', 'spread',
        '--config', '{"model":"llama3"}',
        '--label', 'zone == a', '--label', '!spot',
        '--capability', 'gpu', '--min-resource', 'gpus=1', '--require', 'memory_mb=512', '--require', 'cpu_cores=0.5',
        '--prefer', 'gpu-box-1',
      ]);
      assert.equal(code, 0, stderr);
      assert.deepEqual(JSON.parse(fake.requests[0]?.body ?? ''), {
        agent_type: 'llm',
        name: 'bot',
        agent_config: { model: 'llama3' },
        deployment_strategy: 'spread',
        constraints: { labels: ['zone == a', '!spot'], capabilities: ['gpu'], min_resources: { gpus: 1 } },
        preferred_container: 'gpu-box-1',
        resource_requirements: { memory_mb: 512, cpu_cores: 0.5 },
        replicas: 2,
      });
      assert.match(stdout.split('\n')[0] ?? '', /^AGENT\s+CONTAINER\s+HOST\s+STATE\s+REASON$/);
      assert.match(lineWith(stdout, 'llm/bot-2'), /^llm\/bot-2\s+gpu-box-2\s+127\.0\.0\.2\s+activating\s+spread: host 127\.0\.0\.2/);
    }));

  test('agents deploy: a minimal call sends only the type; a refusal is exit 1 with the reason', () =>
    withFake(
      {
        [`POST ${AGENTS}/deploy`]: {
          status: 409,
          body: { error: 'no_placement', message: 'no container can take agent type echo: 2 full (10/10 agents)', status_code: 409 } satisfies ErrorBody,
        },
      },
      async (fake) => {
        const { code, stdout, stderr } = await runCli(['agents', 'deploy', 'echo', '--url', fake.url]);
        assert.equal(code, 1);
        assert.equal(stdout, '');
        assert.equal(stderr.trim(), 'error: no container can take agent type echo: 2 full (10/10 agents) (HTTP 409)');
        assert.deepEqual(JSON.parse(fake.requests[0]?.body ?? ''), { agent_type: 'echo' });
      },
    ));

  test('bad flags are usage errors (exit 2) and nothing is sent', () =>
    withFake({}, async (fake) => {
      const cases: Array<[string[], RegExp]> = [
        [['agents', 'deploy', 'echo', '--replicas', '0'], /from 1 to 100/],
        [['agents', 'deploy', 'echo', '--config', '[1]'], /JSON object/],
        [['agents', 'deploy', 'echo', '--strategy', 'fastest'], /round_robin, least_loaded/],
        [['agents', 'deploy', 'echo', '--require', 'memory'], /key=amount/],
        [['agents', 'deploy', 'bad/type'], /agent type/],
        [['agents', 'get', 'alice'], /type\/name/],
        [['agents', 'migrate', 'echo/a', '--to', 'no such'], /container id/],
        [['containers', 'drain', 'c1', '--timeout', '0'], /whole seconds/],
      ];
      for (const [args, message] of cases) {
        const { code, stderr } = await runCli([...args, '--url', fake.url]);
        assert.equal(code, 2, args.join(' '));
        assert.match(stderr, message);
      }
      assert.deepEqual(fake.requests, []);
    }));

  test('agents ls prints a table, filters by container and says when the list is cut', () =>
    withFake(
      {
        [`GET ${AGENTS}/deployments`]: list([agentView('echo/alice'), agentView('llm/bob', { state: 'pending', container_id: null, host_address: null, placement_error: 'no container can take agent type llm' })]),
        [`GET ${AGENTS}/deployments?container_id=gpu-box-1&limit=1`]: list([agentView('echo/alice')], 7),
      },
      async (fake) => {
        const all = await runCli(['agents', 'ls', '--url', fake.url]);
        assert.equal(all.code, 0, all.stderr);
        assert.match(all.stdout.split('\n')[0] ?? '', /^AGENT\s+STATE\s+CONTAINER\s+HOST\s+TURNS\s+MAILBOX\s+CREATED$/);
        assert.match(lineWith(all.stdout, 'echo/alice'), /^echo\/alice\s+active\s+gpu-box-1\s+127\.0\.0\.1\s+12\s+2\s+2m \d+s ago$/);
        assert.match(lineWith(all.stdout, 'llm/bob'), /^llm\/bob\s+pending \(cannot place\)\s+-\s+-\s+12\s+2/);

        const some = await runCli(['agents', 'ls', '--container', 'gpu-box-1', '--limit', '1', '--url', fake.url]);
        assert.equal(some.code, 0, some.stderr);
        assert.match(some.stdout, /\(1 of 7 shown; --limit shows more\)$/m);
      },
    ));

  test('agents get shows the details; an unknown agent is exit 1 with a plain message', () =>
    withFake(
      {
        [`GET ${AGENTS}/echo/alice`]: { status: 200, body: { ...agentView('echo/alice', { resource_requirements: { memory_mb: 256 } }), agent_config: { greeting: 'hi' } } satisfies AgentDetail },
        [`GET ${AGENTS}/echo/nobody`]: { status: 404, body: { error: 'not_found', message: 'agent "echo/nobody" not found', status_code: 404 } },
      },
      async (fake) => {
        const { code, stdout, stderr } = await runCli(['agents', 'get', 'echo/alice', '--url', fake.url]);
        assert.equal(code, 0, stderr);
        assert.match(lineWith(stdout, 'Container:'), /gpu-box-1 \(127\.0\.0\.1, epoch 3\)$/);
        assert.match(lineWith(stdout, 'Labels:'), /zone == a$/);
        assert.match(lineWith(stdout, 'Requires:'), /memory_mb=256$/);
        assert.match(lineWith(stdout, 'Config:'), /\{"greeting":"hi"\}$/);

        const missing = await runCli(['agents', 'get', 'echo/nobody', '--url', fake.url]);
        assert.equal(missing.code, 1);
        assert.equal(missing.stderr.trim(), 'error: agent "echo/nobody" not found');
      },
    ));

  test('agents rm and agents migrate call the agent paths', () =>
    withFake(
      {
        [`DELETE ${AGENTS}/echo/alice`]: { status: 200, body: { success: true, agent_id: 'echo/alice', container_id: 'gpu-box-1' } },
        [`POST ${AGENTS}/echo/bob/migrate`]: {
          status: 200,
          body: { success: true, agent_id: 'echo/bob', from_container_id: 'gpu-box-1', container_id: 'gpu-box-2', host_address: '127.0.0.2', state: 'activating', reason: 'preferred container' } satisfies MigrateResponse,
        },
      },
      async (fake) => {
        const rm = await runCli(['agents', 'rm', 'echo/alice', '--url', fake.url]);
        assert.equal(rm.code, 0, rm.stderr);
        assert.equal(rm.stdout.trim(), 'agent echo/alice deleted (was on gpu-box-1)');
        const mv = await runCli(['agents', 'migrate', 'echo/bob', '--to', 'gpu-box-2', '--url', fake.url]);
        assert.equal(mv.code, 0, mv.stderr);
        assert.equal(mv.stdout.trim(), 'agent echo/bob moved from gpu-box-1 to gpu-box-2 (preferred container)');
        assert.deepEqual(JSON.parse(fake.requests[1]?.body ?? ''), { target_container_id: 'gpu-box-2' });
      },
    ));

  test('containers drain waits until no agent is left, with progress', () =>
    withFake(
      {
        [`POST /api/v1/cluster/containers/gpu-box-1/drain`]: { status: 200, body: DRAINING },
        [`GET ${AGENTS}/deployments?container_id=gpu-box-1&limit=5`]: [
          list([agentView('echo/a'), agentView('echo/b')]),
          list([agentView('llm/c', { placement_error: 'no container can take agent type llm: 1 draining' })]),
          list([]),
        ],
      },
      async (fake) => {
        const { code, stdout, stderr } = await runCli(['containers', 'drain', 'gpu-box-1', '--url', fake.url]);
        assert.equal(code, 0, stderr);
        assert.deepEqual(stdout.trim().split('\n'), [
          'draining gpu-box-1: 2 agents left (echo/a, echo/b)',
          'draining gpu-box-1: 1 agent left (llm/c)',
          '  llm/c cannot move: no container can take agent type llm: 1 draining',
          'container "gpu-box-1" is drained: no agents left',
        ]);
        assert.deepEqual(
          fake.requests.map((r) => r.method),
          ['POST', 'GET', 'GET', 'GET'],
        );
      },
    ));

  test('containers drain --no-wait returns at once; --json prints only the JSON', () =>
    withFake(
      {
        [`POST /api/v1/cluster/containers/gpu-box-1/drain`]: { status: 200, body: DRAINING },
        [`GET ${AGENTS}/deployments?container_id=gpu-box-1&limit=5`]: [list([agentView('echo/a')]), list([])],
      },
      async (fake) => {
        const quick = await runCli(['containers', 'drain', 'gpu-box-1', '--no-wait', '--url', fake.url]);
        assert.equal(quick.code, 0, quick.stderr);
        assert.equal(quick.stdout.trim(), 'container "gpu-box-1" is now draining');
        assert.equal(fake.requests.length, 1);

        const json = await runCli(['containers', 'drain', 'gpu-box-1', '--json', '--url', fake.url]);
        assert.equal(json.code, 0, json.stderr);
        assert.deepEqual(JSON.parse(json.stdout), DRAINING);
      },
    ));

  test('containers drain gives up after --timeout with exit 4, saying what is left', () =>
    withFake(
      {
        [`POST /api/v1/cluster/containers/gpu-box-1/drain`]: { status: 200, body: DRAINING },
        [`GET ${AGENTS}/deployments?container_id=gpu-box-1&limit=5`]: list([agentView('echo/a')], 1),
      },
      async (fake) => {
        const { code, stdout, stderr } = await runCli(['containers', 'drain', 'gpu-box-1', '--timeout', '1', '--url', fake.url]);
        assert.equal(code, 4);
        assert.equal(stdout.trim(), 'draining gpu-box-1: 1 agent left (echo/a)');
        assert.match(stderr.trim(), /^error: gpu-box-1 still has 1 agent after 1 s; it keeps draining/);
      },
    ));
});
