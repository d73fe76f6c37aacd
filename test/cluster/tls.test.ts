/**
 * Multi-host with TLS on: the managers share a key directory with a cluster CA (`flotilla ca
 * init`) and run with FLOTILLA_TLS=on; each container joins over https with the join token, which
 * carries the CA's fingerprint (it checks the manager's CA against it, sends a CSR, gets its
 * certificate); managers and containers then speak HTTPS to each other with client certificates.
 * The client host trusts the CA and shows no certificate, as a person's CLI does.
 *
 * Then the container faults whose detection goes over TLS, under a steady load: kill -9, and
 * SIGSTOP beyond the lease, which only the manager's https probe finds before the lease lapses (a
 * stopped process's kernel still accepts the TCP connection, but no TLS handshake completes).
 * Correctness is asserted as in faults.test.ts; the timings are printed, not asserted.
 */
import { failureTracker } from './lib/failure-tracker.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../helpers/processes.js';
import { Cluster } from './lib/cluster.js';
import { LoadRun } from './lib/load-run.js';
import { AGENT_PORT, MANAGER_PORT } from './lib/topology.js';
import type { LatencyMatrix } from '../../src/protocol/index.js';

const COUNTERS = 6;
const STEADY_LOAD_MS = 3_000;
const KILL_REPETITIONS = 3;
const STOP_REPETITIONS = 2;
/** Peers ping each other every 5 s by default: two rounds and some. */
const PEER_PINGS_TIMEOUT_MS = 20_000;

describe('mutual TLS across hosts (network namespaces)', { timeout: 10 * 60_000 }, () => {
  let cluster: Cluster;
  let run: LoadRun;
  const tracker = failureTracker();
  const guard = tracker.guard;

  before(async () => {
    cluster = await Cluster.start({ tls: true });
    run = await LoadRun.deploy(cluster, 't', COUNTERS);
  });

  after(async () => {
    const table = run?.table() ?? '';
    if (table !== '') console.log(`\n# TLS fault figures (FLOTILLA_TLS=on, default settings; times from the fault)\n${table.replace(/^/gm, '# ')}`);
    await cluster?.close(tracker.failed);
  });

  test('https everywhere: managers serve the cluster CA\'s certificates, plain http gets no API; every container port refuses a client without a cluster certificate; peers ping each other over mutual TLS', guard(async () => {
    const { driver } = cluster;
    const caPem = readFileSync(cluster.auth.caFile!, 'utf8');
    for (const url of cluster.managerUrls) {
      // The driver trusts only the cluster CA: an answer means the certificate chains to it.
      const health = await driver.http<{ status: string }>('GET', `${url}/health`);
      assert.equal(health.status, 200, JSON.stringify(health.body));
      const ca = await driver.http<{ ca_certificate: string }>('GET', `${url}/api/v1/cluster/ca`);
      assert.equal(ca.body.ca_certificate.trim(), caPem.trim(), 'the CA the manager publishes is the one in its key dir');
      const plain = await driver.http('GET', `${url.replace('https://', 'http://')}/api/v1/cluster/containers`).then(
        (res) => `status ${res.status}`,
        (err: Error) => `error ${err.message}`,
      );
      assert.ok(!plain.startsWith('status 2'), `plain http to ${url} got the API: ${plain}`);
    }
    for (const host of cluster.agents) {
      const base = `https://${host.flotillaAddress}:${AGENT_PORT}`;
      const health = await driver.http('GET', `${base}/health`);
      assert.equal(health.status, 200, `${host.name} /health is open to any client: ${JSON.stringify(health.body)}`);
      const status = await driver.http<{ error: string }>('GET', `${base}/status`);
      assert.equal(status.status, 401, `${host.name} /status without a client certificate: ${JSON.stringify(status.body)}`);
      assert.equal(status.body.error, 'client_certificate_required');
    }
    // Each agent host pings every other one with its own certificate (and the manager over https).
    const names = cluster.agents.map((a) => a.name);
    let last: LatencyMatrix | undefined;
    await waitFor('every agent host has pinged every other one and the manager over TLS', async () => {
      last = (await driver.http<LatencyMatrix>('GET', `${cluster.managerUrls[0]}/api/v1/cluster/latency`)).body;
      const ok = (from: string, to: string): boolean => last!.entries.some((e) => e.from === from && e.to === to && e.samples > 0 && e.error === null);
      return names.every((from) => ok(from, 'manager') && names.every((to) => from === to || ok(from, to)));
    }, PEER_PINGS_TIMEOUT_MS, 500).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(last?.entries.map((e) => [e.from, e.to, e.samples, e.error]))}`, { cause: err });
    });
    console.log(`# tls: managers on https://…:${MANAGER_PORT}, ${names.length} containers on https://…:${AGENT_PORT}, ${names.length * (names.length - 1)} peer links pinged over mutual TLS`);
  }));

  test('a steady load through both managers over https: every message applied once, in order', guard(async () => {
    await run.loadStart();
    await sleep(STEADY_LOAD_MS);
    await run.settle('steady load over TLS', [{ detectionMs: null, answerMs: null }]);
  }));

  test(`kill -9 of an agent container with TLS on (${KILL_REPETITIONS} times)`, guard(async () => {
    await run.killContainers('kill -9 container, TLS', KILL_REPETITIONS);
  }));

  test(`SIGSTOP beyond the lease with TLS on (${STOP_REPETITIONS} times): found by the manager's https probe, the woken process applies nothing`, guard(async () => {
    const events = await run.pauseContainers('SIGSTOP > lease, TLS', STOP_REPETITIONS);
    assert.equal(events.length, STOP_REPETITIONS, 'every pause was detected');
    for (const e of events) assert.equal(e.data.reason, 'unreachable', `${e.container_id} was found by the probe, not by its lease: ${JSON.stringify(e.data)}`);
  }));
});
