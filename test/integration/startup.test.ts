/**
 * Starting the real processes with good and bad configuration: clear errors and exit codes for
 * what cannot work, patience (with log lines) for peers that are merely not up yet.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FlotillaProcess, freePort, http, waitFor, waitForHttp } from '../helpers/processes.js';
import { startRedisServer } from '../helpers/redis-server.js';
import type { ClusterStatus, ContainerList } from '../../src/protocol/api.js';

describe('starting processes', { timeout: 180_000 }, () => {
  test('a malformed REDIS_URL stops the manager at once with a message naming it', async () => {
    for (const url of ['http://127.0.0.1:6379', 'redis://127.0.0.1:notaport', 'not a url']) {
      const proc = new FlotillaProcess('manager', ['manager'], { REDIS_URL: url, CLUSTER_PORT: String(await freePort()), FLOTILLA_BIND_ADDRESS: '127.0.0.1' });
      const { code } = await proc.exited;
      assert.equal(code, 2, proc.text);
      assert.match(proc.text, /REDIS_URL/);
      assert.doesNotMatch(proc.text, /\n\s+at /, 'no stack trace');
    }
  });

  test('a manager without REDIS_URL explains what to do', async () => {
    const proc = new FlotillaProcess('manager', ['manager'], { CLUSTER_PORT: String(await freePort()) });
    assert.equal((await proc.exited).code, 2);
    assert.match(proc.text, /REDIS_URL is not set.*flotilla dev/);
  });

  test('a manager whose Redis is down serves /health, answers 503 on /ready, and recovers when Redis comes up', async () => {
    const redisPort = await freePort();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = new FlotillaProcess('manager', ['manager'], {
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      CLUSTER_PORT: String(port),
      FLOTILLA_BIND_ADDRESS: '127.0.0.1',
    });
    try {
      await waitForHttp(`${url}/health`, 15_000);
      const ready = await http<{ status: string; reason: string }>('GET', `${url}/ready`);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.status, 'not_ready');
      const status = await http<{ error: string }>('GET', `${url}/api/v1/cluster/status`);
      assert.equal(status.status, 503);
      assert.equal(status.body.error, 'store_unavailable');
      await proc.waitForOutput(/Redis/);
      const redis = await startRedisServer({ port: redisPort });
      try {
        await waitFor('/ready 200', async () => (await http('GET', `${url}/ready`)).status === 200, 20_000);
        await waitFor('a leader', async () => (await http<ClusterStatus>('GET', `${url}/api/v1/cluster/status`)).body.leader?.manager_id != null, 10_000);
      } finally {
        await proc.stop();
        await redis.stop();
      }
    } finally {
      await proc.stop();
    }
  });

  test('a container refuses an EXTERNAL_IP that is not an address of its host', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): the check only tries to bind it, nothing is sent.
    const proc = new FlotillaProcess('container', ['container'], {
      CENTRAL_MANAGER_URL: 'http://127.0.0.1:9',
      EXTERNAL_IP: '192.0.2.1',
      AGENT_PORT: String(await freePort()),
      // Explicit: the default (auto) only warns inside a container runtime, which CI may be.
      FLOTILLA_EXTERNAL_IP_CHECK: 'on',
    });
    assert.equal((await proc.exited).code, 2);
    assert.match(proc.text, /EXTERNAL_IP=192\.0\.2\.1 is not an address of this host/);
  });

  test('a container waits for an unreachable manager, saying so, and joins when it comes up', async () => {
    const redis = await startRedisServer();
    const port = await freePort();
    const managerUrl = `http://127.0.0.1:${port}`;
    const prefix = `st${process.pid}:`;
    const container = new FlotillaProcess('container', ['container'], {
      CENTRAL_MANAGER_URL: managerUrl,
      REDIS_URL: redis.url,
      EXTERNAL_IP: '127.0.0.5',
      FLOTILLA_BIND_ADDRESS: '127.0.0.5',
      AGENT_PORT: String(await freePort('127.0.0.5')),
      CONTAINER_NAME: 'patient',
      FLOTILLA_PREFIX: prefix,
    });
    let manager: FlotillaProcess | undefined;
    try {
      const line = await container.waitForOutput(/cannot register with the manager.*retrying in/, 10_000);
      assert.match(line, new RegExp(`127\\.0\\.0\\.1:${port}`));
      manager = new FlotillaProcess('manager', ['manager'], { REDIS_URL: redis.url, CLUSTER_PORT: String(port), FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_PREFIX: prefix });
      await waitFor('patient joined', async () => {
        const list = await http<ContainerList>('GET', `${managerUrl}/api/v1/cluster/containers`);
        return list.body.containers?.some((c) => c.container_id === 'patient');
      }, 20_000);
      assert.equal((await container.stop()).code, 0, container.text);
    } finally {
      await container.stop();
      await manager?.stop();
      await redis.stop();
    }
  });

  test('two live containers with the same CONTAINER_NAME: the older one stops with a clear message', async () => {
    const redis = await startRedisServer();
    const port = await freePort();
    const managerUrl = `http://127.0.0.1:${port}`;
    const prefix = `dup${process.pid}:`;
    const manager = new FlotillaProcess('manager', ['manager'], { REDIS_URL: redis.url, CLUSTER_PORT: String(port), FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_PREFIX: prefix });
    const twin = async (ip: string): Promise<FlotillaProcess> =>
      new FlotillaProcess(`twin@${ip}`, ['container'], {
        CENTRAL_MANAGER_URL: managerUrl,
        REDIS_URL: redis.url,
        EXTERNAL_IP: ip,
        FLOTILLA_BIND_ADDRESS: ip,
        AGENT_PORT: String(await freePort(ip)),
        CONTAINER_NAME: 'twin',
        FLOTILLA_PREFIX: prefix,
        FLOTILLA_LEASE_INTERVAL_MS: '200',
        FLOTILLA_LEASE_TIMEOUT_MS: '1000',
      });
    let first: FlotillaProcess | undefined;
    let second: FlotillaProcess | undefined;
    try {
      await waitForHttp(`${managerUrl}/health`, 15_000);
      first = await twin('127.0.0.7');
      await first.waitForOutput(/joined the cluster as twin \(epoch 1\)/, 15_000);
      second = await twin('127.0.0.8');
      await second.waitForOutput(/joined the cluster as twin \(epoch 2\)/, 15_000);
      const { code } = await first.exited;
      assert.equal(code, 2, first.text);
      assert.match(first.text, /CONTAINER_NAME must be unique/);
      const c = await http<{ host_address: string; state: string; epoch: number }>('GET', `${managerUrl}/api/v1/cluster/containers/twin`);
      assert.deepEqual([c.body.host_address, c.body.state, c.body.epoch], ['127.0.0.8', 'active', 2], 'the newer one keeps the name');
    } finally {
      await first?.stop();
      await second?.stop();
      await manager.stop();
      await redis.stop();
    }
  });

  test('flotilla dev runs a manager and a container without Redis, and stops cleanly', async () => {
    const clusterPort = await freePort();
    const agentPort = await freePort();
    const dev = new FlotillaProcess('dev', ['dev'], { CLUSTER_PORT: String(clusterPort), AGENT_PORT: String(agentPort) });
    try {
      await dev.waitForOutput(/Flotilla dev is running \(ready in \d+ ms/, 15_000);
      assert.match(dev.text, new RegExp(`http://127\\.0\\.0\\.1:${clusterPort}`));
      const status = await http<ClusterStatus>('GET', `http://127.0.0.1:${clusterPort}/api/v1/cluster/status`);
      assert.equal(status.body.cluster.active_containers, 1);
      assert.equal(status.body.store, 'memory');
      const container = await http<{ state: string; api_port: number }>('GET', `http://127.0.0.1:${agentPort}/status`);
      assert.equal(container.body.state, 'active');
      assert.equal((await dev.stop()).code, 0, dev.text);
    } finally {
      await dev.stop();
    }
  });
});
