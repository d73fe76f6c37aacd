/**
 * THE one place where the harness writes the environment of a Flotilla process: exactly what a
 * user writes on each host in the external-IP method (README "Across hosts"), nothing else.
 * Authentication is on, as by default: the managers share one key directory (as replicas share a
 * volume or a Secret), each container joins with the join token, and the client host's driver
 * sends an admin token on every call. With `tls`, the managers serve HTTPS with certificates from
 * the cluster CA in that key directory (FLOTILLA_TLS=on after `flotilla ca init`), and containers
 * join over https: the join token then carries the CA's fingerprint.
 */
import { fileURLToPath } from 'node:url';
import { AGENT_PORT, MANAGER_PORT, REDIS_PORT, type Host } from './topology.js';

/** The counter agent (FLOTILLA_AGENT_MODULES), served by every agent container of the harness. */
export const COUNTER_MODULE = fileURLToPath(new URL('../agents/counter.mjs', import.meta.url));

export interface ClusterHosts {
  redis: Host;
  managers: Host[];
  auth: ClusterAuth;
  /** FLOTILLA_TLS=on on the managers; https manager URLs everywhere. */
  tls: boolean;
}

export interface ClusterAuth {
  /** The managers' FLOTILLA_KEY_DIR. */
  keyDir: string;
  /** What `flotilla join-token` prints: each container's FLOTILLA_JOIN_TOKEN. */
  joinToken: string;
  /** The cluster CA certificate (in the key dir) when TLS is on: what `--ca-file` points at. */
  caFile?: string;
}

export function redisUrl(cluster: ClusterHosts): string {
  return `redis://${cluster.redis.flotillaAddress}:${REDIS_PORT}`;
}

export function managerUrl(manager: Host, tls = false): string {
  return `${tls ? 'https' : 'http'}://${manager.flotillaAddress}:${MANAGER_PORT}`;
}

/** `flotilla manager` on a manager host. */
export function managerEnv(host: Host, cluster: ClusterHosts): Record<string, string> {
  return {
    REDIS_URL: redisUrl(cluster),
    EXTERNAL_IP: host.flotillaAddress,
    CLUSTER_PORT: String(MANAGER_PORT),
    FLOTILLA_KEY_DIR: cluster.auth.keyDir,
    // On is the default; written out because the tests' process helper defaults to off.
    FLOTILLA_AUTH: 'on',
    ...(cluster.tls ? { FLOTILLA_TLS: 'on' } : {}),
  };
}

/** `flotilla container` on an agent host, joining `manager`. */
export function containerEnv(host: Host, cluster: ClusterHosts, manager: Host): Record<string, string> {
  return {
    CENTRAL_MANAGER_URL: managerUrl(manager, cluster.tls),
    REDIS_URL: redisUrl(cluster),
    EXTERNAL_IP: host.flotillaAddress,
    AGENT_PORT: String(AGENT_PORT),
    CONTAINER_NAME: host.name,
    FLOTILLA_JOIN_TOKEN: cluster.auth.joinToken,
    FLOTILLA_AGENT_MODULES: COUNTER_MODULE,
  };
}
