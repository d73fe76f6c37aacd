/**
 * The tunnel network `flotilla wireguard init` lays out: a manager host (the hub, which listens)
 * and N agent hosts (spokes that dial the manager's endpoint), each with an address in the subnet:
 * the manager gets the first host address, agent i the i+1-th.
 */

export const DEFAULT_LISTEN_PORT = 51820;
/** Keeps NAT mappings of the spokes open (seconds), as WireGuard's docs advise behind NAT. */
export const PERSISTENT_KEEPALIVE_S = 25;
export const MAX_AGENTS = 1_000;
export const MANAGER_HOST = 'manager';

export class WireguardPlanError extends Error {
  override readonly name = 'WireguardPlanError';
}

export interface Subnet {
  /** Network address as a 32-bit number. */
  base: number;
  prefix: number;
  cidr: string;
}

export interface Endpoint {
  host: string;
  port: number;
}

export interface PlannedHost {
  /** `manager`, `agent-1` … */
  name: string;
  address: string;
}

function ipToNumber(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** An IPv4 CIDR such as 10.214.0.0/24 (prefix 8..30; host bits must be zero). */
export function parseSubnet(raw: string): Subnet {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(raw.trim());
  const base = match ? ipToNumber(match[1]!) : undefined;
  const prefix = match ? Number(match[2]) : NaN;
  if (base === undefined || !(prefix >= 8 && prefix <= 30)) throw new WireguardPlanError(`subnet ${JSON.stringify(raw)} is not an IPv4 CIDR with a prefix from /8 to /30, e.g. 10.214.0.0/24`);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) throw new WireguardPlanError(`subnet ${raw}: host bits are set; the network address is ${numberToIp(base - (base % size))}/${prefix}`);
  return { base, prefix, cidr: `${numberToIp(base)}/${prefix}` };
}

/** HOST:PORT, with an IPv6 host in brackets ([2001:db8::1]:51820). */
export function parseEndpoint(raw: string): Endpoint {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port >= 1 && port <= 65_535)) throw new WireguardPlanError(`manager endpoint ${JSON.stringify(raw)} is not HOST:PORT (e.g. 203.0.113.7:${DEFAULT_LISTEN_PORT}), port 1..65535`);
  return { host: match[1]!, port };
}

export function planHosts(subnet: Subnet, agents: number): PlannedHost[] {
  if (!Number.isInteger(agents) || agents < 1 || agents > MAX_AGENTS) throw new WireguardPlanError(`--agents must be a whole number from 1 to ${MAX_AGENTS}`);
  const usable = 2 ** (32 - subnet.prefix) - 2;
  if (agents + 1 > usable) throw new WireguardPlanError(`subnet ${subnet.cidr} has ${usable} host addresses; a manager and ${agents} agents need ${agents + 1}`);
  return [{ name: MANAGER_HOST, address: numberToIp(subnet.base + 1) }, ...Array.from({ length: agents }, (_, i) => ({ name: `agent-${i + 1}`, address: numberToIp(subnet.base + i + 2) }))];
}
