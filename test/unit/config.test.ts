import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { managerConfigFromEnv } from '../../src/manager/config.js';
import { containerConfigFromEnv } from '../../src/container/config.js';
import { ConfigError, envMap } from '../../src/common/env.js';
import { assertLocalAddress, AddressNotLocalError, checkExternalIp } from '../../src/common/network.js';
import { backoffDelay } from '../../src/common/backoff.js';

describe('configuration from the environment', () => {
  test('manager defaults are the documented ones', () => {
    const c = managerConfigFromEnv({});
    assert.equal(c.port, 8000);
    assert.equal(c.leaseIntervalMs, 1_000);
    assert.equal(c.leaseTimeoutMs, 3_000);
    assert.equal(c.prefix, 'flotilla:');
    assert.match(c.managerId, /^mgr-/);
  });

  test('container reads the variables of the deployment guide', () => {
    const c = containerConfigFromEnv({
      CENTRAL_MANAGER_URL: 'http://127.0.0.1:8000/',
      REDIS_URL: 'redis://127.0.0.1:6379',
      EXTERNAL_IP: '127.0.0.2',
      CONTAINER_NAME: 'remote-agent',
      FLOTILLA_LABELS: 'zone=a, node.role=worker',
      FLOTILLA_CAPABILITIES: 'gpu,python',
    });
    assert.equal(c.managerUrl, 'http://127.0.0.1:8000');
    assert.equal(c.port, 8001);
    assert.equal(c.externalIp, '127.0.0.2');
    assert.equal(c.externalIpGuessed, false);
    assert.deepEqual(c.labels, { zone: 'a', 'node.role': 'worker' });
    assert.deepEqual(c.capabilities, ['gpu', 'python']);
  });

  test('bad values are refused with a message naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ CLUSTER_PORT: 'eighty' }, /CLUSTER_PORT/],
      [{ CLUSTER_PORT: '70000' }, /CLUSTER_PORT=70000 is out of range/],
      [{ FLOTILLA_LEASE_INTERVAL_MS: '3000', FLOTILLA_LEASE_TIMEOUT_MS: '1000' }, /must be greater than/],
      [{ FLOTILLA_MANAGER_ID: 'a/b' }, /FLOTILLA_MANAGER_ID/],
    ];
    for (const [env, message] of cases) assert.throws(() => managerConfigFromEnv(env), message);
    assert.throws(() => managerConfigFromEnv({ CLUSTER_PORT: 'x' }), ConfigError);
    assert.throws(() => containerConfigFromEnv({}), /CENTRAL_MANAGER_URL is not set/);
    assert.throws(() => containerConfigFromEnv({ CENTRAL_MANAGER_URL: 'redis://x:1' }), /must start with http/);
    assert.throws(() => containerConfigFromEnv({ CENTRAL_MANAGER_URL: 'http://127.0.0.1:8000', CONTAINER_NAME: 'no spaces' }), /CONTAINER_NAME/);
    assert.throws(() => envMap({ L: 'zone' }, 'L'), /L: "zone" is not key=value/);
    const base = { CENTRAL_MANAGER_URL: 'http://127.0.0.1:8000' };
    assert.throws(() => containerConfigFromEnv({ ...base, FLOTILLA_LATENCY_INTERVAL_MS: '50' }), /FLOTILLA_LATENCY_INTERVAL_MS \(50\) must be 0 \(off\) or at least 200/);
    assert.equal(containerConfigFromEnv({ ...base, FLOTILLA_LATENCY_INTERVAL_MS: '0' }).latencyIntervalMs, 0);
    assert.equal(containerConfigFromEnv(base).latencyIntervalMs, 5_000);
    assert.equal(containerConfigFromEnv({ ...base, FLOTILLA_LOG_SHIPPING: 'off' }).logShipping, false);
  });

  test('EXTERNAL_IP must be an address of this host', async () => {
    await assertLocalAddress('127.0.0.1');
    await assertLocalAddress('127.0.0.42'); // all of 127/8 is local on Linux
    await assertLocalAddress('localhost');
    // TEST-NET-1 (RFC 5737): never assigned to a host. Only a bind is attempted; nothing is sent.
    await assert.rejects(assertLocalAddress('192.0.2.1'), (e: Error) => e instanceof AddressNotLocalError && /EXTERNAL_IP=192\.0\.2\.1 is not an address of this host/.test(e.message));
    await assert.rejects(assertLocalAddress('no-such-host.invalid'), /does not resolve/);
  });

  test('FLOTILLA_EXTERNAL_IP_CHECK: on refuses, off skips, auto only warns inside a container runtime', async () => {
    await assert.rejects(checkExternalIp('192.0.2.1', 'on', {}), AddressNotLocalError);
    assert.equal(await checkExternalIp('192.0.2.1', 'off', {}), undefined);
    assert.equal(await checkExternalIp('127.0.0.1', 'auto', {}), undefined);
    const warning = await checkExternalIp('192.0.2.1', 'auto', { KUBERNETES_SERVICE_HOST: '10.96.0.1' });
    assert.match(warning ?? '', /published port/);
    assert.throws(() => managerConfigFromEnv({ FLOTILLA_EXTERNAL_IP_CHECK: 'maybe' }), /FLOTILLA_EXTERNAL_IP_CHECK="maybe" is not one of on, off, auto/);
  });

  test('backoff grows, is capped, and is jittered', () => {
    assert.equal(backoffDelay(0, 100, 1_000, () => 0), 50);
    assert.equal(backoffDelay(0, 100, 1_000, () => 1), 100);
    assert.equal(backoffDelay(3, 100, 1_000, () => 1), 800);
    assert.equal(backoffDelay(30, 100, 1_000, () => 1), 1_000);
  });
});
