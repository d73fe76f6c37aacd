/**
 * Rotating the cluster CA on a running cluster, with real processes: a manager with TLS on, two
 * containers, a real redis-server, a steady load of sends and direct calls. `flotilla ca rotate`
 * while it runs: both containers serve certificates of the new CA within a bounded time (checked
 * with a client that trusts only the new CA), no request fails, the containers' latency pings to
 * each other and to the manager keep succeeding; a container joins with the new join token and
 * one with the old; then `--finish`: a client certificate of the old CA (`ca issue` before the
 * rotation) is refused by the manager and by a container, and the cluster keeps answering.
 * Intervals are shortened only through the environment (FLOTILLA_CA_CHECK_INTERVAL).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { Agent } from 'undici';
import { FlotillaProcess, freePort, waitFor } from '../../helpers/processes.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { bearer, testKeys, type TestKeys } from '../../helpers/auth.js';
import { httpsCall, tlsClient, tlsContainerEnv } from '../../helpers/tls.js';
import { initClusterCa, newKeyAndCsr } from '../../../src/tls/index.js';
import type { LatencyMatrix } from '../../../src/protocol/observability-api.js';
import { runCli } from '../../cli/run-cli.js';

/** Containers look for a CA change this often here (the default is 30 s). */
const CA_CHECK_S = 1;
/** Both containers must serve a certificate of the new CA within this long of `ca rotate` (one 1 s check, a renewal; ~2-4 s alone, up to 7 s seen with two more cluster tests beside it). */
const SWITCH_BOUND_MS = 15_000;

/** The leaf a TLS server serves now, verified against `caPem` only (throws when it does not verify). */
function servedLeaf(port: number, caPem: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: caPem, timeout: 5_000 }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert === undefined) reject(new Error('no certificate'));
      else resolve(cert);
    });
    socket.once('error', reject);
    socket.once('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
  });
}

describe('rotating the cluster CA under load', { timeout: 240_000 }, () => {
  let keys: TestKeys;
  let redis: RedisServer;
  let oldCaPem: string;
  let base: string;
  let managerPort: number;
  let admin: Record<string, string>;
  const procs: FlotillaProcess[] = [];
  const agentPorts = new Map<string, number>();
  const agents: Agent[] = [];

  function client(caPem: string, own?: { certPem: string; keyPem: string }): Agent {
    const a = tlsClient(caPem, own);
    agents.push(a);
    return a;
  }

  function start(label: string, role: 'manager' | 'container', env: Record<string, string>): FlotillaProcess {
    const p = new FlotillaProcess(label, [role], { FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_PREFIX: `carot${process.pid}:`, REDIS_URL: redis.url, ...env });
    procs.push(p);
    return p;
  }

  async function container(name: string, joinToken: string, caCheck = `${CA_CHECK_S}s`): Promise<FlotillaProcess> {
    const port = await freePort();
    agentPorts.set(name, port);
    return start(name, 'container', { ...keys.env, ...tlsContainerEnv(name, port, { managerUrl: base, joinToken }), FLOTILLA_CA_CHECK_INTERVAL: caCheck });
  }

  before(async () => {
    redis = await startRedisServer();
    keys = testKeys('carot');
    await initClusterCa(keys.keyDir);
    oldCaPem = readFileSync(join(keys.keyDir.path, 'ca-cert.pem'), 'utf8');
    managerPort = await freePort();
    base = `https://127.0.0.1:${managerPort}`;
    // Certificates live an hour: any new certificate below comes from the rotation, not from renewal.
    start('manager', 'manager', { ...keys.env, FLOTILLA_TLS: 'on', FLOTILLA_CERT_TTL: '1h', CLUSTER_PORT: String(managerPort), EXTERNAL_IP: '127.0.0.1', FLOTILLA_EXTERNAL_IP_CHECK: 'off' });
    const anonymous = client(oldCaPem);
    await waitFor('the manager over https', async () => (await httpsCall(anonymous, 'GET', `${base}/ready`)).status === 200, 20_000);
    admin = bearer(await keys.token('admin'));
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
    await redis?.stop();
    keys?.remove();
  });

  test('ca rotate under load: both containers move to the new CA with no failed request; joins with the new and the old token; finish refuses the old CA', async () => {
    // People and tools that trust only the CA of before the rotation (their ca-cert.pem).
    const anonymous = client(oldCaPem);
    const view = async (id: string) => (await httpsCall<{ state?: string }>(anonymous, 'GET', `${base}/api/v1/cluster/containers/${id}`, undefined, admin)).body;
    const oldJoinToken = keys.joinToken();
    await container('c-1', oldJoinToken);
    await container('c-2', oldJoinToken);
    // One that looks for a CA change only every 10 minutes: it keeps its certificate of the old CA.
    const slow = await container('c-slow', oldJoinToken, '10m');
    await waitFor('c-1, c-2 and c-slow active', async () => (await view('c-1')).state === 'active' && (await view('c-2')).state === 'active' && (await view('c-slow')).state === 'active', 30_000);
    for (const name of ['c-1', 'c-2']) {
      const deployed = await httpsCall(anonymous, 'POST', `${base}/api/v1/cluster/agents/deploy`, { agent_type: 'echo', name: `e-${name}`, preferred_container: name }, admin);
      assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    }
    await waitFor('both agents answer', async () => {
      for (const name of ['c-1', 'c-2']) {
        const res = await httpsCall<{ status?: string }>(anonymous, 'POST', `${base}/api/v1/agents/echo/e-${name}/messages`, { message: 'warm', timeout_ms: 5_000 }, admin);
        if (res.status !== 200 || res.body.status !== 'completed') return false;
      }
      return true;
    }, 30_000, 250);

    // A tool's client certificate of the old CA, issued before the rotation, named as c-1.
    const toolOut = join(keys.dir, 'old-tool');
    const issued = await runCli(['ca', 'issue', 'c-1', '--out', toolOut, '--ttl', '1h', '--key-dir', keys.keyDir.path, '--json']);
    assert.equal(issued.code, 0, issued.stderr);
    const tool = { certPem: readFileSync(join(toolOut, 'c-1-cert.pem'), 'utf8'), keyPem: readFileSync(join(toolOut, 'c-1-key.pem'), 'utf8') };
    const peer = client(oldCaPem, tool);
    const c1Token = bearer(await keys.token('container', { cid: 'c-1' }));
    const { csrPem } = await newKeyAndCsr('c-1');

    // The links whose latency pings are watched: peer to peer and to the manager, over mutual TLS.
    const LINKS = ['c-1>c-2', 'c-2>c-1', 'c-1>manager', 'c-2>manager'];
    const lastGoodPing = new Map<string, number>();
    await waitFor('the latency pings of c-1 and c-2 measured', async () => {
      const m = (await httpsCall<LatencyMatrix>(anonymous, 'GET', `${base}/api/v1/cluster/latency`, undefined, admin)).body;
      return LINKS.every((l) => m.entries.some((e) => `${e.from}>${e.to}` === l && e.samples > 0 && e.error === null));
    }, 30_000, 250);

    // The steady load: sends through each container's agent, and direct calls to both ports.
    const failures: string[] = [];
    let sends = 0;
    let pings = 0;
    let latencyChecks = 0;
    let running = true;
    let rotatedAt = 0;
    // When a failure happened, relative to `ca rotate`: tells a rotation problem from a slow machine.
    const when = () => (rotatedAt === 0 ? 'before the rotation' : `${Date.now() - rotatedAt} ms after ca rotate`);
    const failedProbes = new Set<string>();
    const sendLoop = async (name: string) => {
      while (running) {
        const res = await httpsCall<{ status?: string }>(anonymous, 'POST', `${base}/api/v1/agents/echo/e-${name}/messages`, { message: `n${sends}`, timeout_ms: 10_000 }, admin).catch((err: Error) => ({ status: 0, body: { status: err.message } }));
        sends += 1;
        if (res.status !== 200 || res.body.status !== 'completed') failures.push(`send to e-${name} (${when()}): ${res.status} ${JSON.stringify(res.body)}`);
      }
    };
    const pingLoop = async (name: string) => {
      while (running) {
        const res = await httpsCall(peer, 'GET', `https://127.0.0.1:${agentPorts.get(name)!}/ping`).catch((err: Error) => ({ status: 0, body: { error: err.message } }));
        pings += 1;
        if (res.status !== 200) failures.push(`ping ${name} (${when()}): ${res.status} ${JSON.stringify(res.body)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    // The containers' own latency pings (to each other and to the manager, over mutual TLS).
    const latencyLoop = async () => {
      while (running) {
        const res = await httpsCall<LatencyMatrix>(anonymous, 'GET', `${base}/api/v1/cluster/latency`, undefined, admin).catch((err: Error) => ({ status: 0, body: { entries: [], error: err.message } as unknown as LatencyMatrix }));
        latencyChecks += 1;
        if (res.status !== 200) failures.push(`latency matrix: ${res.status}`);
        for (const e of res.body.entries) {
          if (!LINKS.includes(`${e.from}>${e.to}`)) continue;
          // A pair not measured yet (a new peer list) is no failed ping; a failed newest probe is.
          // Counted once per failed probe (the matrix shows the newest one until the next round).
          if (e.samples > 0 && e.error !== null && !failedProbes.has(`${e.from}>${e.to}@${e.measured_at}`)) {
            failedProbes.add(`${e.from}>${e.to}@${e.measured_at}`);
            failures.push(`latency ${e.from} -> ${e.to} (${when()}): ${e.error}`);
          }
          if (e.error === null && e.measured_at !== null) lastGoodPing.set(`${e.from}>${e.to}`, Math.max(lastGoodPing.get(`${e.from}>${e.to}`) ?? 0, Date.parse(e.measured_at)));
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const load = Promise.all([sendLoop('c-1'), sendLoop('c-2'), pingLoop('c-1'), pingLoop('c-2'), latencyLoop()]);
    let newCaPem = '';
    let switchMs = 0;
    let switchedAt = 0;
    try {
      await new Promise((r) => setTimeout(r, 2_000));
      rotatedAt = Date.now();
      const rotated = await runCli(['ca', 'rotate', '--key-dir', keys.keyDir.path, '--json']);
      assert.equal(rotated.code, 0, rotated.stderr);
      const out = JSON.parse(rotated.stdout) as { fingerprint: string; previous_fingerprint: string; join_token: string; previous_join_token: string };
      assert.equal(out.previous_join_token, oldJoinToken);
      newCaPem = readFileSync(join(keys.keyDir.path, 'ca-cert.pem'), 'utf8');
      const newCa = new X509Certificate(newCaPem);

      // The manager: a leaf of the new CA (verified trusting only the new CA), within its 1 s look.
      await waitFor('the manager serving a certificate of the new CA', async () => (await servedLeaf(managerPort, newCaPem).catch(() => null))?.verify(newCa.publicKey) === true, 5_000, 100);
      const published = await httpsCall<{ ca_certificate: string; fingerprint: string; ca_certificates?: string[]; rotation?: { previous_fingerprint: string } }>(anonymous, 'GET', `${base}/api/v1/cluster/ca`);
      assert.equal(published.status, 200);
      assert.equal(published.body.fingerprint, out.fingerprint);
      assert.deepEqual(published.body.ca_certificates, [newCaPem, oldCaPem]);
      assert.equal(published.body.rotation?.previous_fingerprint, out.previous_fingerprint);

      // Both containers: a certificate of the new CA, checked by a client that trusts only the new CA.
      for (const name of ['c-1', 'c-2']) {
        await waitFor(`${name} serving a certificate of the new CA`, async () => (await servedLeaf(agentPorts.get(name)!, newCaPem).catch(() => null))?.verify(newCa.publicKey) === true, SWITCH_BOUND_MS, 100);
      }
      switchedAt = Date.now();
      switchMs = switchedAt - rotatedAt;
      // And a client that still trusts only the old CA verifies them through the cross certificate.
      for (const name of ['c-1', 'c-2']) assert.ok((await servedLeaf(agentPorts.get(name)!, oldCaPem)).verify(newCa.publicKey));

      // Joins during the overlap: with the new token, and with the one handed out before.
      await container('c-new', out.join_token);
      const cOld = await container('c-old', oldJoinToken);
      await waitFor('c-new and c-old active', async () => (await view('c-new')).state === 'active' && (await view('c-old')).state === 'active', 30_000, 250);
      assert.match(cOld.text, /cluster CA checked against the join token/);
      for (const name of ['c-new', 'c-old']) assert.ok((await servedLeaf(agentPorts.get(name)!, newCaPem)).verify(newCa.publicKey), `${name} serves a certificate of the new CA`);

      // During the overlap the old CA's client certificate is still let in, by the manager and a container.
      assert.equal((await httpsCall(peer, 'POST', `${base}/api/v1/cluster/containers/c-1/certificate`, { csr: csrPem }, c1Token)).status, 200);
      assert.equal((await httpsCall(peer, 'GET', `https://127.0.0.1:${agentPorts.get('c-2')!}/ping`)).status, 200);
      await new Promise((r) => setTimeout(r, 2_000));
    } finally {
      running = false;
      await load;
    }
    console.log(`# ca rotation: both containers on the new CA ${switchMs} ms after \`ca rotate\` (check interval ${CA_CHECK_S} s); ${sends} sends, ${pings} direct pings, ${latencyChecks} latency-matrix reads, ${failures.length} failures`);
    assert.deepEqual(failures, []);
    assert.ok(sends >= 20, `a steady load (${sends} sends)`);
    assert.ok(pings >= 50, `a steady load (${pings} pings)`);
    assert.ok(switchMs <= SWITCH_BOUND_MS);
    for (const link of LINKS) assert.ok((lastGoodPing.get(link) ?? 0) > switchedAt, `a latency ping ${link} succeeded after both containers moved to the new CA`);
    for (const name of ['c-1', 'c-2']) {
      const p = procs.find((q) => q.label === name)!;
      assert.match(p.text, /the cluster CA changed \(rotation\): renewing the certificate now/);
      assert.doesNotMatch(p.text, /could not renew|could not check the cluster CA/);
    }

    // Finish is refused while an active container still serves a certificate of the old CA.
    const early = await runCli(['ca', 'rotate', '--finish', '--url', base, '--key-dir', keys.keyDir.path]);
    assert.equal(early.code, 2, early.stdout);
    assert.match(early.stderr, /not finishing: 1 active container would lose the cluster: c-slow \(127\.0\.0\.1:\d+\) still serves certificate \w+ of the previous CA/);
    assert.equal((await httpsCall<{ ca_certificates?: string[] }>(anonymous, 'GET', `${base}/api/v1/cluster/ca`)).body.ca_certificates?.length, 2, 'nothing changed');
    await slow.stop();
    await waitFor('c-slow gone', async () => (await view('c-slow')).state !== 'active', 10_000);

    // Finish: the previous CA is dropped; the manager within a second, the containers at their next check.
    const finished = await runCli(['ca', 'rotate', '--finish', '--url', base, '--key-dir', keys.keyDir.path, '--json']);
    assert.equal(finished.code, 0, finished.stderr);
    const report = JSON.parse(finished.stdout) as { checked: boolean; containers: Array<{ container_id: string; ca: string }> };
    assert.equal(report.checked, true);
    assert.deepEqual(report.containers.map((c) => [c.container_id, c.ca]).sort(), [['c-1', 'current'], ['c-2', 'current'], ['c-new', 'current'], ['c-old', 'current']]);
    const people = client(newCaPem);
    const oldTool = client(newCaPem + oldCaPem, tool);
    await waitFor('the manager refusing the old CA', async () => {
      const res = await httpsCall<{ error?: string }>(client(newCaPem + oldCaPem, tool), 'POST', `${base}/api/v1/cluster/containers/c-1/certificate`, { csr: csrPem }, c1Token);
      return res.status === 401 && res.body.error === 'client_certificate_invalid';
    }, 5_000, 200);
    // Each container at its own next CA check (every CA_CHECK_S here).
    for (const name of ['c-1', 'c-2']) {
      await waitFor(`${name} refusing the old CA`, async () => {
        const res = await httpsCall<{ error?: string }>(client(newCaPem + oldCaPem, tool), 'GET', `https://127.0.0.1:${agentPorts.get(name)!}/ping`);
        return res.status === 401 && res.body.error === 'client_certificate_invalid';
      }, 5_000 + CA_CHECK_S * 1_000, 200);
    }
    const published = await httpsCall<{ ca_certificates?: string[]; rotation?: unknown }>(people, 'GET', `${base}/api/v1/cluster/ca`);
    assert.deepEqual(published.body.ca_certificates, [newCaPem]);
    assert.equal(published.body.rotation, undefined);
    assert.equal((await httpsCall(oldTool, 'GET', `https://127.0.0.1:${agentPorts.get('c-1')!}/ping`)).status, 401, 'refused on a new connection too');

    // The cluster keeps answering: sends through both agents, every container active.
    for (const name of ['c-1', 'c-2']) {
      const res = await httpsCall<{ status?: string }>(people, 'POST', `${base}/api/v1/agents/echo/e-${name}/messages`, { message: 'after', timeout_ms: 10_000 }, admin);
      assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
    }
    for (const name of ['c-1', 'c-2', 'c-new', 'c-old']) {
      assert.equal((await httpsCall<{ state?: string }>(people, 'GET', `${base}/api/v1/cluster/containers/${name}`, undefined, admin)).body.state, 'active', name);
    }
  });
});
