/**
 * Bring-your-own certificates: a CA, a manager certificate and a container certificate made by
 * the test (with the same X.509 library), handed over as FLOTILLA_TLS_CERT/KEY/CA files, work end
 * to end (join, agent, send, container-token calls with the container's certificate, the
 * reach-back probe). And the CLI against an https manager: --ca-file or FLOTILLA_CA_FILE work;
 * without them, one clear line (no stack trace).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { FlotillaProcess, freePort, waitFor } from '../../helpers/processes.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { bearer, testKeys, type TestKeys } from '../../helpers/auth.js';
import { httpsCall, servedCertificate, tlsClient } from '../../helpers/tls.js';
import { runCli } from '../../cli/run-cli.js';
import { certificateInfo } from '../../../src/tls/index.js';
import { createCa, issueKeyAndCert, loadSigningCa, type KeyAndCert } from '../../../src/tls/x509.js';

describe('bring-your-own certificates, and the CLI against an https manager', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-byo-'));
  let keys: TestKeys;
  let redis: RedisServer;
  let ca: KeyAndCert;
  let containerCert: KeyAndCert;
  let base: string;
  let agentPort: number;
  let admin: string;
  let anonymous: Agent;
  const files = (name: string, m: KeyAndCert) => {
    writeFileSync(join(dir, `${name}.crt`), m.certPem);
    writeFileSync(join(dir, `${name}.key`), m.keyPem, { mode: 0o600 });
    return { FLOTILLA_TLS_CERT: join(dir, `${name}.crt`), FLOTILLA_TLS_KEY: join(dir, `${name}.key`), FLOTILLA_TLS_CA: join(dir, 'ca.crt') };
  };
  const procs: FlotillaProcess[] = [];

  before(async () => {
    redis = await startRedisServer();
    keys = testKeys('byo');
    ca = await createCa('Example Corp internal CA');
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    const signer = await loadSigningCa(ca.certPem, ca.keyPem);
    const managerCert = await issueKeyAndCert(signer, { commonName: 'flotilla-manager', names: ['127.0.0.1', 'localhost'], ttlMs: 3_600_000 });
    containerCert = await issueKeyAndCert(signer, { commonName: 'c-byo', names: ['127.0.0.1'], ttlMs: 3_600_000 });
    anonymous = tlsClient(ca.certPem);
    const port = await freePort();
    base = `https://127.0.0.1:${port}`;
    const common = { FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_PREFIX: `byo${process.pid}:`, REDIS_URL: redis.url, FLOTILLA_EXTERNAL_IP_CHECK: 'off', EXTERNAL_IP: '127.0.0.1' };
    procs.push(new FlotillaProcess('manager', ['manager'], { ...common, ...keys.env, ...files('manager', managerCert), FLOTILLA_TLS: 'on', CLUSTER_PORT: String(port) }));
    await waitFor('the manager over https', async () => (await httpsCall(anonymous, 'GET', `${base}/ready`)).status === 200, 20_000);
    agentPort = await freePort();
    procs.push(
      new FlotillaProcess('c-byo', ['container'], {
        ...common,
        ...keys.env,
        ...files('c-byo', containerCert),
        CENTRAL_MANAGER_URL: base,
        CONTAINER_NAME: 'c-byo',
        AGENT_PORT: String(agentPort),
        FLOTILLA_JOIN_TOKEN: keys.joinToken(),
      }),
    );
    admin = await keys.token('admin');
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await anonymous?.close();
    await redis?.stop();
    keys?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the operator's certificates, given as files, carry the whole cluster", async () => {
    const ours = await httpsCall<{ ca_certificate: string }>(anonymous, 'GET', `${base}/api/v1/cluster/ca`);
    assert.equal(ours.body.ca_certificate, ca.certPem, 'the CA published is FLOTILLA_TLS_CA');
    await waitFor('c-byo active', async () => (await httpsCall<{ state?: string }>(anonymous, 'GET', `${base}/api/v1/cluster/containers/c-byo`, undefined, bearer(admin))).body.state === 'active', 20_000);
    const served = await servedCertificate(agentPort, ca.certPem);
    assert.equal(served.serial, certificateInfo(containerCert.certPem).serial, 'the container serves the given certificate');
    const deployed = await httpsCall(anonymous, 'POST', `${base}/api/v1/cluster/agents/deploy`, { agent_type: 'echo', name: 'byo' }, bearer(admin));
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const reply = await waitFor('a reply', async () => {
      const res = await httpsCall<{ status?: string; result?: { echo?: unknown } }>(anonymous, 'POST', `${base}/api/v1/agents/echo/byo/messages`, { message: 'mine', timeout_ms: 5_000 }, bearer(admin));
      return res.status === 200 ? res.body : undefined;
    }, 30_000);
    assert.equal(reply.result?.echo, 'mine');
    // A container token counts with the container's certificate, not without it.
    const view = await httpsCall<{ epoch: number }>(anonymous, 'GET', `${base}/api/v1/cluster/containers/c-byo`, undefined, bearer(admin));
    const token = bearer(await keys.token('container', { cid: 'c-byo' }));
    const withCert = tlsClient(ca.certPem, containerCert);
    try {
      assert.equal((await httpsCall(withCert, 'POST', `${base}/api/v1/cluster/containers/c-byo/heartbeat`, { epoch: view.body.epoch }, token)).status, 200);
      const bare = await httpsCall<{ error: string }>(anonymous, 'POST', `${base}/api/v1/cluster/containers/c-byo/heartbeat`, { epoch: view.body.epoch }, token);
      assert.equal(bare.status, 401);
      assert.equal(bare.body.error, 'client_certificate_required');
    } finally {
      await withCert.close();
    }
    // No cluster CA in the key directory: a CSR cannot be signed (409, said plainly).
    const csr = (await (await import('../../../src/tls/index.js')).newKeyAndCsr('x')).csrPem;
    const refused = await httpsCall<{ error: string }>(anonymous, 'POST', `${base}/api/v1/cluster/containers/register`, { container_name: 'x', host_address: '127.0.0.1', csr }, bearer(admin));
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error, 'no_cluster_ca');
    // The container's port takes the manager's own certificate (the reach-back probe).
    const probe = await httpsCall<{ reachable: boolean; flotilla: boolean }>(anonymous, 'POST', `${base}/api/v1/cluster/probe`, { host: '127.0.0.1', port: agentPort }, bearer(admin));
    assert.deepEqual({ reachable: probe.body.reachable, flotilla: probe.body.flotilla }, { reachable: true, flotilla: true });
  });

  test('the CLI talks to the https manager with --ca-file or FLOTILLA_CA_FILE; without, one clear line', async () => {
    const withFlag = await runCli(['status', '--url', base, '--token', admin, '--ca-file', join(dir, 'ca.crt'), '--json']);
    assert.equal(withFlag.code, 0, withFlag.stderr);
    assert.equal(typeof (JSON.parse(withFlag.stdout) as { managers?: unknown }).managers, 'object');
    const withEnv = await runCli(['containers', 'ls', '--url', base, '--token', admin], { FLOTILLA_CA_FILE: join(dir, 'ca.crt') });
    assert.equal(withEnv.code, 0, withEnv.stderr);
    assert.match(withEnv.stdout, /c-byo/);

    const without = await runCli(['status', '--url', base, '--token', admin]);
    assert.equal(without.code, 3);
    assert.match(without.stderr, /^error: the manager at https:\/\/127\.0\.0\.1:\d+ has a TLS certificate this command does not trust \([A-Z_]+\)\. Pass the cluster CA certificate with --ca-file or FLOTILLA_CA_FILE/);
    assert.doesNotMatch(without.stderr, /\n\s+at /, 'no stack trace');
    const missing = await runCli(['status', '--url', base, '--token', admin, '--ca-file', join(dir, 'nope.crt')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: --ca-file \/ FLOTILLA_CA_FILE .*nope\.crt: cannot read it/);
  });
});
