/**
 * `flotilla wireguard init` writes the keys and wg0.conf of a manager host and N agent hosts (the
 * VPN deployment method); `flotilla wireguard rotate HOST` gives one host a new key in every
 * config that names it. Both work on local files only (no manager needed). A bad flag or an
 * unusable directory exits 2 with one line that says what is wrong, and nothing is written.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { EXIT_USAGE } from './errors.js';
import {
  DEFAULT_LISTEN_PORT,
  MAX_AGENTS,
  WireguardFilesError,
  WireguardPlanError,
  initLayout,
  parseEndpoint,
  parseSubnet,
  rotateHost,
  type Endpoint,
  type Subnet,
} from '../wireguard/index.js';

export const DEFAULT_WIREGUARD_DIR = 'wireguard';

function flagParser<T>(parse: (raw: string) => T): (raw: string) => T {
  return (raw) => {
    try {
      return parse(raw);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

function parseAgents(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_AGENTS)) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_AGENTS}`);
  return n;
}

function run(json: boolean | undefined, work: () => { json: unknown; human: string }): void {
  try {
    const out = work();
    console.log(json === true ? JSON.stringify(out.json, null, 2) : out.human);
  } catch (err) {
    if (!(err instanceof WireguardPlanError || err instanceof WireguardFilesError)) throw err;
    console.error(`error: ${err.message}`);
    process.exitCode = EXIT_USAGE;
  }
}

export function registerWireguardCommands(program: Command): void {
  const wg = program.command('wireguard').description('keys and wg0.conf files for running the cluster over a WireGuard VPN');

  wg.command('init')
    .description('write X25519 keys and a wg0.conf for a manager host and N agent hosts')
    .requiredOption('--subnet <cidr>', 'tunnel subnet, e.g. 10.214.0.0/24 (the manager gets the first address)', flagParser(parseSubnet))
    .requiredOption('--manager-endpoint <host:port>', `where agents reach the manager's WireGuard, e.g. 203.0.113.7:${DEFAULT_LISTEN_PORT}`, flagParser(parseEndpoint))
    .requiredOption('--agents <n>', 'number of agent hosts', parseAgents)
    .option('--out <dir>', 'directory to create (must not exist or be empty)', DEFAULT_WIREGUARD_DIR)
    .option('--json', 'print the layout as JSON')
    .action((flags: { subnet: Subnet; managerEndpoint: Endpoint; agents: number; out: string; json?: boolean }) =>
      run(flags.json, () => {
        const result = initLayout(flags.out, flags.subnet, flags.managerEndpoint, flags.agents);
        const lines = result.hosts.map((h) => `  ${h.name.padEnd(10)} ${h.address.padEnd(15)} ${h.config}`);
        return {
          json: result,
          human: [`wrote ${result.hosts.length} hosts into ${result.dir} (private keys mode 0600):`, ...lines, 'on each host: wg-quick up <its wg0.conf> (or wg setconf on a running interface)'].join('\n'),
        };
      }),
    );

  wg.command('rotate')
    .description("replace one host's key, in its own wg0.conf and in every config that names it as a peer")
    .argument('<host>', 'a host directory written by init, e.g. manager or agent-2')
    .option('--dir <dir>', 'the directory init wrote', DEFAULT_WIREGUARD_DIR)
    .option('--json', 'print the result as JSON')
    .action((host: string, flags: { dir: string; json?: boolean }) =>
      run(flags.json, () => {
        const result = rotateHost(flags.dir, host);
        return {
          json: result,
          human: [`${host}: new public key ${result.publicKey} (was ${result.oldPublicKey}); updated:`, ...result.updated.map((p) => `  ${p}`), 'apply: wg syncconf wg0 <(wg-quick strip <config>) on each of these hosts'].join('\n'),
        };
      }),
    );
}
