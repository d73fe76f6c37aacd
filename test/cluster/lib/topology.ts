/**
 * The test network of the multi-host harness: which hosts exist, their addresses, and the names
 * of their network namespaces. The subnet is ours (10.213.0.0/24), never the docs' example one;
 * it only exists inside the namespaces a run creates, so runs cannot collide with real networks.
 */

/** Every namespace of every run starts with this, so leftovers of a crashed run can be found. */
export const NETNS_PREFIX = 'flt-';
export const SUBNET_PREFIX = '10.213.0';
export const SUBNET_BITS = 24;
/** The WireGuard scenario's tunnel subnet (also ours). */
export const TUNNEL_SUBNET = '10.214.0.0/24';

export const REDIS_PORT = 6379;
export const MANAGER_PORT = 8000;
export const AGENT_PORT = 8001;

export type HostRole = 'redis' | 'manager' | 'agent' | 'client';

export interface HostSpec {
  /** Short name: `redis`, `m1`, `a1`, `client`. Also the container's CONTAINER_NAME for agents. */
  name: string;
  role: HostRole;
  /** Last octet on the test subnet. */
  octet: number;
}

export const DEFAULT_HOSTS: readonly HostSpec[] = [
  { name: 'redis', role: 'redis', octet: 10 },
  { name: 'm1', role: 'manager', octet: 21 },
  { name: 'm2', role: 'manager', octet: 22 },
  { name: 'a1', role: 'agent', octet: 31 },
  { name: 'a2', role: 'agent', octet: 32 },
  { name: 'a3', role: 'agent', octet: 33 },
  { name: 'client', role: 'client', octet: 50 },
];

export interface Host extends HostSpec {
  /** The network namespace this host's processes run in. */
  netns: string;
  /** Its address on the test subnet. */
  address: string;
  /** The address Flotilla advertises (the tunnel address in the WireGuard scenario). */
  flotillaAddress: string;
}

/** A run id that names the owning process, so leftovers are only cleaned when their owner is dead. */
export function runId(pid = process.pid): string {
  return `${pid}`;
}

export function netnsName(run: string, host: string): string {
  return `${NETNS_PREFIX}${run}-${host}`;
}

/** The pid of the harness that created a namespace, read back from its name. */
export function ownerPid(netns: string): number | undefined {
  const match = new RegExp(`^${NETNS_PREFIX}(\\d+)-`).exec(netns);
  return match ? Number(match[1]) : undefined;
}

export function hostsFor(run: string, specs: readonly HostSpec[] = DEFAULT_HOSTS): Host[] {
  return specs.map((spec) => {
    const address = `${SUBNET_PREFIX}.${spec.octet}`;
    return { ...spec, netns: netnsName(run, spec.name), address, flotillaAddress: address };
  });
}
