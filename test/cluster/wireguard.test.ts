/**
 * Multi-host, part 3: the WireGuard method for real. `flotilla wireguard init` writes the keys and
 * configs; the harness brings them up with userspace wireguard-go in each host's namespace, blocks
 * the Flotilla ports on the underlay (so nothing can work except through the tunnel), and runs the
 * cluster with every Flotilla address on the tunnel subnet: the checks by hand, agents on every
 * agent host, and a kill -9 under load with every accepted message applied exactly once.
 */
import { failureTracker } from './lib/failure-tracker.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from '../helpers/processes.js';
import { Cluster } from './lib/cluster.js';
import { managerUrl } from './lib/env.js';
import { bringUpTunnel, removeTunnelSockets, tunnelTransfer, type TunnelHost } from './lib/wireguard.js';
import { DEFAULT_HOSTS, MANAGER_PORT, REDIS_PORT, TUNNEL_SUBNET, type Host } from './lib/topology.js';
import { compare, overlapsIn } from './lib/checks.js';
import type { AgentReading, LoadReport } from './driver/protocol.js';

const WG_PORT = 51820;
const TUNNEL_PREFIX = 24;
const TUNNEL_BASE = TUNNEL_SUBNET.split('/')[0]!.split('.').slice(0, 3).join('.');
/** wireguard init's order: the manager first, then agent-1 … agent-N; the harness maps hosts onto it. */
const LAYOUT: [host: string, layoutHost: string][] = [
  ['m1', 'manager'],
  ['a1', 'agent-1'],
  ['a2', 'agent-2'],
  ['a3', 'agent-3'],
  ['redis', 'agent-4'],
  ['client', 'agent-5'],
];
/** The usual hosts with one manager: the WireGuard layout has one manager host. */
const SPECS = DEFAULT_HOSTS.filter((h) => h.name !== 'm2');
const tunnelAddress = (host: string): string => `${TUNNEL_BASE}.${LAYOUT.findIndex(([h]) => h === host) + 1}`;

describe('the cluster over WireGuard (wireguard-go in network namespaces)', { timeout: 240_000 }, () => {
  let cluster: Cluster;
  const tracker = failureTracker();
  const guard = tracker.guard;
  const layoutDir = join(mkdtempSync(join(tmpdir(), 'flotilla-wg-harness-')), 'layout');

  before(async () => {
    cluster = await Cluster.start({
      specs: SPECS,
      tools: ['wireguard-go', 'wg'],
      flotillaAddress: (h: Host) => tunnelAddress(h.name),
      prepare: async (network) => {
        const m1 = network.host('m1');
        // The operator's step: one command writes every host's keys and config.
        execFileSync(process.execPath, [CLI, 'wireguard', 'init', '--subnet', TUNNEL_SUBNET, '--manager-endpoint', `${m1.address}:${WG_PORT}`, '--agents', String(LAYOUT.length - 1), '--out', layoutDir]);
        const hosts: TunnelHost[] = LAYOUT.map(([host, layoutHost]) => ({ host, layoutHost, address: tunnelAddress(host), hub: layoutHost === 'manager' }));
        await bringUpTunnel(network, layoutDir, hosts, TUNNEL_PREFIX);
        // Only the tunnel may carry Flotilla: its ports are closed on the underlay.
        network.exec('redis', ['iptables', '-A', 'INPUT', '-i', 'eth0', '-p', 'tcp', '--dport', String(REDIS_PORT), '-j', 'DROP']);
        network.exec('m1', ['iptables', '-A', 'INPUT', '-i', 'eth0', '-p', 'tcp', '--dport', String(MANAGER_PORT), '-j', 'DROP']);
      },
    });
  });

  after(async () => {
    await cluster?.close(tracker.failed);
    removeTunnelSockets(LAYOUT.map(([host]) => host));
    rmSync(join(layoutDir, '..'), { recursive: true, force: true });
  });


  test('by hand over the tunnel: Redis reachable only there, manager /health, every host listed with its tunnel address', guard(async () => {
    const { driver } = cluster;
    const viaTunnel = await driver.call<{ ok: boolean; error?: string }>({ op: 'tcp', host: cluster.redis.flotillaAddress, port: REDIS_PORT });
    assert.equal(viaTunnel.ok, true, `Redis over the tunnel: ${viaTunnel.error}`);
    const viaUnderlay = await driver.call<{ ok: boolean }>({ op: 'tcp', host: cluster.redis.address, port: REDIS_PORT });
    assert.equal(viaUnderlay.ok, false, 'Redis is closed on the underlay');
    const url = managerUrl(cluster.managers[0]!);
    assert.ok(url.includes(TUNNEL_BASE));
    assert.equal((await driver.http('GET', `${url}/health`)).status, 200);
    const status = await driver.http<{ cluster: { containers: { container_id: string; host_address: string }[] } }>('GET', `${url}/api/v1/cluster/status`);
    for (const a of cluster.agents) {
      assert.equal(status.body.cluster.containers.find((c) => c.container_id === a.name)?.host_address, tunnelAddress(a.name));
    }
  }));

  test('agents on every host over the tunnel; kill -9 of a container under load: nothing lost, nothing doubled', guard(async () => {
    const { driver } = cluster;
    const url = cluster.managerUrls[0]!;
    const deployed = await driver.http<{ agents: { agent_id: string; container_id: string }[] }>('POST', `${url}/api/v1/cluster/agents/deploy`, { agent_type: 'counter', name: 'w', replicas: 3, deployment_strategy: 'round_robin' });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const ids = deployed.body.agents.map((a) => a.agent_id);
    assert.deepEqual(new Set(deployed.body.agents.map((a) => a.container_id)), new Set(cluster.agents.map((a) => a.name)));
    const hop = await driver.http<{ status: string; result: { forwarded: { container: string } } }>('POST', `${url}/api/v1/agents/${ids[0]}/messages`, { message: { forward_to: ids[1] } });
    assert.equal(hop.body.result.forwarded.container, deployed.body.agents[1]!.container_id, 'a message between two agent hosts over the tunnel');
    await driver.call({ op: 'load.start', agents: ids, urls: cluster.managerUrls });
    await sleep(1_500);
    const victim = deployed.body.agents[2]!.container_id;
    const t0 = Date.now();
    cluster.proc(victim).kill9();
    const again = await driver.call<number | null>({ op: 'load.wait-answer', agent: ids[2]!, after: t0, timeoutMs: 30_000, notContainer: victim }, 35_000);
    assert.notEqual(again, null, 'the killed host\'s agent answered again from another host');
    await sleep(1_000);
    const reports = await driver.call<Record<string, LoadReport>>({ op: 'load.stop', urls: cluster.managerUrls }, 120_000);
    let readings: Record<string, AgentReading> = {};
    for (let i = 0; i < 300; i++) {
      readings = await driver.call<Record<string, AgentReading>>({ op: 'store.agents', redisUrl: cluster.redisUrl, agents: ids });
      if (ids.every((id) => readings[id]?.depth === 0)) break;
      await sleep(200);
    }
    for (const [i, id] of ids.entries()) {
      const r = reports[id]!;
      const state = readings[id]!.state!;
      // The deploy-time forward added one message to each of the first two agents.
      const c = compare({ baseline: i < 2 ? 1 : 0, accepted: r.accepted, expired: r.expired, uncertain: r.uncertain, extra: 0 }, state.count);
      assert.deepEqual(c, { lost: 0, doubled: 0 }, `${id}: count ${state.count}, accepted ${r.accepted}, expired ${r.expired}`);
      assert.deepEqual(overlapsIn(id, state.segments ?? []), []);
    }
    const hub = tunnelTransfer(cluster.network, 'm1');
    const total = ids.reduce((n, id) => n + reports[id]!.accepted, 0);
    console.log(`# wireguard: ${total} messages over the tunnel, the killed host's agent answered again after ${again! - t0} ms; hub tunnel rx ${hub.rx} B, tx ${hub.tx} B`);
    assert.ok(hub.rx > 0 && hub.tx > 0, 'traffic crossed the hub');
  }));
});
