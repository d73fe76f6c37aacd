/**
 * `flotilla doctor` against a real redis-server (with a password) and a real manager process, on
 * loopback: a healthy setup passes every check (the manager reaches back to a temporary /ping on
 * EXTERNAL_IP); each broken setting is found and explained. (The multi-host harness adds the
 * firewall and routing faults that loopback cannot show.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { FlotillaProcess, freePort, waitForHttp } from '../helpers/processes.js';
import { runCli } from '../cli/run-cli.js';
import type { Finding } from '../../src/doctor/index.js';

const PASSWORD = 'doctor-secret';
const HOST_IP = '127.0.0.51';

describe('flotilla doctor', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  let manager: FlotillaProcess;
  let managerUrl: string;
  let redisUrl: string;

  before(async () => {
    redis = await startRedisServer({ args: ['--requirepass', PASSWORD] });
    redisUrl = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`;
    const port = await freePort();
    managerUrl = `http://127.0.0.1:${port}`;
    manager = new FlotillaProcess('manager', ['manager'], { REDIS_URL: redisUrl, CLUSTER_PORT: String(port), FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_PREFIX: `doc${process.pid}:` });
    await waitForHttp(`${managerUrl}/health`);
  });

  after(async () => {
    await manager?.stop();
    await redis?.stop();
  });

  async function doctor(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; findings: Finding[]; stdout: string }> {
    const res = await runCli(['doctor', '--json', '--timeout-ms', '2000', ...args], { FLOTILLA_BIND_ADDRESS: HOST_IP, ...env });
    const parsed = JSON.parse(res.stdout) as { findings: Finding[]; ok: boolean };
    assert.equal(parsed.ok, res.code === 0, 'ok matches the exit code');
    return { code: res.code, findings: parsed.findings, stdout: res.stdout };
  }
  const find = (findings: Finding[], check: string): Finding => {
    const f = findings.find((x) => x.check === check);
    assert.ok(f, `a finding for ${check}: ${JSON.stringify(findings)}`);
    return f;
  };

  async function healthyEnv(): Promise<Record<string, string>> {
    return { CENTRAL_MANAGER_URL: managerUrl, REDIS_URL: redisUrl, EXTERNAL_IP: HOST_IP, AGENT_PORT: String(await freePort(HOST_IP)) };
  }

  test('a healthy setup passes every check, the manager reaching back to this host', async () => {
    const { code, findings } = await doctor(await healthyEnv());
    assert.equal(code, 0, JSON.stringify(findings, null, 2));
    for (const check of ['redis.reach', 'redis.auth', 'clock.redis', 'manager.reach', 'clock.manager', 'external_ip.local', 'external_ip.reach_back']) {
      assert.equal(find(findings, check).status, 'ok', `${check}: ${JSON.stringify(find(findings, check))}`);
    }
    assert.match(find(findings, 'external_ip.reach_back').summary, /the manager reaches this host at 127\.0\.0\.51:\d+ \(a temporary \/ping/);
    const human = await runCli(['doctor'], { ...(await healthyEnv()), FLOTILLA_BIND_ADDRESS: HOST_IP });
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^STATUS\s+CHECK\s+FOUND/m);
    assert.match(human.stdout, /all checks passed/);
  });

  test('a wrong Redis password is named, with what to do', async () => {
    const { code, findings } = await doctor({ ...(await healthyEnv()), REDIS_URL: `redis://:wrong@127.0.0.1:${redis.port}` });
    assert.equal(code, 1);
    const auth = find(findings, 'redis.auth');
    assert.equal(auth.status, 'fail');
    assert.match(auth.summary, /refused the credentials/);
    assert.match(auth.fix ?? '', /right password in REDIS_URL/);
    assert.equal(find(findings, 'clock.redis').status, 'skip');
  });

  test('Redis not reachable, and the manager not reachable: each found, the dependent checks skipped', async () => {
    const closed = await freePort();
    const { code, findings } = await doctor({ ...(await healthyEnv()), REDIS_URL: `redis://127.0.0.1:${closed}`, CENTRAL_MANAGER_URL: `http://127.0.0.1:${closed}` });
    assert.equal(code, 1);
    const reach = find(findings, 'redis.reach');
    assert.equal(reach.status, 'fail');
    assert.match(reach.summary, new RegExp(`cannot reach Redis at 127\\.0\\.0\\.1:${closed}: connection refused`));
    assert.match(reach.fix ?? '', /open TCP/);
    const mgr = find(findings, 'manager.reach');
    assert.equal(mgr.status, 'fail');
    assert.match(mgr.summary, /cannot reach the manager .* connection refused/);
    assert.equal(find(findings, 'external_ip.reach_back').status, 'skip');
  });

  test("an EXTERNAL_IP that is not this host's is refused without sending to it", async () => {
    // TEST-NET-1 (RFC 5737): only a bind is attempted, the manager is not asked to reach it.
    const { code, findings } = await doctor({ ...(await healthyEnv()), EXTERNAL_IP: '192.0.2.1' });
    assert.equal(code, 1);
    assert.equal(find(findings, 'external_ip.local').status, 'fail');
    assert.match(find(findings, 'external_ip.local').summary, /not an address of this host/);
    assert.equal(find(findings, 'external_ip.reach_back').status, 'skip');
  });

  test('the manager reaching something else at EXTERNAL_IP:AGENT_PORT is a failure that says so', async () => {
    const port = await freePort(HOST_IP);
    const other: Server = createServer((_req, res) => res.writeHead(404).end('not here'));
    await new Promise<void>((resolve) => other.listen(port, HOST_IP, resolve));
    try {
      const { code, findings } = await doctor({ ...(await healthyEnv()), AGENT_PORT: String(port) });
      assert.equal(code, 1);
      const back = find(findings, 'external_ip.reach_back');
      assert.equal(back.status, 'fail');
      assert.match(back.summary, /not a Flotilla container \(HTTP 404\)/);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  test('the probe endpoint refuses bad input with a 400 that names the field', async () => {
    const { http } = await import('../helpers/processes.js');
    const bad = await http<{ error: string; field?: string }>('POST', `${managerUrl}/api/v1/cluster/probe`, { host: 'a b', port: 80 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'host');
    const port = await http<{ error: string; field?: string }>('POST', `${managerUrl}/api/v1/cluster/probe`, { host: '127.0.0.1', port: 0 });
    assert.equal(port.status, 400);
    assert.equal(port.body.field, 'port');
    const extra = await http('POST', `${managerUrl}/api/v1/cluster/probe`, { host: '127.0.0.1', port: 1, path: '/admin' });
    assert.equal(extra.status, 400, 'only /ping can be probed');
  });

  test('bad flags are usage errors (exit 2)', async () => {
    const res = await runCli(['doctor', '--agent-port', '70000']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /expected a port from 1 to 65535/);
  });
});
