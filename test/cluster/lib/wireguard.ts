/**
 * Brings up the configs written by `flotilla wireguard init` inside the harness's namespaces: this
 * kernel has no WireGuard module, so each host runs Debian's userspace `wireguard-go` (in the
 * foreground, a child of the harness, killed with its namespace), then `wg setconf` with the
 * config stripped of wg-quick's own keys (as `wg-quick strip` does), the tunnel address, and up.
 * The hub (the manager host) forwards between its peers.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlotillaProcess, waitFor } from '../../helpers/processes.js';
import type { TestNetwork } from './netns.js';
import { runId } from './topology.js';

/**
 * wireguard-go's control socket is /var/run/wireguard/<interface>.sock, and the file system is
 * shared by every namespace: each host gets its own interface name, or the daemons (and `wg`)
 * would meet on one socket.
 */
const interfaceOf = (host: string): string => `w${runId()}-${host}`.slice(0, 15);
const SOCKET_DIR = '/var/run/wireguard';

/** The daemons die with their namespaces (SIGKILL) and leave their sockets: remove them. */
export function removeTunnelSockets(hosts: string[]): void {
  for (const host of hosts) rmSync(`${SOCKET_DIR}/${interfaceOf(host)}.sock`, { force: true });
}
const INTERFACE_TIMEOUT_MS = 10_000;
/** wg-quick's keys that `wg setconf` does not know. */
const WG_QUICK_ONLY = /^(Address|DNS|MTU|Table|PreUp|PostUp|PreDown|PostDown|SaveConfig)\s*=.*$/gm;

export interface TunnelHost {
  /** The harness host (namespace) that plays this layout host. */
  host: string;
  /** The layout's host directory (`manager`, `agent-1` …). */
  layoutHost: string;
  address: string;
  hub: boolean;
}

export async function bringUpTunnel(network: TestNetwork, layoutDir: string, hosts: TunnelHost[], prefix: number): Promise<FlotillaProcess[]> {
  const daemons: FlotillaProcess[] = [];
  for (const t of hosts) {
    const netns = network.host(t.host).netns;
    const INTERFACE = interfaceOf(t.host);
    daemons.push(new FlotillaProcess(`wireguard-go@${t.host}`, ['-f', INTERFACE], {}, { wrap: network.wrap(t.host), command: ['wireguard-go'] }));
    await waitFor(`${INTERFACE} in ${netns}`, () => network.exec(t.host, ['ip', 'link', 'show', INTERFACE], { allowFail: true }) !== '', INTERFACE_TIMEOUT_MS, 50);
    const stripped = join(layoutDir, t.layoutHost, 'wg0.setconf');
    writeFileSync(stripped, readFileSync(join(layoutDir, t.layoutHost, 'wg0.conf'), 'utf8').replace(WG_QUICK_ONLY, ''), { mode: 0o600 });
    network.exec(t.host, ['wg', 'setconf', INTERFACE, stripped]);
    network.exec(t.host, ['ip', 'addr', 'add', `${t.address}/${prefix}`, 'dev', INTERFACE]);
    network.exec(t.host, ['ip', 'link', 'set', INTERFACE, 'up']);
    if (t.hub) network.exec(t.host, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  }
  return daemons;
}

/** Bytes received and sent on a host's tunnel, summed over its peers (`wg show <if> transfer`). */
export function tunnelTransfer(network: TestNetwork, host: string): { rx: number; tx: number } {
  const lines = network.exec(host, ['wg', 'show', interfaceOf(host), 'transfer']).trim().split('\n').filter(Boolean);
  return lines.reduce((sum, line) => {
    const [, rx, tx] = line.split('\t');
    return { rx: sum.rx + Number(rx), tx: sum.tx + Number(tx) };
  }, { rx: 0, tx: 0 });
}
