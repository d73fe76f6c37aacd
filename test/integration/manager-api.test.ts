/**
 * The manager's API over real HTTP (an in-process manager on the memory store): documented
 * answers, and bad input rejected with a 4xx that names the field, with nothing half-written.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/index.js';
import { Manager } from '../../src/manager/manager.js';
import { managerConfigFromEnv } from '../../src/manager/config.js';
import { MissingAccessError, buildManagerApp } from '../../src/manager/app.js';
import { createLogger } from '../../src/common/logger.js';
import { http } from '../helpers/processes.js';
import type { ContainerList, ContainerView, ErrorBody, RegisterResponse } from '../../src/protocol/api.js';

const log = createLogger({ test: 'manager-api' }, 'silent');

describe('manager API', () => {
  const store = new MemoryStore();
  let manager: Manager;
  let url: string;

  before(async () => {
    const config = managerConfigFromEnv({ CLUSTER_PORT: '0', FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_MAX_BODY_BYTES: '65536' });
    manager = new Manager({ store, config, log });
    await manager.start();
    url = `http://127.0.0.1:${manager.port}`;
  });
  after(async () => {
    await manager.stop();
    await store.close();
  });

  const register = (body: unknown) => http<RegisterResponse & ErrorBody>('POST', `${url}/api/v1/cluster/containers/register`, body);
  const count = async () => (await http<ContainerList>('GET', `${url}/api/v1/cluster/containers?include_inactive=true`)).body.total;

  test('register with every field, then read it back', async () => {
    const res = await register({
      container_name: 'gpu-box-1',
      host_address: '127.0.0.5',
      api_port: 8001,
      capabilities: ['gpu', 'python'],
      labels: { zone: 'a', 'node.role': 'worker' },
      resources: { cpu_cores: 8, memory_mb: 32_000, gpus: 2, max_agents: 50, tpu: 1 },
      metadata: { rack: 7 },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), ['container_id', 'epoch', 'lease', 'success']);
    const got = await http<ContainerView>('GET', `${url}/api/v1/cluster/containers/gpu-box-1`);
    assert.equal(got.status, 200);
    assert.equal(got.body.endpoint, 'http://127.0.0.5:8001');
    assert.equal(got.body.resources.tpu, 1);
    assert.equal(got.body.availability, 'schedulable');
  });

  test('cordon, uncordon and drain change availability and show in /status', async () => {
    await register({ container_name: 'box-2', host_address: '127.0.0.6' });
    const cordoned = await http<{ container: ContainerView }>('POST', `${url}/api/v1/cluster/containers/box-2/cordon`);
    assert.equal(cordoned.status, 200);
    assert.equal(cordoned.body.container.availability, 'cordoned');
    let status = (await http<{ cluster: { cordoned_containers: number } }>('GET', `${url}/api/v1/cluster/status`)).body;
    assert.equal(status.cluster.cordoned_containers, 1);
    assert.equal((await http<{ container: ContainerView }>('POST', `${url}/api/v1/cluster/containers/box-2/uncordon`)).body.container.availability, 'schedulable');
    assert.equal((await http<{ container: ContainerView }>('POST', `${url}/api/v1/cluster/containers/box-2/drain`, {})).body.container.availability, 'draining');
    status = (await http<{ cluster: { cordoned_containers: number } }>('GET', `${url}/api/v1/cluster/status`)).body;
    assert.equal(status.cluster.cordoned_containers, 0);
  });

  test('missing and mistyped fields get a 400 naming the field, and nothing is written', async () => {
    const before = await count();
    const cases: [unknown, string][] = [
      [{ host_address: '127.0.0.7' }, 'container_name'],
      [{ container_name: 'x1' }, 'host_address'],
      [{ container_name: 'x1', host_address: '127.0.0.7', api_port: 'eighty' }, 'api_port'],
      [{ container_name: 'x1', host_address: '127.0.0.7', api_port: 70_000 }, 'api_port'],
      [{ container_name: 'x1', host_address: '127.0.0.7', capabilities: 'gpu' }, 'capabilities'],
      [{ container_name: 'x1', host_address: '127.0.0.7', labels: { zone: 5 } }, 'labels.zone'],
      [{ container_name: 'x1', host_address: '127.0.0.7', resources: { cpu_cores: -1 } }, 'resources.cpu_cores'],
      [{ container_name: 'x1', host_address: '127.0.0.7', colour: 'blue' }, 'colour'],
      [{ container_name: 'bad/name', host_address: '127.0.0.7' }, 'container_name'],
      [{ container_name: '{c}:x', host_address: '127.0.0.7' }, 'container_name'],
      [{ container_name: 'x'.repeat(200), host_address: '127.0.0.7' }, 'container_name'],
      [{ container_name: 'x1', host_address: 'a b' }, 'host_address'],
      [{ container_name: 'x1', host_address: '127.0.0.7', lease_interval_ms: 1000, lease_timeout_ms: 500 }, 'lease_timeout_ms'],
    ];
    for (const [body, field] of cases) {
      const res = await register(body);
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)} → ${res.status}`);
      assert.equal(res.body.error, 'validation_failed');
      assert.equal(res.body.field, field, res.body.message);
      assert.ok(res.body.message.includes(field.split('.')[0]!), res.body.message);
    }
    assert.equal(await count(), before, 'no container was written');
  });

  test('malformed JSON, wrong media type and oversize bodies are refused', async () => {
    const before = await count();
    const bad = await http<ErrorBody>('POST', `${url}/api/v1/cluster/containers/register`, '{"container_name": ');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid_json');
    const big = await http<ErrorBody>('POST', `${url}/api/v1/cluster/containers/register`, {
      container_name: 'big',
      host_address: '127.0.0.8',
      metadata: { blob: 'x'.repeat(100_000) },
    });
    assert.equal(big.status, 413);
    assert.equal(big.body.error, 'payload_too_large');
    const text = await http<ErrorBody>('POST', `${url}/api/v1/cluster/containers/register`, 'container_name=x', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    const meta = await register({ container_name: 'meta', host_address: '127.0.0.8', metadata: { blob: 'x'.repeat(9_000) } });
    assert.equal(meta.status, 400);
    assert.equal(meta.body.field, 'metadata');
    assert.equal(await count(), before);
  });

  test('unknown ids and routes get 404 with a JSON body; no stack traces', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/cluster/containers/nope'],
      ['POST', '/api/v1/cluster/containers/nope/cordon'],
      ['POST', '/api/v1/cluster/containers/nope/drain'],
      ['DELETE', '/api/v1/cluster/containers/nope'],
      ['GET', '/api/v1/nothing-here'],
    ] as const) {
      const res = await http<ErrorBody>(method, `${url}${path}`);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.error, 'not_found');
      assert.ok(!JSON.stringify(res.body).includes('    at '), 'no stack trace');
    }
    const hb = await http<ErrorBody>('POST', `${url}/api/v1/cluster/containers/nope/heartbeat`, { epoch: 1 });
    assert.equal(hb.status, 404);
    const badId = await http<ErrorBody>('GET', `${url}/api/v1/cluster/containers/${encodeURIComponent('a{b}')}`);
    assert.equal(badId.status, 400);
    assert.equal(badId.body.field, 'id');
  });

  test('HTTP heartbeat renews the current epoch and refuses a stale one with 409', async () => {
    const first = (await register({ container_name: 'hb', host_address: '127.0.0.9' })).body;
    const second = (await register({ container_name: 'hb', host_address: '127.0.0.9' })).body;
    const ok = await http<{ lease_expires_at: string }>('POST', `${url}/api/v1/cluster/containers/hb/heartbeat`, { epoch: second.epoch });
    assert.equal(ok.status, 200);
    assert.ok(Date.parse(ok.body.lease_expires_at) > Date.now());
    const stale = await http<ErrorBody>('POST', `${url}/api/v1/cluster/containers/hb/heartbeat`, { epoch: first.epoch });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error, 'stale_epoch');
    const missing = await http<ErrorBody>('POST', `${url}/api/v1/cluster/containers/hb/heartbeat`, {});
    assert.equal(missing.status, 400);
    assert.equal(missing.body.field, 'epoch');
  });

  test('DELETE refuses an active container unless forced; deregister needs the current epoch', async () => {
    const reg = (await register({ container_name: 'rm-me', host_address: '127.0.0.10' })).body;
    const refused = await http<ErrorBody>('DELETE', `${url}/api/v1/cluster/containers/rm-me`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error, 'container_active');
    const stale = await http<ErrorBody>('POST', `${url}/api/v1/cluster/containers/rm-me/deregister`, { epoch: reg.epoch + 5 });
    assert.equal(stale.status, 409);
    assert.equal((await http('POST', `${url}/api/v1/cluster/containers/rm-me/deregister`, { epoch: reg.epoch })).status, 200);
    assert.equal((await http('GET', `${url}/api/v1/cluster/containers/rm-me`)).status, 404);
    await register({ container_name: 'rm-me', host_address: '127.0.0.10' });
    assert.equal((await http('DELETE', `${url}/api/v1/cluster/containers/rm-me?force=true`)).status, 200);
  });

  test('/ready is 503 when the store does not answer', async () => {
    const broken = new MemoryStore();
    broken.ping = () => Promise.reject(new Error('connection refused'));
    const app = await buildManagerApp({ store: broken, config: managerConfigFromEnv({}), log });
    const res = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(res.statusCode, 503);
    assert.match(res.json<{ reason: string }>().reason, /connection refused/);
    await app.close();
  });

  test('every API route declares who may call it (where authentication attaches)', async () => {
    // buildManagerApp refuses any route without config.access, so building it proves all have one.
    const app = await buildManagerApp({ store, config: managerConfigFromEnv({}), log });
    assert.throws(() => app.get('/api/v1/undeclared', async () => ({})), MissingAccessError);
    assert.doesNotThrow(() => app.get('/api/v1/declared', { config: { access: 'read' } }, async () => ({})));
    await app.close();
  });
});
