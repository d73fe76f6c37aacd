/**
 * `wg0.conf` files in wg-quick's format: the manager's lists every agent as a peer with its /32;
 * an agent's has the manager as its only peer, reached at the endpoint, routing the whole subnet
 * through it. Each [Peer] is preceded by a `# <host>` comment so people can read the file.
 */
import { PERSISTENT_KEEPALIVE_S, type Endpoint, type PlannedHost, type Subnet } from './plan.js';

export interface KeyedHost extends PlannedHost {
  privateKey: string;
  publicKey: string;
}

export function managerConfig(manager: KeyedHost, agents: KeyedHost[], subnet: Subnet, endpoint: Endpoint): string {
  return [
    `# Flotilla WireGuard: ${manager.name} (${manager.address}); written by flotilla wireguard init`,
    '[Interface]',
    `PrivateKey = ${manager.privateKey}`,
    `Address = ${manager.address}/${subnet.prefix}`,
    `ListenPort = ${endpoint.port}`,
    ...agents.flatMap((a) => ['', `# ${a.name}`, '[Peer]', `PublicKey = ${a.publicKey}`, `AllowedIPs = ${a.address}/32`]),
    '',
  ].join('\n');
}

export function agentConfig(agent: KeyedHost, manager: KeyedHost, subnet: Subnet, endpoint: Endpoint): string {
  return [
    `# Flotilla WireGuard: ${agent.name} (${agent.address}); written by flotilla wireguard init`,
    '[Interface]',
    `PrivateKey = ${agent.privateKey}`,
    `Address = ${agent.address}/${subnet.prefix}`,
    '',
    `# ${manager.name}`,
    '[Peer]',
    `PublicKey = ${manager.publicKey}`,
    `Endpoint = ${endpoint.host}:${endpoint.port}`,
    `AllowedIPs = ${subnet.cidr}`,
    `PersistentKeepalive = ${PERSISTENT_KEEPALIVE_S}`,
    '',
  ].join('\n');
}
