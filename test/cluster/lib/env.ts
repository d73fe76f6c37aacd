/**
 * THE one place where the harness writes the environment of a Flotilla process: exactly what a
 * user writes on each host in the external-IP method (README "Across hosts"), nothing else.
 * Authentication: the managers run with FLOTILLA_AUTH=off, said here explicitly (a user may choose
 * it on a private network); the harness's driver and load send no tokens yet. Running the harness
 * with authentication on means a shared FLOTILLA_KEY_DIR for the managers, FLOTILLA_JOIN_TOKEN for
 * the containers, and a token on every driver call.
 */
import { fileURLToPath } from 'node:url';
import { AGENT_PORT, MANAGER_PORT, REDIS_PORT, type Host } from './topology.js';

/** The counter agent (FLOTILLA_AGENT_MODULES), served by every agent container of the harness. */
export const COUNTER_MODULE = fileURLToPath(new URL('../agents/counter.mjs', import.meta.url));

export interface ClusterHosts {
  redis: Host;
  managers: Host[];
}

export function redisUrl(cluster: ClusterHosts): string {
  return `redis://${cluster.redis.flotillaAddress}:${REDIS_PORT}`;
}

export function managerUrl(manager: Host): string {
  return `http://${manager.flotillaAddress}:${MANAGER_PORT}`;
}

/** `flotilla manager` on a manager host. */
export function managerEnv(host: Host, cluster: ClusterHosts): Record<string, string> {
  return {
    REDIS_URL: redisUrl(cluster),
    EXTERNAL_IP: host.flotillaAddress,
    CLUSTER_PORT: String(MANAGER_PORT),
    FLOTILLA_AUTH: 'off',
  };
}

/** `flotilla container` on an agent host, joining `manager`. */
export function containerEnv(host: Host, cluster: ClusterHosts, manager: Host): Record<string, string> {
  return {
    CENTRAL_MANAGER_URL: managerUrl(manager),
    REDIS_URL: redisUrl(cluster),
    EXTERNAL_IP: host.flotillaAddress,
    AGENT_PORT: String(AGENT_PORT),
    CONTAINER_NAME: host.name,
    FLOTILLA_AGENT_MODULES: COUNTER_MODULE,
  };
}
