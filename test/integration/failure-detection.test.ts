/**
 * The failure detector with DEFAULT lease settings (renew every 1 s, lapse after 3 s), real
 * processes on loopback: a paused container is found by the probe of its /ping before its lease
 * lapses; a container that is alive but cannot reach Redis answers the probe, so only its lease
 * judges it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startDelayProxy, type DelayProxy } from '../helpers/delay-proxy.js';
import { FlotillaProcess, freePort, http, loopbackContainerEnv, waitFor, waitForHttp } from '../helpers/processes.js';
import { DEFAULT_LEASE_TIMEOUT_MS } from '../../src/manager/config.js';
import type { ContainerView, EventView } from '../../src/protocol/api.js';

/** Process scheduling on a loaded 2-core machine: slack on top of every protocol bound. */
const SLACK_MS = 3_000;
const STALLED_MS = 60_000;

describe('failure detection with the default lease', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let proxy: DelayProxy;
  let url: string;
  const procs: FlotillaProcess[] = [];
  const prefix = `fd${process.pid}:`;

  const container = async (name: string, ip: string, redisUrl: string): Promise<FlotillaProcess> => {
    const proc = new FlotillaProcess(name, ['container'], await loopbackContainerEnv(name, ip, { managerUrl: url, redisUrl, prefix }));
    procs.push(proc);
    return proc;
  };

  const view = async (id: string): Promise<ContainerView | undefined> => {
    const res = await http<ContainerView>('GET', `${url}/api/v1/cluster/containers/${id}`);
    return res.status === 200 ? res.body : undefined;
  };
  const active = (id: string, minEpoch = 0) =>
    waitFor(`${id} active`, async () => {
      const c = await view(id);
      return c?.state === 'active' && c.epoch > minEpoch ? c : undefined;
    }, 15_000);
  const downEvent = async (id: string, epoch: number): Promise<EventView | undefined> => {
    const events = (await http<{ events: EventView[] }>('GET', `${url}/api/v1/cluster/events?limit=1000`)).body.events;
    return events.find((e) => e.type === 'container_down' && e.container_id === id && e.epoch === epoch);
  };

  before(async () => {
    redis = await startRedisServer();
    proxy = await startDelayProxy(redis.host, redis.port);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    procs.push(new FlotillaProcess('mgr', ['manager'], { REDIS_URL: redis.url, CLUSTER_PORT: String(port), FLOTILLA_BIND_ADDRESS: '127.0.0.1', EXTERNAL_IP: '127.0.0.1', FLOTILLA_PREFIX: prefix }));
    await waitForHttp(`${url}/health`);
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await proxy?.close();
    await redis?.stop();
  });

  test('a paused container (SIGSTOP) is found silent and marked down before its lease lapses', async () => {
    const proc = await container('paused', '127.0.0.21', redis.url);
    const before = await active('paused');
    proc.signal('SIGSTOP');
    try {
      const down = await waitFor('paused down', async () => {
        const c = await view('paused');
        return c?.state === 'down' ? c : undefined;
      }, DEFAULT_LEASE_TIMEOUT_MS + SLACK_MS);
      const event = await downEvent('paused', before.epoch);
      assert.equal(event?.data.reason, 'unreachable', `found by the probe: ${JSON.stringify(event)}`);
      const lastRenewal = Number(event?.data.lastRenewalMs);
      const downAt = Date.parse(down.down_at ?? event!.timestamp);
      assert.ok(downAt - lastRenewal < DEFAULT_LEASE_TIMEOUT_MS, `down ${downAt - lastRenewal} ms after its last renewal, before the ${DEFAULT_LEASE_TIMEOUT_MS} ms lease lapsed`);
    } finally {
      proc.signal('SIGCONT');
    }
    await active('paused', before.epoch);
  });

  test('a container alive but cut off from Redis answers the probe: only its lease lapsing marks it down', async () => {
    await container('stalled', '127.0.0.22', proxy.url);
    const before = await active('stalled');
    proxy.delayMs = STALLED_MS;
    try {
      await waitFor('stalled down', async () => ((await view('stalled'))?.state === 'down' ? true : undefined), DEFAULT_LEASE_TIMEOUT_MS + SLACK_MS);
      const event = await downEvent('stalled', before.epoch);
      assert.ok(event !== undefined, 'a container_down event');
      assert.notEqual(event.data.reason, 'unreachable', `not judged by the probe: ${JSON.stringify(event)}`);
      const lastRenewal = Number(event.data.lastRenewalMs);
      assert.ok(Date.parse(event.timestamp) - lastRenewal >= DEFAULT_LEASE_TIMEOUT_MS - 50, 'its whole lease ran out first');
    } finally {
      proxy.delayMs = 0;
    }
  });
});
