/**
 * Linux network namespaces for the multi-host harness: one namespace per host, each joined by a
 * veth pair to a bridge that itself lives in a namespace (so the root namespace has no interface
 * on the test subnet and cannot send there by accident). Needs root and iproute2.
 *
 * Everything a run creates is named `flt-<pid>-…`; teardown kills every process in the run's
 * namespaces and deletes them, on success, failure, SIGINT/SIGTERM and exit. Namespaces whose
 * owning pid is gone (a crashed run) are cleaned before a new run starts.
 */
import { spawnSync } from 'node:child_process';
import { NETNS_PREFIX, SUBNET_BITS, netnsName, ownerPid, type Host } from './topology.js';

/** Every ip/iptables call is bounded: a hung tool must not hang the run. */
const COMMAND_TIMEOUT_MS = 10_000;
const BRIDGE = 'br0';

export class HarnessUnavailableError extends Error {
  override readonly name = 'HarnessUnavailableError';
}

export class NetnsCommandError extends Error {
  override readonly name = 'NetnsCommandError';
  constructor(
    message: string,
    readonly argv: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Runs a command synchronously (bounded); throws with its stderr when it fails. */
export function run(argv: string[], options: { allowFail?: boolean; input?: string } = {}): string {
  const [cmd, ...args] = argv;
  const result = spawnSync(cmd!, args, { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, input: options.input });
  if (result.error || result.status !== 0) {
    if (options.allowFail) return '';
    const why = result.error?.message ?? `exit ${result.status}: ${result.stderr.trim()}`;
    throw new NetnsCommandError(`${argv.join(' ')} failed: ${why}`, argv, { cause: result.error });
  }
  return result.stdout;
}

/** What the harness needs; throws a HarnessUnavailableError that says what is missing. */
export function checkPrerequisites(tools: string[] = ['ip', 'iptables']): void {
  if (process.platform !== 'linux') throw new HarnessUnavailableError('the cluster harness needs Linux network namespaces');
  if (process.getuid?.() !== 0) {
    throw new HarnessUnavailableError('the cluster harness needs root (it creates network namespaces, veth pairs and firewall rules); run it as root, e.g. in CI (.ci/run) or a disposable VM/container');
  }
  for (const tool of tools) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).status !== 0) {
      throw new HarnessUnavailableError(`the cluster harness needs \`${tool}\` on PATH (Debian: apt-get install -y iproute2 iptables wireguard-go wireguard-tools; .ci/run installs them)`);
    }
  }
  const probe = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  if (probe.status !== 0) throw new HarnessUnavailableError(`\`ip netns\` does not work here: ${probe.stderr.trim()}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function listNetns(): string[] {
  return run(['ip', 'netns', 'list'], { allowFail: true })
    .split('\n')
    .map((line) => line.split(' ')[0]!.trim())
    .filter((name) => name !== '');
}

/** Kills every process inside a namespace (SIGKILL), then deletes it. Never throws. */
export function removeNetns(name: string): void {
  for (const pid of run(['ip', 'netns', 'pids', name], { allowFail: true }).split('\n').map(Number).filter((p) => p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  run(['ip', 'netns', 'del', name], { allowFail: true });
}

/** Removes the namespaces of earlier runs whose harness process is dead. Returns their names. */
export function cleanLeftovers(): string[] {
  const stale = listNetns().filter((name) => {
    if (!name.startsWith(NETNS_PREFIX)) return false;
    const pid = ownerPid(name);
    return pid === undefined || (pid !== process.pid && !alive(pid));
  });
  stale.forEach(removeNetns);
  return stale;
}

const liveNetworks = new Set<TestNetwork>();
let hooksInstalled = false;

/** Teardown on every way out: exit (sync), and SIGINT/SIGTERM (then die of the same signal). */
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const network of liveNetworks) network.destroy();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n# cluster harness: ${signal}, tearing down ${liveNetworks.size} test network(s)`);
      for (const network of liveNetworks) network.destroy();
      process.kill(process.pid, signal);
    });
  }
}

/** One run's network: a bridge namespace and a namespace per host. */
export class TestNetwork {
  readonly bridgeNetns: string;
  private destroyed = false;

  private constructor(
    readonly run: string,
    readonly hosts: Host[],
  ) {
    this.bridgeNetns = netnsName(run, 'br');
  }

  static create(run: string, hosts: Host[]): TestNetwork {
    installHooks();
    const network = new TestNetwork(run, hosts);
    liveNetworks.add(network);
    try {
      network.build();
    } catch (err) {
      network.destroy();
      throw err;
    }
    return network;
  }

  host(name: string): Host {
    const host = this.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`no host ${name} in this test network`);
    return host;
  }

  private build(): void {
    const br = this.bridgeNetns;
    run(['ip', 'netns', 'add', br]);
    run(['ip', '-n', br, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', br, 'link', 'add', BRIDGE, 'type', 'bridge']);
    run(['ip', '-n', br, 'link', 'set', BRIDGE, 'up']);
    for (const host of this.hosts) {
      run(['ip', 'netns', 'add', host.netns]);
      run(['ip', '-n', host.netns, 'link', 'set', 'lo', 'up']);
      // Created straight inside the two namespaces: nothing ever appears in the root namespace.
      run(['ip', 'link', 'add', 'eth0', 'netns', host.netns, 'type', 'veth', 'peer', 'name', this.port(host), 'netns', br]);
      run(['ip', '-n', br, 'link', 'set', this.port(host), 'master', BRIDGE, 'up']);
      run(['ip', '-n', host.netns, 'addr', 'add', `${host.address}/${SUBNET_BITS}`, 'dev', 'eth0']);
      run(['ip', '-n', host.netns, 'link', 'set', 'eth0', 'up']);
    }
  }

  /** The bridge-side end of a host's veth pair. */
  private port(host: Host): string {
    return `v-${host.name}`;
  }

  /** Cuts a host off from every other host (its bridge port down), or heals it. */
  setLink(hostName: string, up: boolean): void {
    run(['ip', '-n', this.bridgeNetns, 'link', 'set', this.port(this.host(hostName)), up ? 'up' : 'down']);
  }

  /** Runs a command inside a host's namespace (bounded) and returns its stdout. */
  exec(hostName: string, argv: string[], options: { allowFail?: boolean; input?: string } = {}): string {
    return run(['ip', 'netns', 'exec', this.host(hostName).netns, ...argv], options);
  }

  /**
   * The argv prefix that runs a long-lived command inside a host's namespace. `setpriv
   * --pdeathsig KILL` (util-linux) makes the kernel kill it if the harness itself dies without
   * running its teardown (SIGKILL, a test runner killed): no process outlives the run; the empty
   * namespaces left then are removed by the next run's cleanLeftovers().
   */
  wrap(hostName: string): string[] {
    return ['ip', 'netns', 'exec', this.host(hostName).netns, 'setpriv', '--pdeathsig', 'KILL'];
  }

  /** Kills everything in the run's namespaces and deletes them. Idempotent, synchronous. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    liveNetworks.delete(this);
    for (const host of this.hosts) removeNetns(host.netns);
    removeNetns(this.bridgeNetns);
  }
}
