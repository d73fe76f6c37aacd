/**
 * Mutual TLS with real processes: a manager with FLOTILLA_TLS=on and a cluster CA, containers
 * that join over https (the CA checked against the join token, a CSR sent, a certificate back),
 * a real redis-server, agents answering sends; clients without a certificate from the cluster CA
 * refused by the container's port and by the manager for container-role calls; a join token of
 * another CA refused by the container; renewal every few seconds (FLOTILLA_CERT_TTL=6s) under a
 * steady load with no failed request.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FlotillaProcess, freePort, waitFor } from '../../helpers/processes.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { bearer, testKeys, type TestKeys } from '../../helpers/auth.js';
import { httpsCall, servedCertificate, tlsClient, tlsContainerEnv } from '../../helpers/tls.js';
import { certFingerprint, initClusterCa } from '../../../src/tls/index.js';
import { createCa, issueKeyAndCert, loadSigningCa } from '../../../src/tls/x509.js';
import { formatJoinToken, parseJoinToken } from '../../../src/auth/index.js';
import type { Agent } from 'undici';
import { runCli } from '../../cli/run-cli.js';

const CERT_TTL_S = 6;

describe('mutual TLS between manager and containers', { timeout: 240_000 }, () => {
  let keys: TestKeys;
  let redis: RedisServer;
  let caPem: string;
  let base: string;
  let admin: Record<string, string>;
  /** Trusts the cluster CA, shows no certificate: a person's client (CLI, dashboard). */
  let anonymous: Agent;
  const procs: FlotillaProcess[] = [];
  const agentPorts = new Map<string, number>();

  function start(label: string, role: 'manager' | 'container', env: Record<string, string>): FlotillaProcess {
    const p = new FlotillaProcess(label, [role], { FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_PREFIX: `mtls${process.pid}:`, REDIS_URL: redis.url, ...env });
    procs.push(p);
    return p;
  }

  async function container(name: string, joinToken: string): Promise<FlotillaProcess> {
    const port = await freePort();
    agentPorts.set(name, port);
    return start(name, 'container', { ...keys.env, ...tlsContainerEnv(name, port, { managerUrl: base, joinToken }) });
  }

  const view = async (id: string) => (await httpsCall<{ state?: string }>(anonymous, 'GET', `${base}/api/v1/cluster/containers/${id}`, undefined, admin)).body;

  before(async () => {
    redis = await startRedisServer();
    keys = testKeys('mtls');
    await initClusterCa(keys.keyDir);
    caPem = readFileSync(join(keys.keyDir.path, 'ca-cert.pem'), 'utf8');
    anonymous = tlsClient(caPem);
    const port = await freePort();
    base = `https://127.0.0.1:${port}`;
    start('manager', 'manager', { ...keys.env, FLOTILLA_TLS: 'on', FLOTILLA_CERT_TTL: `${CERT_TTL_S}s`, CLUSTER_PORT: String(port), EXTERNAL_IP: '127.0.0.1', FLOTILLA_EXTERNAL_IP_CHECK: 'off' });
    await waitFor('the manager over https', async () => (await httpsCall(anonymous, 'GET', `${base}/ready`)).status === 200, 20_000);
    admin = bearer(await keys.token('admin'));
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await anonymous?.close();
    await redis?.stop();
    keys?.remove();
  });

  test('a container joins over https, gets a certificate from the cluster CA, and hosts an agent that answers', async () => {
    // The manager serves a certificate from the cluster CA; the CA is published with its fingerprint.
    const served = await servedCertificate(Number(new URL(base).port), caPem);
    assert.ok(served.names.includes('127.0.0.1'));
    const ca = await httpsCall<{ ca_certificate: string; fingerprint: string }>(anonymous, 'GET', `${base}/api/v1/cluster/ca`);
    assert.equal(ca.status, 200);
    assert.equal(ca.body.fingerprint, certFingerprint(caPem));
    assert.equal(parseJoinToken(keys.joinToken())?.fingerprint, certFingerprint(caPem));

    const c = await container('c-a', keys.joinToken());
    await c.waitForOutput(/cluster CA checked against the join token/, 20_000);
    await c.waitForOutput(/joined the cluster as c-a/, 20_000);
    await waitFor('c-a active', async () => (await view('c-a')).state === 'active', 20_000);
    // Its port serves its own certificate, issued by the cluster CA, naming it and its address.
    const cert = await waitFor('c-a serving its certificate', async () => {
      const got = await servedCertificate(agentPorts.get('c-a')!, caPem);
      return got.commonName === 'c-a' ? got : undefined;
    }, 10_000);
    assert.deepEqual(cert.names.sort(), ['127.0.0.1', 'c-a']);
    assert.ok(cert.notAfter.getTime() - Date.now() <= CERT_TTL_S * 1_000 + 1_000, 'the manager decides the lifetime (FLOTILLA_CERT_TTL)');

    const deployed = await httpsCall(anonymous, 'POST', `${base}/api/v1/cluster/agents/deploy`, { agent_type: 'echo', name: 'over-mtls' }, admin);
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const reply = await waitFor('a reply', async () => {
      const res = await httpsCall<{ status?: string; result?: { echo?: unknown } }>(anonymous, 'POST', `${base}/api/v1/agents/echo/over-mtls/messages`, { message: 'hello', timeout_ms: 5_000 }, admin);
      return res.status === 200 ? res.body : undefined;
    }, 30_000);
    assert.equal(reply.status, 'completed');
    assert.equal(reply.result?.echo, 'hello');
    // The manager reaches it back over https with its own certificate (the doctor's probe).
    const probe = await httpsCall<{ reachable: boolean; flotilla: boolean; url: string }>(anonymous, 'POST', `${base}/api/v1/cluster/probe`, { host: '127.0.0.1', port: agentPorts.get('c-a')! }, admin);
    assert.equal(probe.status, 200);
    assert.deepEqual({ reachable: probe.body.reachable, flotilla: probe.body.flotilla }, { reachable: true, flotilla: true }, JSON.stringify(probe.body));
    assert.match(probe.body.url, /^https:/);
  });

  test("clients without a certificate from the cluster CA are refused by the container's port and by the manager for container calls", async () => {
    await waitFor('c-a active', async () => (await view('c-a')).state === 'active', 20_000);
    const agentBase = `https://127.0.0.1:${agentPorts.get('c-a')!}`;
    const ring = await loadSigningCa(caPem, readFileSync(join(keys.keyDir.path, 'ca-key.pem'), 'utf8'));
    const foreignCa = await loadSigningCa(...(Object.values(await createCa('someone else')) as [string, string]));
    const ours = await issueKeyAndCert(ring, { commonName: 'c-a', names: ['127.0.0.1'], ttlMs: 600_000 });
    const oursForAnother = await issueKeyAndCert(ring, { commonName: 'c-other', names: [], ttlMs: 600_000 });
    const foreign = await issueKeyAndCert(foreignCa, { commonName: 'c-a', names: ['127.0.0.1'], ttlMs: 600_000 });
    const withOurs = tlsClient(caPem, ours);
    const withAnother = tlsClient(caPem, oursForAnother);
    const withForeign = tlsClient(caPem, foreign);
    try {
      // The container's port: /health is open; everything else needs a certificate from the CA.
      assert.equal((await httpsCall(anonymous, 'GET', `${agentBase}/health`)).status, 200);
      const bare = await httpsCall<{ error: string }>(anonymous, 'GET', `${agentBase}/status`);
      assert.equal(bare.status, 401);
      assert.equal(bare.body.error, 'client_certificate_required');
      const stranger = await httpsCall<{ error: string }>(withForeign, 'GET', `${agentBase}/ping`);
      assert.equal(stranger.status, 401);
      assert.equal(stranger.body.error, 'client_certificate_invalid');
      assert.equal((await httpsCall(withOurs, 'GET', `${agentBase}/ping`)).status, 200, 'a certificate from the cluster CA is let in');

      // The manager: a container token needs that container's certificate from the cluster CA.
      const token = bearer(await keys.token('container', { cid: 'c-a' }));
      const { csrPem } = await (await import('../../../src/tls/index.js')).newKeyAndCsr('c-a');
      const renew = (client: Agent) => httpsCall<{ error?: string; certificate?: string }>(client, 'POST', `${base}/api/v1/cluster/containers/c-a/certificate`, { csr: csrPem }, token);
      const noCert = await renew(anonymous);
      assert.equal(noCert.status, 401);
      assert.equal(noCert.body.error, 'client_certificate_required');
      const otherCa = await renew(withForeign);
      assert.equal(otherCa.status, 401);
      assert.equal(otherCa.body.error, 'client_certificate_invalid');
      const wrongName = await renew(withAnother);
      assert.equal(wrongName.status, 403);
      const good = await renew(withOurs);
      assert.equal(good.status, 200, JSON.stringify(good.body));
      assert.match(good.body.certificate ?? '', /BEGIN CERTIFICATE/);
      // People keep using bearer tokens without a certificate.
      assert.equal((await httpsCall(anonymous, 'GET', `${base}/api/v1/cluster/status`, undefined, admin)).status, 200);
    } finally {
      await Promise.all([withOurs.close(), withAnother.close(), withForeign.close()]);
    }
  });

  test("a join token naming another CA: the container refuses to join, says why, and exits non-zero", async () => {
    const parts = parseJoinToken(keys.joinToken())!;
    const otherCa = await createCa('another cluster');
    const wrong = formatJoinToken(certFingerprint(otherCa.certPem), parts.secret);
    const c = await container('c-wrong-ca', wrong);
    const { code } = await c.exited;
    assert.notEqual(code, 0);
    assert.match(c.text, /REFUSING TO JOIN: the manager at https:\/\/127\.0\.0\.1:\d+ presents a cluster CA with fingerprint/);
    assert.doesNotMatch(c.text, /joined the cluster/);
    assert.notEqual((await view('c-wrong-ca')).state, 'active');
  });

  test(`certificates renew every ~${(CERT_TTL_S * 2) / 3} s under a steady load, with no failed request`, async () => {
    await waitFor('c-a active', async () => (await view('c-a')).state === 'active', 20_000);
    const port = agentPorts.get('c-a')!;
    const ring = await loadSigningCa(caPem, readFileSync(join(keys.keyDir.path, 'ca-key.pem'), 'utf8'));
    const peer = tlsClient(caPem, await issueKeyAndCert(ring, { commonName: 'load-peer', names: [], ttlMs: 600_000 }));
    const serials = new Set<string>();
    const notAfters = new Set<string>();
    const failures: string[] = [];
    let sends = 0;
    let pings = 0;
    const until = Date.now() + CERT_TTL_S * 1_000 * 3;
    const watch = async () => {
      while (Date.now() < until) {
        try {
          const c = await servedCertificate(port, caPem);
          serials.add(c.serial);
          notAfters.add(c.notAfter.toISOString());
        } catch (err) {
          failures.push(`handshake: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    // Sends through the agent on c-a (manager → Redis → c-a → reply), one after another.
    const sendLoop = async () => {
      while (Date.now() < until) {
        const res = await httpsCall<{ status?: string }>(anonymous, 'POST', `${base}/api/v1/agents/echo/over-mtls/messages`, { message: `n${sends}`, timeout_ms: 10_000 }, admin).catch((err: Error) => ({ status: 0, body: { status: err.message } }));
        sends += 1;
        if (res.status !== 200 || res.body.status !== 'completed') failures.push(`send ${sends}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    };
    // Calls straight to the container's port over kept-alive connections, across the swaps.
    const pingLoop = async () => {
      while (Date.now() < until) {
        const res = await httpsCall(peer, 'GET', `https://127.0.0.1:${port}/ping`).catch((err: Error) => ({ status: 0, body: { error: err.message } }));
        pings += 1;
        if (res.status !== 200) failures.push(`ping ${pings}: ${res.status} ${JSON.stringify(res.body)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await Promise.all([watch(), sendLoop(), pingLoop(), pingLoop()]);
    } finally {
      await peer.close();
    }
    assert.deepEqual(failures, []);
    assert.ok(sends >= 20, `a steady load (${sends} sends)`);
    assert.ok(pings >= 50, `a steady load (${pings} pings)`);
    assert.ok(serials.size >= 3, `the serial changed at least twice (saw ${serials.size}: ${[...serials].join(', ')})`);
    assert.ok(notAfters.size >= 3, `notAfter moved at least twice (saw ${notAfters.size})`);
    const c = procs.find((p) => p.label === 'c-a')!;
    assert.doesNotMatch(c.text, /could not renew/);
    // Its own calls to the manager (renewals) kept passing the manager's certificate check.
    assert.ok(c.output.filter((l) => /serving with a certificate from the cluster CA/.test(l)).length >= 3);
  });

  test('flotilla doctor on an agent host checks the https manager with the join token and is reached back over https', async () => {
    const env = {
      CENTRAL_MANAGER_URL: base,
      REDIS_URL: redis.url,
      EXTERNAL_IP: '127.0.0.1',
      FLOTILLA_EXTERNAL_IP_CHECK: 'off',
      FLOTILLA_BIND_ADDRESS: '127.0.0.1',
      AGENT_PORT: String(await freePort()),
      FLOTILLA_TOKEN: admin.authorization!.slice('Bearer '.length),
    };
    type Findings = { findings: Array<{ check: string; status: string; summary: string }> };
    const good = await runCli(['doctor', '--json'], { ...env, FLOTILLA_JOIN_TOKEN: keys.joinToken() });
    const findings = (JSON.parse(good.stdout) as Findings).findings;
    const status = (check: string) => findings.find((f) => f.check === check);
    assert.equal(status('manager.tls')?.status, 'ok', good.stdout);
    assert.equal(status('manager.reach')?.status, 'ok', good.stdout);
    assert.equal(status('external_ip.reach_back')?.status, 'ok', good.stdout);
    assert.match(status('external_ip.reach_back')!.summary, /a temporary \/ping/);

    const parts = parseJoinToken(keys.joinToken())!;
    const wrong = await runCli(['doctor', '--json'], { ...env, FLOTILLA_JOIN_TOKEN: formatJoinToken('0'.repeat(64), parts.secret) });
    assert.equal(wrong.code, 1);
    const tls = (JSON.parse(wrong.stdout) as Findings).findings.find((f) => f.check === 'manager.tls');
    assert.equal(tls?.status, 'fail');
    assert.match(tls!.summary, /REFUSING TO JOIN/);
  });

  test('a paused container is found by the leader probing its https /ping (reason unreachable), before its lease lapses', async () => {
    const c = await container('c-paused', keys.joinToken());
    await waitFor('c-paused active', async () => (await view('c-paused')).state === 'active', 20_000);
    const before = (await httpsCall<{ epoch: number }>(anonymous, 'GET', `${base}/api/v1/cluster/containers/c-paused`, undefined, admin)).body.epoch;
    c.signal('SIGSTOP');
    try {
      await waitFor('c-paused down', async () => (await view('c-paused')).state === 'down', 6_000);
    } finally {
      c.signal('SIGCONT');
    }
    type Events = { events: Array<{ type: string; container_id?: string; epoch?: number; timestamp: string; data: { reason?: string; lastRenewalMs?: number } }> };
    const events = (await httpsCall<Events>(anonymous, 'GET', `${base}/api/v1/cluster/events?limit=1000`, undefined, admin)).body.events;
    const down = events.find((e) => e.type === 'container_down' && e.container_id === 'c-paused' && e.epoch === before);
    assert.equal(down?.data.reason, 'unreachable', JSON.stringify(down));
    assert.ok(Date.parse(down!.timestamp) - down!.data.lastRenewalMs! < 3_000, 'before its 3 s lease lapsed');
    await waitFor('c-paused back with a new epoch', async () => {
      const v = (await httpsCall<{ state?: string; epoch: number }>(anonymous, 'GET', `${base}/api/v1/cluster/containers/c-paused`, undefined, admin)).body;
      return v.state === 'active' && v.epoch > before;
    }, 20_000);
  });

  test('`flotilla ca issue prometheus`: a client certificate that the containers let read /metrics', async () => {
    await waitFor('c-a active', async () => (await view('c-a')).state === 'active', 20_000);
    const out = join(keys.dir, 'prometheus-tls');
    const issued = await runCli(['ca', 'issue', 'prometheus', '--out', out, '--ttl', '1h', '--json', '--key-dir', keys.keyDir.path], {});
    assert.equal(issued.code, 0, issued.stderr);
    const files = JSON.parse(issued.stdout) as { cert_file: string; key_file: string; ca_cert_file: string; not_after: string };
    assert.equal(statSync(files.key_file).mode & 0o777, 0o600, 'the key is private');
    assert.equal(readFileSync(files.ca_cert_file, 'utf8'), caPem);
    assert.ok(Date.parse(files.not_after) - Date.now() <= 3_600_000 + 1_000);
    const metricsUrl = `https://127.0.0.1:${agentPorts.get('c-a')!}/metrics`;
    const prometheus = tlsClient(readFileSync(files.ca_cert_file, 'utf8'), { certPem: readFileSync(files.cert_file, 'utf8'), keyPem: readFileSync(files.key_file, 'utf8') });
    try {
      const scraped = await httpsCall<string>(prometheus, 'GET', metricsUrl);
      assert.equal(scraped.status, 200);
      assert.match(String(scraped.body), /flotilla_/);
      assert.equal((await httpsCall(anonymous, 'GET', metricsUrl)).status, 401, 'and without it, refused');
    } finally {
      await prometheus.close();
    }
    // Nothing is overwritten: a second issue into the same place is refused with one line.
    const again = await runCli(['ca', 'issue', 'prometheus', '--out', out, '--key-dir', keys.keyDir.path], {});
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exist/);
  });
});
