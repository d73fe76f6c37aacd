/**
 * The foundation, end to end with real processes on loopback: a real redis-server, two managers
 * and three containers, each container with its own 127.0.0.x EXTERNAL_IP. The calls are the ones
 * a person makes with curl.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { CLI, FlotillaProcess, freePort, http, waitFor, waitForHttp } from '../helpers/processes.js';
import { execFile } from 'node:child_process';
import type { ClusterStatus, ContainerList, ContainerView, EventView, RegisterResponse } from '../../src/protocol/api.js';

const LEASE_INTERVAL_MS = 300;
const LEASE_TIMEOUT_MS = 1_200;
const LEADER_LEASE_MS = 1_500;
const DETECTOR_INTERVAL_MS = 100;
/** Process scheduling on a loaded 2-core CI machine: slack on top of every protocol bound. */
const SLACK_MS = 2_000;

/** The real `flotilla` bin, as a user runs it. */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe('a cluster of real processes on loopback', { timeout: 180_000 }, () => {
  let redis: RedisServer;
  const managers: { proc: FlotillaProcess; url: string; id: string }[] = [];
  const containers = new Map<string, FlotillaProcess>();
  const agentPorts = new Map<string, number>();
  const prefix = `it${process.pid}:`;
  const killed = new Set<string>();
  const liveManagerUrl = (): string => managers.find((m) => !killed.has(m.id))!.url;

  const managerEnv = (id: string, port: number): Record<string, string> => ({
    REDIS_URL: redis.url,
    CLUSTER_PORT: String(port),
    FLOTILLA_BIND_ADDRESS: '127.0.0.1',
    EXTERNAL_IP: '127.0.0.1',
    FLOTILLA_MANAGER_ID: id,
    FLOTILLA_PREFIX: prefix,
    FLOTILLA_LEADER_LEASE_MS: String(LEADER_LEASE_MS),
    FLOTILLA_DETECTOR_INTERVAL_MS: String(DETECTOR_INTERVAL_MS),
  });

  const startContainer = (name: string, ip: string): FlotillaProcess => {
    const proc = new FlotillaProcess(name, ['container'], {
      CENTRAL_MANAGER_URL: managers[0]!.url,
      REDIS_URL: redis.url,
      EXTERNAL_IP: ip,
      FLOTILLA_BIND_ADDRESS: ip,
      AGENT_PORT: String(agentPorts.get(name)),
      CONTAINER_NAME: name,
      FLOTILLA_PREFIX: prefix,
      FLOTILLA_LABELS: `zone=${name === 'c1' ? 'a' : 'b'}`,
      FLOTILLA_CAPABILITIES: 'python,gpu',
      FLOTILLA_LEASE_INTERVAL_MS: String(LEASE_INTERVAL_MS),
      FLOTILLA_LEASE_TIMEOUT_MS: String(LEASE_TIMEOUT_MS),
    });
    containers.set(name, proc);
    return proc;
  };

  const getContainer = async (url: string, id: string): Promise<ContainerView | undefined> => {
    const res = await http<ContainerView>('GET', `${url}/api/v1/cluster/containers/${id}`);
    return res.status === 200 ? res.body : undefined;
  };

  before(async () => {
    redis = await startRedisServer();
    for (const id of ['mgr-a', 'mgr-b']) {
      const port = await freePort();
      const proc = new FlotillaProcess(id, ['manager'], managerEnv(id, port));
      managers.push({ proc, url: `http://127.0.0.1:${port}`, id });
    }
    await Promise.all(managers.map((m) => waitForHttp(`${m.url}/health`)));
    for (const [name, ip] of [
      ['c1', '127.0.0.2'],
      ['c2', '127.0.0.3'],
      ['c3', '127.0.0.4'],
    ] as const) {
      agentPorts.set(name, await freePort(ip));
      startContainer(name, ip);
    }
    await waitFor('three active containers', async () => {
      const res = await http<ContainerList>('GET', `${managers[0]!.url}/api/v1/cluster/containers`);
      return res.body.total === 3;
    }, 15_000);
  });

  after(async () => {
    await Promise.all([...containers.values()].map((c) => c.stop()));
    await Promise.all(managers.map((m) => m.proc.stop()));
    await redis?.stop();
  });

  test('GET /health answers status, timestamp and version', async () => {
    const res = await http<{ status: string; timestamp: string; version: string }>('GET', `${managers[1]!.url}/health`);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'healthy');
    assert.ok(!Number.isNaN(Date.parse(res.body.timestamp)));
    assert.match(res.body.version, /^\d+\.\d+\.\d+/);
    assert.equal((await http('GET', `${managers[1]!.url}/ready`)).status, 200);
  });

  test('every container advertises its own EXTERNAL_IP and answers on it', async () => {
    const list = (await http<ContainerList>('GET', `${managers[1]!.url}/api/v1/cluster/containers`)).body;
    const byId = new Map(list.containers.map((c) => [c.container_id, c]));
    assert.equal(byId.get('c1')?.host_address, '127.0.0.2');
    assert.equal(byId.get('c2')?.host_address, '127.0.0.3');
    assert.equal(byId.get('c3')?.host_address, '127.0.0.4');
    assert.deepEqual(byId.get('c1')?.labels, { zone: 'a' });
    assert.deepEqual(byId.get('c1')?.capabilities, ['python', 'gpu']);
    for (const c of list.containers) {
      const ping = await http<{ pong: boolean; container_id: string }>('GET', `${c.endpoint}/ping`);
      assert.equal(ping.body.container_id, c.container_id);
      const status = await http<{ state: string; lease: { via: string } }>('GET', `${c.endpoint}/status`);
      assert.equal(status.body.state, 'active');
      assert.equal(status.body.lease.via, 'redis');
    }
  });

  test('registering remote-agent by hand, as the deployment guide does with curl', async () => {
    const url = managers[1]!.url;
    const first = await http<RegisterResponse>('POST', `${url}/api/v1/cluster/containers/register`, {
      container_name: 'remote-agent',
      host_address: '127.0.0.9',
    });
    assert.equal(first.status, 200);
    assert.equal(first.body.success, true);
    assert.equal(first.body.container_id, 'remote-agent');
    assert.ok(first.body.epoch >= 1);
    assert.ok(first.body.lease.timeout_ms > first.body.lease.interval_ms);
    const again = await http<RegisterResponse>('POST', `${url}/api/v1/cluster/containers/register`, {
      container_name: 'remote-agent',
      host_address: '127.0.0.9',
    });
    assert.equal(again.body.epoch, first.body.epoch + 1, 're-registering a name gives a higher epoch');

    const status = await http<ClusterStatus>('GET', `${managers[0]!.url}/api/v1/cluster/status`);
    assert.equal(status.status, 200);
    const ids = status.body.cluster.containers.map((c) => c.container_id);
    for (const id of ['c1', 'c2', 'c3', 'remote-agent']) assert.ok(ids.includes(id), `${id} listed in /status`);
    assert.equal(status.body.deployments.total_agents, 0);
    assert.equal(status.body.managers.length, 2);
    assert.ok(status.body.leader.manager_id !== null);
    // Nobody renews remote-agent's lease, so it goes down; clean it up for the next tests.
    await waitFor('remote-agent down', async () => (await getContainer(url, 'remote-agent'))?.state === 'down', 3_000 + LEASE_INTERVAL_MS + SLACK_MS + 2_000);
    assert.equal((await http('DELETE', `${url}/api/v1/cluster/containers/remote-agent`)).status, 200);
  });

  test('kill -9 of a container marks it down within its lease timeout; restarting it rejoins with a higher epoch', async () => {
    const url = managers[0]!.url;
    const before = await getContainer(url, 'c2');
    assert.equal(before?.state, 'active');
    const killedAt = Date.now();
    containers.get('c2')!.kill9();
    await waitFor('c2 down', async () => (await getContainer(url, 'c2'))?.state === 'down', LEASE_TIMEOUT_MS + LEASE_INTERVAL_MS + SLACK_MS);
    const detectedMs = Date.now() - killedAt;
    assert.ok(detectedMs <= LEASE_TIMEOUT_MS + LEASE_INTERVAL_MS + SLACK_MS, `detected after ${detectedMs} ms`);
    const events = (await http<{ events: EventView[] }>('GET', `${url}/api/v1/cluster/events?limit=1000`)).body.events;
    assert.ok(events.some((e) => e.type === 'container_down' && e.container_id === 'c2'), 'a container_down event is recorded');
    const status = (await http<ClusterStatus>('GET', `${url}/api/v1/cluster/status`)).body;
    assert.equal(status.status, 'degraded');
    assert.ok(status.cluster.down_containers >= 1);

    startContainer('c2', '127.0.0.3');
    const rejoined = await waitFor('c2 active again', async () => {
      const c = await getContainer(url, 'c2');
      return c?.state === 'active' ? c : undefined;
    }, 15_000);
    assert.ok(rejoined.epoch > before!.epoch, `epoch ${rejoined.epoch} > ${before!.epoch}`);
  });

  test('a paused container (SIGSTOP past its lease) is marked down, and on SIGCONT re-registers with a new epoch', async () => {
    const url = managers[0]!.url;
    const before = (await getContainer(url, 'c1'))!;
    const c1 = containers.get('c1')!;
    c1.signal('SIGSTOP');
    try {
      await waitFor('c1 down while paused', async () => (await getContainer(url, 'c1'))?.state === 'down', LEASE_TIMEOUT_MS + LEASE_INTERVAL_MS + SLACK_MS);
    } finally {
      c1.signal('SIGCONT');
    }
    // Its old epoch is refused (fenced); it notices and joins again as a new incarnation.
    await c1.waitForOutput(/lease refused \(down\)/, 10_000);
    const after = await waitFor('c1 active again', async () => {
      const c = await getContainer(url, 'c1');
      return c?.state === 'active' && c.epoch > before.epoch ? c : undefined;
    }, 10_000);
    assert.equal(after.epoch, before.epoch + 1);
    const renew = await http<{ error: string }>('POST', `${url}/api/v1/cluster/containers/c1/heartbeat`, { epoch: before.epoch });
    assert.equal(renew.status, 409, 'the old epoch stays fenced');
  });

  test('a container without REDIS_URL keeps its lease over HTTP through the manager', async () => {
    const url = managers[0]!.url;
    agentPorts.set('c4', await freePort('127.0.0.6'));
    const c4 = new FlotillaProcess('c4', ['container'], {
      CENTRAL_MANAGER_URL: url,
      EXTERNAL_IP: '127.0.0.6',
      FLOTILLA_BIND_ADDRESS: '127.0.0.6',
      AGENT_PORT: String(agentPorts.get('c4')),
      CONTAINER_NAME: 'c4',
      FLOTILLA_LEASE_INTERVAL_MS: String(LEASE_INTERVAL_MS),
      FLOTILLA_LEASE_TIMEOUT_MS: String(LEASE_TIMEOUT_MS),
    });
    containers.set('c4', c4);
    const joined = await waitFor('c4 active', async () => {
      const c = await getContainer(url, 'c4');
      return c?.state === 'active' ? c : undefined;
    }, 10_000);
    // Three lease timeouts later it is still the same active incarnation.
    await new Promise((r) => setTimeout(r, LEASE_TIMEOUT_MS * 3));
    const later = await getContainer(url, 'c4');
    assert.equal(later?.state, 'active');
    assert.equal(later?.epoch, joined.epoch);
    const status = await http<{ lease: { via: string; renewals: number } }>('GET', `http://127.0.0.6:${agentPorts.get('c4')}/status`);
    assert.equal(status.body.lease.via, 'http');
    assert.ok(status.body.lease.renewals >= 5);
    assert.equal((await c4.stop()).code, 0);
    containers.delete('c4');
    assert.equal(await getContainer(url, 'c4'), undefined, 'deregistered over HTTP too');
  });

  test('the CLI reads the real cluster', async () => {
    const env = { FLOTILLA_URL: managers[1]!.url };
    const json = await runCli(['status', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const status = JSON.parse(json.stdout) as ClusterStatus;
    assert.ok(status.cluster.containers.some((c) => c.container_id === 'c1'));
    const table = await runCli(['containers', 'ls'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /c1\s+127\.0\.0\.2/);
    const cordon = await runCli(['containers', 'cordon', 'c3', '--json'], env);
    assert.equal(cordon.code, 0, cordon.stderr);
    assert.equal((await getContainer(managers[0]!.url, 'c3'))?.availability, 'cordoned');
    assert.equal((await runCli(['containers', 'uncordon', 'c3'], env)).code, 0);
    const missing = await runCli(['containers', 'get', 'nope'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /container "nope" not found/);
  });

  test('kill -9 of the leader manager hands the control loops to the other', async () => {
    const status = (await http<ClusterStatus>('GET', `${managers[0]!.url}/api/v1/cluster/status`)).body;
    const leaderId = status.leader.manager_id;
    const leader = managers.find((m) => m.id === leaderId);
    const survivor = managers.find((m) => m.id !== leaderId);
    assert.ok(leader && survivor, `leader ${leaderId} is one of ours`);
    const killedAt = Date.now();
    leader.proc.kill9();
    killed.add(leader.id);
    const next = await waitFor('a new leader', async () => {
      const s = (await http<ClusterStatus>('GET', `${survivor.url}/api/v1/cluster/status`)).body;
      return s.leader.manager_id === survivor.id ? s : undefined;
    }, LEADER_LEASE_MS * 2 + SLACK_MS);
    assert.ok(next.leader.term > status.leader.term, 'the term grows');
    assert.ok(Date.now() - killedAt <= LEADER_LEASE_MS * 2 + SLACK_MS);
    // Taken over because the dead leader's Redis connection was gone, not after its lease ran out.
    await survivor.proc.waitForOutput(/lost its Redis connection \(its process died\): taking over without waiting for its lease/, 5_000);
    // The new leader runs the failure detector: a container killed now is still noticed.
    containers.get('c3')!.kill9();
    await waitFor('c3 down (detected by the new leader)', async () => (await getContainer(survivor.url, 'c3'))?.state === 'down', LEASE_TIMEOUT_MS + LEASE_INTERVAL_MS + SLACK_MS);
  });

  test('SIGTERM makes a container deregister and exit 0', async () => {
    const url = liveManagerUrl();
    const c1 = containers.get('c1')!;
    assert.equal((await getContainer(url, 'c1'))?.state, 'active');
    const { code } = await c1.stop();
    assert.equal(code, 0, c1.text);
    assert.equal(await getContainer(url, 'c1'), undefined, 'c1 is gone from the registry');
    const events = (await http<{ events: EventView[] }>('GET', `${url}/api/v1/cluster/events?limit=1000`)).body.events;
    assert.ok(events.some((e) => e.type === 'container_left' && e.container_id === 'c1'));
  });
});
