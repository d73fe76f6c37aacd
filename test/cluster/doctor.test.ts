/**
 * Multi-host, part 4: `flotilla doctor` run on an agent host of the harness, with that host's own
 * environment (lib/env.ts), finds what is wrong and says what to do: a healthy host, the Redis
 * port blocked by a firewall rule inside the host's namespace, the manager unreachable, an
 * EXTERNAL_IP that is not this host's, and one that is this host's but that the manager cannot
 * reach back (an address on the host with no route from the manager's network), and a host whose
 * clock is off. Network namespaces share the kernel's clock, so that host's clock is set off for
 * the doctor's process alone, with libfaketime (`faketime`, Debian's package; .ci/run installs it).
 */
import { failureTracker } from './lib/failure-tracker.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI } from '../helpers/processes.js';
import { Cluster } from './lib/cluster.js';
import { containerEnv } from './lib/env.js';
import { MANAGER_PORT, REDIS_PORT, SUBNET_PREFIX } from './lib/topology.js';
import type { Finding } from '../../src/doctor/index.js';

const SPECS = [
  { name: 'redis', role: 'redis', octet: 10 },
  { name: 'm1', role: 'manager', octet: 21 },
  { name: 'a1', role: 'agent', octet: 31 },
  { name: 'client', role: 'client', octet: 50 },
] as const;
/** Every check gives up after 3 s; a run makes a few of them. */
const DOCTOR_TIMEOUT_MS = 30_000;
/** The agent host's clock, ahead of everyone else's: well past the doctor's 500 ms warning. */
const CLOCK_AHEAD_S = 5;

describe('flotilla doctor on an agent host (network namespaces)', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  const tracker = failureTracker();
  const guard = tracker.guard;

  before(async () => {
    cluster = await Cluster.start({ specs: SPECS, tools: ['faketime'] });
  });
  after(async () => {
    await cluster?.close(tracker.failed);
  });


  /**
   * `flotilla doctor --json` inside a1's namespace with a1's environment (plus `override`);
   * `clockAheadS`: as on a host whose clock runs that far ahead.
   */
  function doctor(override: Record<string, string> = {}, clockAheadS?: number): { code: number | null; ok: boolean; findings: Finding[]; byCheck: (c: string) => Finding | undefined } {
    // FLOTILLA_TOKEN: the reach-back check asks the manager to probe, which takes an operator.
    const env = { PATH: process.env.PATH ?? '', ...containerEnv(cluster.host('a1'), cluster, cluster.managers[0]!), FLOTILLA_TOKEN: cluster.adminToken, ...override };
    const skew = clockAheadS === undefined ? [] : ['faketime', '-f', `+${clockAheadS}s`];
    const res = spawnSync('ip', ['netns', 'exec', cluster.host('a1').netns, ...skew, process.execPath, CLI, 'doctor', '--json'], { env, encoding: 'utf8', timeout: DOCTOR_TIMEOUT_MS });
    const out = JSON.parse(res.stdout) as { ok: boolean; findings: Finding[] };
    return { code: res.status, ...out, byCheck: (c) => out.findings.find((f) => f.check === c) };
  }

  test('a healthy agent host: every check passes, clocks in step', guard(async () => {
    const r = doctor();
    assert.equal(r.code, 0, JSON.stringify(r.findings));
    assert.equal(r.ok, true);
    for (const check of ['redis.reach', 'redis.auth', 'manager.reach', 'external_ip.local', 'external_ip.reach_back', 'clock.redis', 'clock.manager']) {
      assert.equal(r.byCheck(check)?.status, 'ok', `${check}: ${JSON.stringify(r.byCheck(check))}`);
    }
  }));

  test('the Redis port blocked by a firewall rule on the agent host: found, with what to do', guard(async () => {
    const rule = ['OUTPUT', '-p', 'tcp', '-d', cluster.redis.address, '--dport', String(REDIS_PORT), '-j', 'DROP'];
    cluster.network.exec('a1', ['iptables', '-A', ...rule]);
    try {
      const r = doctor();
      assert.equal(r.code, 1);
      const tcp = r.byCheck('redis.reach');
      assert.equal(tcp?.status, 'fail');
      assert.match(tcp!.summary, /no answer within 3000 ms: a firewall drops the traffic/);
      assert.match(tcp!.fix ?? '', /firewall/);
      assert.equal(r.byCheck('redis.auth')?.status, 'skip');
      assert.equal(r.byCheck('manager.reach')?.status, 'ok', 'the manager is still fine');
    } finally {
      cluster.network.exec('a1', ['iptables', '-D', ...rule]);
    }
  }));

  test('the manager unreachable: found, with what to do', guard(async () => {
    const rule = ['OUTPUT', '-p', 'tcp', '-d', cluster.managers[0]!.address, '--dport', String(MANAGER_PORT), '-j', 'REJECT', '--reject-with', 'tcp-reset'];
    cluster.network.exec('a1', ['iptables', '-A', ...rule]);
    try {
      const r = doctor();
      assert.equal(r.code, 1);
      const manager = r.byCheck('manager.reach');
      assert.equal(manager?.status, 'fail');
      assert.match(manager!.summary, /cannot reach the manager .*: connection refused/);
      assert.match(manager!.fix ?? '', /CENTRAL_MANAGER_URL/);
      assert.equal(r.byCheck('redis.auth')?.status, 'ok');
      assert.equal(r.byCheck('external_ip.reach_back')?.status, 'skip');
    } finally {
      cluster.network.exec('a1', ['iptables', '-D', ...rule]);
    }
  }));

  test('a wrong EXTERNAL_IP (another host\'s address): found, with what to do', guard(async () => {
    const r = doctor({ EXTERNAL_IP: `${SUBNET_PREFIX}.32` });
    assert.equal(r.code, 1);
    const ip = r.byCheck('external_ip.local');
    assert.equal(ip?.status, 'fail');
    assert.match(ip!.summary, /is not an address of this host/);
    assert.match(ip!.fix ?? '', /EXTERNAL_IP/);
  }));

  test("an EXTERNAL_IP of this host that the manager cannot reach back: found, with what to do", guard(async () => {
    // An address on a1 outside the test subnet: local to a1, but the manager host has no route to it.
    const unroutable = '10.215.0.31';
    cluster.network.exec('a1', ['ip', 'addr', 'add', `${unroutable}/32`, 'dev', 'lo']);
    try {
      const r = doctor({ EXTERNAL_IP: unroutable, FLOTILLA_BIND_ADDRESS: unroutable });
      assert.equal(r.code, 1, JSON.stringify(r.findings));
      assert.equal(r.byCheck('external_ip.local')?.status, 'ok');
      const back = r.byCheck('external_ip.reach_back');
      assert.equal(back?.status, 'fail', JSON.stringify(back));
      assert.match(back!.summary, /the manager cannot reach this host at 10\.215\.0\.31:\d+: (no route|no answer)/);
      assert.match(back!.fix ?? '', /set EXTERNAL_IP to the address the manager host reaches this host at/);
    } finally {
      cluster.network.exec('a1', ['ip', 'addr', 'del', `${unroutable}/32`, 'dev', 'lo']);
    }
  }));

  test(`an agent host whose clock is ${CLOCK_AHEAD_S} s ahead: warnings against Redis's and the manager's clocks, with what to do`, guard(async () => {
    const r = doctor({}, CLOCK_AHEAD_S);
    for (const check of ['clock.redis', 'clock.manager']) {
      const f = r.byCheck(check);
      assert.equal(f?.status, 'warn', `${check}: ${JSON.stringify(f)}`);
      assert.match(f!.summary, /this host's clock is \d+ ms ahead of/);
      const ms = Number(/is (\d+) ms/.exec(f!.summary)![1]);
      assert.ok(Math.abs(ms - CLOCK_AHEAD_S * 1_000) < 1_000, `${check} measured ${ms} ms for ${CLOCK_AHEAD_S} s`);
      assert.match(f!.fix ?? '', /time sync \(chrony or systemd-timesyncd\)/);
    }
    // Nothing else is wrong on the host: the rest still passes.
    for (const check of ['redis.reach', 'redis.auth', 'manager.reach', 'external_ip.local', 'external_ip.reach_back']) {
      assert.equal(r.byCheck(check)?.status, 'ok', `${check}: ${JSON.stringify(r.byCheck(check))}`);
    }
  }));
});
