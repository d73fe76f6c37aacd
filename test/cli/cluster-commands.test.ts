/**
 * The operator commands, run as real processes against a fake manager on 127.0.0.1: what they
 * send, what they print, and the exit codes scripts rely on (1 API error, 2 usage, 3 unreachable).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { VERSION } from '../../src/common/version.js';
import type { ErrorBody } from '../../src/protocol/api.js';
import {
  ACTIVE,
  ACTIVE_LIST,
  ALL_LIST,
  closedPort,
  DOWN,
  EVENTS,
  STATUS,
  withFake,
  lineWith,
  assertNoStackTrace,
} from './fake-manager.js';
import { runCli } from './run-cli.js';

const CONTAINERS = '/api/v1/cluster/containers';

function errorBody(statusCode: number, error: string, message: string): ErrorBody {
  return { error, message, status_code: statusCode };
}

// A few at a time: each test starts a node process, and CI has two cores.
describe('flotilla cluster commands', { concurrency: 4 }, () => {
  test('containers ls prints a table of the active containers', () =>
    withFake({ [`GET ${CONTAINERS}`]: { status: 200, body: ACTIVE_LIST } }, async (fake) => {
      const { code, stdout, stderr } = await runCli(['containers', 'ls', '--url', fake.url]);
      assert.equal(code, 0, stderr);
      const [header] = stdout.split('\n');
      assert.match(header ?? '', /^ID\s+HOST\s+PORT\s+STATE\s+AVAILABILITY\s+EPOCH\s+LAST HEARTBEAT\s+AGENT TYPES$/);
      assert.match(lineWith(stdout, 'gpu-box-1'), /^gpu-box-1\s+127\.0\.0\.1\s+8001\s+active\s+schedulable\s+3\s+\d+\.\ds ago\s+echo,llm$/);
      assert.deepEqual(
        fake.requests.map((r) => `${r.method} ${r.url}`),
        [`GET ${CONTAINERS}`],
      );
    }));

  test('containers ls --all asks for inactive containers too and shows them', () =>
    withFake({ [`GET ${CONTAINERS}?include_inactive=true`]: { status: 200, body: ALL_LIST } }, async (fake) => {
      const { code, stdout, stderr } = await runCli(['containers', 'ls', '--all', '--url', fake.url]);
      assert.equal(code, 0, stderr);
      assert.match(lineWith(stdout, 'office-2'), /^office-2\s+127\.0\.0\.2\s+8101\s+down\s+cordoned\s+1\s+\d+m \d+s ago\s+-$/);
      assert.ok(stdout.includes('gpu-box-1'));
    }));

  test('--json prints the API answer as-is', () =>
    withFake({ [`GET ${CONTAINERS}`]: { status: 200, body: ACTIVE_LIST } }, async (fake) => {
      const { code, stdout } = await runCli(['containers', 'ls', '--json', '--url', fake.url]);
      assert.equal(code, 0);
      assert.deepEqual(JSON.parse(stdout), ACTIVE_LIST);
    }));

  test('FLOTILLA_URL is used when --url is not given, and --url wins over it', () =>
    withFake({ [`GET ${CONTAINERS}`]: { status: 200, body: ACTIVE_LIST } }, async (fake) => {
      const fromEnv = await runCli(['containers', 'ls'], { FLOTILLA_URL: fake.url });
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      assert.ok(fromEnv.stdout.includes('gpu-box-1'));

      const unused = `http://127.0.0.1:${await closedPort()}`;
      const fromFlag = await runCli(['containers', 'ls', '--url', fake.url], { FLOTILLA_URL: unused });
      assert.equal(fromFlag.code, 0, fromFlag.stderr);
      assert.equal(fake.requests.length, 2);
    }));

  test('status prints the summary, the managers and every container with its agents', () =>
    withFake(
      {
        'GET /api/v1/cluster/status': { status: 200, body: STATUS },
        [`GET ${CONTAINERS}?include_inactive=true`]: { status: 200, body: ALL_LIST },
      },
      async (fake) => {
        const { code, stdout, stderr } = await runCli(['status', '--url', fake.url]);
        assert.equal(code, 0, stderr);
        assert.match(lineWith(stdout, 'Status:'), /^Status:\s+degraded$/);
        assert.match(lineWith(stdout, 'Containers:'), /2 total, 1 active, 1 down, 1 cordoned, 0 draining$/);
        assert.match(lineWith(stdout, 'Capacity:'), /10 agents, 4 CPU cores, 0 MB memory, 0 GPUs$/);
        assert.match(lineWith(stdout, 'Agents:'), /5 deployed$/);
        assert.match(lineWith(stdout, 'Leader:'), /mgr-a \(term 4\)$/);
        assert.match(lineWith(stdout, 'mgr-a  '), /^mgr-a\s+127\.0\.0\.1:8000\s+leader\s+\d+\.\ds ago$/);
        assert.match(lineWith(stdout, 'LAST HEARTBEAT'), /EPOCH\s+LAST HEARTBEAT\s+AGENTS\s+AGENT TYPES$/);
        assert.match(lineWith(stdout, 'gpu-box-1'), /\s5\s+echo,llm$/);
        assert.match(lineWith(stdout, 'office-2'), /\s0\s+-$/);
      },
    ));

  test('status --json prints the status answer alone', () =>
    withFake({ 'GET /api/v1/cluster/status': { status: 200, body: STATUS } }, async (fake) => {
      const { code, stdout } = await runCli(['status', '--json', '--url', fake.url]);
      assert.equal(code, 0);
      assert.deepEqual(JSON.parse(stdout), STATUS);
      assert.equal(fake.requests.length, 1);
    }));

  test('containers get shows one container', () =>
    withFake({ [`GET ${CONTAINERS}/office-2`]: { status: 200, body: DOWN } }, async (fake) => {
      const { code, stdout, stderr } = await runCli(['containers', 'get', 'office-2', '--url', fake.url]);
      assert.equal(code, 0, stderr);
      assert.match(lineWith(stdout, 'Endpoint:'), /http:\/\/127\.0\.0\.2:8101$/);
      assert.match(lineWith(stdout, 'Down since:'), /\(\d+m \d+s ago\)$/);
      assert.match(lineWith(stdout, 'Labels:'), /zone=a$/);
      assert.match(lineWith(stdout, 'Agent types:'), /-$/);
    }));

  test('a 404 exits 1 and names the container', () =>
    withFake({}, async (fake) => {
      const { code, stdout, stderr } = await runCli(['containers', 'get', 'ghost', '--url', fake.url]);
      assert.equal(code, 1);
      assert.equal(stdout, '');
      assert.equal(stderr.trim(), 'error: container "ghost" not found');
    }));

  for (const action of ['cordon', 'uncordon', 'drain'] as const) {
    const availability = { cordon: 'cordoned', uncordon: 'schedulable', drain: 'draining' } as const;
    test(`containers ${action} POSTs to the container's ${action} path`, () =>
      withFake(
        {
          [`POST ${CONTAINERS}/gpu-box-1/${action}`]: {
            status: 200,
            body: { success: true, container: { ...ACTIVE, availability: availability[action] } },
          },
        },
        async (fake) => {
          // drain waits for the agents to leave unless told not to (see agent-commands.test.ts)
          const args = ['containers', action, 'gpu-box-1', ...(action === 'drain' ? ['--no-wait'] : []), '--url', fake.url];
          const { code, stdout, stderr } = await runCli(args);
          assert.equal(code, 0, stderr);
          assert.equal(stdout.trim(), `container "gpu-box-1" is now ${availability[action]}`);
          assert.deepEqual(
            fake.requests.map((r) => `${r.method} ${r.url}`),
            [`POST ${CONTAINERS}/gpu-box-1/${action}`],
          );
        },
      ));
  }

  test('containers rm --force sends force=true; plain rm does not', () =>
    withFake(
      {
        [`DELETE ${CONTAINERS}/office-2?force=true`]: { status: 200, body: { success: true, container_id: 'office-2' } },
        [`DELETE ${CONTAINERS}/gpu-box-1`]: {
          status: 409,
          body: errorBody(409, 'container_active', 'container gpu-box-1 is active; drain it first or use force'),
        },
      },
      async (fake) => {
        const forced = await runCli(['containers', 'rm', 'office-2', '--force', '--url', fake.url]);
        assert.equal(forced.code, 0, forced.stderr);
        assert.equal(forced.stdout.trim(), 'container "office-2" removed');

        const refused = await runCli(['containers', 'rm', 'gpu-box-1', '--url', fake.url]);
        assert.equal(refused.code, 1);
        assert.equal(refused.stderr.trim(), 'error: container gpu-box-1 is active; drain it first or use force (HTTP 409)');
        assert.deepEqual(
          fake.requests.map((r) => `${r.method} ${r.url}`),
          [`DELETE ${CONTAINERS}/office-2?force=true`, `DELETE ${CONTAINERS}/gpu-box-1`],
        );
      },
    ));

  test('events --limit passes the limit and prints a table', () =>
    withFake({ 'GET /api/v1/cluster/events?limit=5': { status: 200, body: EVENTS } }, async (fake) => {
      const { code, stdout, stderr } = await runCli(['events', '--limit', '5', '--url', fake.url]);
      assert.equal(code, 0, stderr);
      assert.match(lineWith(stdout, 'container_joined'), /^2023-11-14T22:13:20\.000Z\s+container_joined\s+gpu-box-1\s+3\s+host_address=127\.0\.0\.1$/);
      assert.match(lineWith(stdout, 'leader_elected'), /leader_elected\s+-\s+-\s+manager=mgr-a, term=4$/);

      const json = await runCli(['events', '--limit', '5', '--json', '--url', fake.url]);
      assert.deepEqual(JSON.parse(json.stdout), EVENTS);
    }));

  test('the token from --token or FLOTILLA_TOKEN is sent as a bearer token', () =>
    withFake({ [`GET ${CONTAINERS}`]: { status: 200, body: ACTIVE_LIST } }, async (fake) => {
      await runCli(['containers', 'ls', '--token', 'from-flag', '--url', fake.url]);
      await runCli(['containers', 'ls', '--url', fake.url], { FLOTILLA_TOKEN: 'from-env' });
      await runCli(['containers', 'ls', '--url', fake.url]);
      assert.deepEqual(
        fake.requests.map((r) => r.authorization),
        ['Bearer from-flag', 'Bearer from-env', undefined],
      );
    }));

  test('an auth refusal exits 1 and says how to pass a token', () =>
    withFake({ [`GET ${CONTAINERS}`]: { status: 401, body: errorBody(401, 'unauthorized', 'missing bearer token') } }, async (fake) => {
      const { code, stderr } = await runCli(['containers', 'ls', '--url', fake.url]);
      assert.equal(code, 1);
      assert.equal(stderr.trim(), 'error: missing bearer token (HTTP 401; pass a token with --token or FLOTILLA_TOKEN)');
    }));

  test('an answer that is not JSON exits 1 and questions the URL', () =>
    withFake({ [`GET ${CONTAINERS}`]: { status: 200, body: '<html>some other service</html>' } }, async (fake) => {
      const { code, stderr } = await runCli(['containers', 'ls', '--url', fake.url]);
      assert.equal(code, 1);
      assert.equal(stderr.trim(), `error: ${fake.url} did not answer with JSON; is it the Flotilla manager's address?`);
    }));

  test('an unreachable manager exits 3 and names the URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const { code, stdout, stderr } = await runCli(['status'], { FLOTILLA_URL: url });
    assert.equal(code, 3);
    assert.equal(stdout, '');
    assert.ok(stderr.includes(`manager at ${url} is unreachable`), stderr);
    assert.match(stderr, /FLOTILLA_URL/);
    assert.match(stderr, /CENTRAL_MANAGER_URL/);
    assert.match(stderr, /firewall/);
    assert.equal(stderr.trim().split('\n').length, 1);
    assertNoStackTrace(stderr);
  });

  const usageErrors: [string, string[], Record<string, string>, RegExp][] = [
    ['an invalid container id', ['containers', 'get', 'a/b'], {}, /container id "a\/b" is not a valid name/],
    ['a limit of 0', ['events', '--limit', '0'], {}, /expected a whole number from 1 to 1000/],
    ['an unknown option', ['containers', 'ls', '--bogus'], {}, /unknown option '--bogus'/],
    ['an unknown command', ['bogus'], {}, /unknown command 'bogus'/],
    ['a --url that is not a URL', ['status', '--url', 'nowhere'], {}, /expected a URL such as http:\/\/127\.0\.0\.1:8000/],
    ['a FLOTILLA_URL that is not a URL', ['status'], { FLOTILLA_URL: 'nowhere' }, /FLOTILLA_URL="nowhere" is not a URL/],
  ];
  for (const [what, args, env, message] of usageErrors) {
    test(`${what} is a usage error (exit 2)`, async () => {
      const { code, stderr } = await runCli(args, env);
      assert.equal(code, 2, stderr);
      assert.match(stderr, message);
      assertNoStackTrace(stderr);
    });
  }

  test('--version prints the package version', async () => {
    const { code, stdout } = await runCli(['--version']);
    assert.equal(code, 0);
    assert.equal(stdout.trim(), VERSION);
  });
});
