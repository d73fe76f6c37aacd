/**
 * A Flotilla cluster on a test network: Redis (append-only file on) on the redis host, a manager
 * on each manager host, a container on each agent host, and the client host's driver. Every
 * process runs in its host's namespace with the environment of env.ts. `close()` stops them and
 * removes the network, whatever state the run is in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlotillaProcess, waitFor } from '../../helpers/processes.js';
import { testKeys, type TestKeys } from '../../helpers/auth.js';
import { initClusterCa } from '../../../src/tls/index.js';
import type { ContainerView } from '../../../src/protocol/index.js';
import { Driver } from './driver.js';
import { containerEnv, managerEnv, managerUrl, redisUrl, type ClusterAuth, type ClusterHosts } from './env.js';
import { TestNetwork, checkPrerequisites, cleanLeftovers } from './netns.js';
import { MANAGER_PORT, REDIS_PORT, hostsFor, runId, type Host, type HostSpec } from './topology.js';

const REDIS_START_TIMEOUT_MS = 10_000;
const MANAGER_START_TIMEOUT_MS = 20_000;
const CONTAINERS_JOIN_TIMEOUT_MS = 30_000;
/** Longer than any run of the harness. */
const ADMIN_TOKEN_TTL_MS = 6 * 3_600_000;
/** Lines of each process's output printed when a run fails. */
const LOG_TAIL_LINES = 40;

export interface ClusterOptions {
  specs?: readonly HostSpec[];
  /** Runs after the network exists and before any process starts (e.g. to bring up WireGuard). */
  prepare?: (network: TestNetwork) => Promise<void> | void;
  /** Rewrites the address Flotilla uses for each host (e.g. its tunnel address). */
  flotillaAddress?: (host: Host) => string;
  /** Tools the run needs besides ip and iptables (e.g. wireguard-go, wg). */
  tools?: string[];
  /** A cluster CA in the key dir, managers with FLOTILLA_TLS=on, containers joining over https. */
  tls?: boolean;
}

export class Cluster implements ClusterHosts {
  readonly redis: Host;
  readonly managers: Host[];
  readonly agents: Host[];
  readonly client: Host;
  readonly processes = new Map<string, FlotillaProcess>();
  /** Every process ever started, for the logs of a failed run. */
  private readonly history: FlotillaProcess[] = [];
  private readonly redisDir = mkdtempSync(join(tmpdir(), 'flotilla-cluster-redis-'));
  /** The managers' key directory, made before any of them starts (as an operator makes a Secret). */
  private readonly keys: TestKeys = testKeys('cluster');
  /** Set once the key dir is complete (with its CA when TLS is on: the join token names it). */
  auth!: ClusterAuth;
  /** An admin token, for the driver and for tests that call the API themselves. */
  adminToken = '';
  driver!: Driver;

  private constructor(
    readonly network: TestNetwork,
    readonly tls: boolean,
  ) {
    const byRole = (role: string): Host[] => network.hosts.filter((h) => h.role === role);
    this.redis = byRole('redis')[0]!;
    this.managers = byRole('manager');
    this.agents = byRole('agent');
    this.client = byRole('client')[0]!;
  }

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    checkPrerequisites(['ip', 'iptables', 'setpriv', 'redis-server', 'redis-cli', ...(options.tools ?? [])]);
    const stale = cleanLeftovers();
    if (stale.length > 0) console.log(`# cluster harness: removed ${stale.length} namespace(s) left by crashed runs: ${stale.join(' ')}`);
    const hosts = hostsFor(runId(), options.specs).map((h) => (options.flotillaAddress ? { ...h, flotillaAddress: options.flotillaAddress(h) } : h));
    const network = TestNetwork.create(runId(), hosts);
    const cluster = new Cluster(network, options.tls === true);
    try {
      const ca = cluster.tls ? await initClusterCa(cluster.keys.keyDir) : undefined;
      cluster.auth = { keyDir: cluster.keys.keyDir.path, joinToken: cluster.keys.joinToken(), ...(ca === undefined ? {} : { caFile: ca.certFile }) };
      await options.prepare?.(network);
      cluster.adminToken = await cluster.keys.token('admin', { sub: 'cluster-harness', ttlMs: ADMIN_TOKEN_TTL_MS });
      cluster.driver = new Driver(network.wrap(cluster.client.name), cluster.adminToken, cluster.auth.caFile);
      await cluster.startRedis();
      for (const m of cluster.managers) cluster.startManager(m.name);
      for (const m of cluster.managers) await cluster.waitManager(m.name);
      for (const a of cluster.agents) cluster.startContainer(a.name);
      await cluster.waitContainers(cluster.agents.map((a) => a.name));
    } catch (err) {
      await cluster.close(true);
      throw err;
    }
    return cluster;
  }

  get redisUrl(): string {
    return redisUrl(this);
  }

  get managerUrls(): string[] {
    return this.managers.map((m) => managerUrl(m, this.tls));
  }

  host(name: string): Host {
    return this.network.host(name);
  }

  proc(name: string): FlotillaProcess {
    const p = this.processes.get(name);
    if (!p) throw new Error(`no process on ${name}`);
    return p;
  }

  private spawn(name: string, args: string[], env: Record<string, string>, command?: string[]): FlotillaProcess {
    const p = new FlotillaProcess(name, args, env, { wrap: this.network.wrap(name), ...(command ? { command } : {}) });
    this.processes.set(name, p);
    this.history.push(p);
    return p;
  }

  /** redis-server with its append-only file on, in the redis host's namespace (same dir on restart). */
  async startRedis(): Promise<void> {
    const args = ['--port', String(REDIS_PORT), '--bind', '0.0.0.0', '--protected-mode', 'no', '--dir', this.redisDir, '--save', '', '--appendonly', 'yes', '--daemonize', 'no'];
    this.spawn(this.redis.name, args, {}, ['redis-server']);
    await waitFor(
      'redis to answer PING on its host',
      () => this.network.exec(this.redis.name, ['redis-cli', '-h', this.redis.flotillaAddress, '-p', String(REDIS_PORT), 'ping'], { allowFail: true }).trim() === 'PONG',
      REDIS_START_TIMEOUT_MS,
      100,
    );
  }

  startManager(name: string): FlotillaProcess {
    return this.spawn(name, ['manager'], managerEnv(this.host(name), this));
  }

  async waitManager(name: string): Promise<void> {
    const url = managerUrl(this.host(name), this.tls);
    await waitFor(`${name} /health from the client host`, async () => (await this.driver.http('GET', `${url}/health`)).status === 200, MANAGER_START_TIMEOUT_MS, 200);
  }

  /** Agent hosts join the managers in turn (a1 → m1, a2 → m2, a3 → m1, …). */
  managerOf(agentName: string): Host {
    const index = this.agents.findIndex((a) => a.name === agentName);
    return this.managers[index % this.managers.length]!;
  }

  startContainer(name: string): FlotillaProcess {
    return this.spawn(name, ['container'], containerEnv(this.host(name), this, this.managerOf(name)));
  }

  async containers(): Promise<ContainerView[]> {
    for (const url of this.managerUrls) {
      try {
        const res = await this.driver.http<{ containers?: ContainerView[] }>('GET', `${url}/api/v1/cluster/containers`);
        if (res.status === 200 && res.body.containers) return res.body.containers;
      } catch {
        // that manager is down or cut off: ask the next
      }
    }
    throw new Error('no manager answered /api/v1/cluster/containers');
  }

  async waitContainers(names: string[], timeoutMs = CONTAINERS_JOIN_TIMEOUT_MS): Promise<void> {
    await waitFor(`containers ${names.join(', ')} active and serving counter`, async () => {
      const list = await this.containers();
      return names.every((n) => list.some((c) => c.container_id === n && c.state === 'active' && c.agent_types.includes('counter')));
    }, timeoutMs, 200);
  }

  /** The leader manager: its host name and manager id, from /api/v1/cluster/status. */
  async leader(): Promise<{ host: string; managerId: string }> {
    for (const url of this.managerUrls) {
      try {
        const res = await this.driver.http<{ managers?: { manager_id: string; address: string; leader: boolean }[] }>('GET', `${url}/api/v1/cluster/status`);
        const leader = res.body.managers?.find((m) => m.leader);
        const host = leader && this.managers.find((m) => leader.address === `${m.flotillaAddress}:${MANAGER_PORT}`);
        if (leader && host) return { host: host.name, managerId: leader.manager_id };
      } catch {
        // ask the next
      }
    }
    throw new Error('no manager named a leader');
  }

  /** Prints the tail of every process's output (for a failed run). */
  printLogs(): void {
    for (const p of this.history) {
      console.log(`# ---- ${p.label} (last ${LOG_TAIL_LINES} lines) ----`);
      for (const line of p.output.slice(-LOG_TAIL_LINES)) console.log(`#   ${line}`);
    }
    if (this.driver) console.log(`# ---- driver stderr ----\n${this.driver.stderr.join('').slice(-3_000)}`);
  }

  async close(printLogs = false): Promise<void> {
    if (printLogs) this.printLogs();
    try {
      await this.driver?.close();
      // Containers first (they deregister), then the managers, then Redis.
      const order = [...this.agents, ...this.managers, this.redis];
      for (const host of order) {
        const p = this.processes.get(host.name);
        if (p) await p.stop(5_000);
      }
    } finally {
      this.network.destroy();
      rmSync(this.redisDir, { recursive: true, force: true });
      this.keys.remove();
    }
  }
}
