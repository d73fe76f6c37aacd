import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError, envBool, envEnum, envInt, envPort, envString, type Env } from '../common/env.js';
import { EXTERNAL_IP_CHECKS, type ExternalIpCheck } from '../common/network.js';
import { DEFAULT_CLUSTER_PORT } from '../protocol/paths.js';
import { assertSafeName } from '../protocol/names.js';
import { LIVENESS_PROBE_TIMEOUT_MS } from './control/liveness-probe.js';

export const DEFAULT_LEASE_INTERVAL_MS = 1_000;
export const DEFAULT_LEASE_TIMEOUT_MS = 3_000;
export const DEFAULT_LEADER_LEASE_MS = 3_000;
export const DEFAULT_DETECTOR_INTERVAL_MS = 250;
export const DEFAULT_RECONCILE_INTERVAL_MS = 500;
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;
export const DEFAULT_BIND_ADDRESS = '0.0.0.0';

export interface ManagerConfig {
  managerId: string;
  port: number;
  bindAddress: string;
  /** The address other hosts reach this manager at (for the managers list). */
  externalIp: string | undefined;
  externalIpCheck: ExternalIpCheck;
  redisUrl: string | undefined;
  /** FLOTILLA_REDIS_CA_FILE: the CA that signed the Redis server's certificate (rediss:// only). */
  redisCaFile: string | undefined;
  prefix: string;
  /** Lease settings handed to containers that do not ask for their own. */
  leaseIntervalMs: number;
  leaseTimeoutMs: number;
  leaderLeaseMs: number;
  detectorIntervalMs: number;
  /** Probe the /ping of containers late with their renewal (FLOTILLA_LIVENESS_PROBE, default on). */
  livenessProbe: boolean;
  livenessProbeTimeoutMs: number;
  /** How often the leader's reconciler compares where agents are with where they should be. */
  reconcileIntervalMs: number;
  maxBodyBytes: number;
  /** Serve Prometheus `GET /metrics` (FLOTILLA_METRICS, default on). */
  metrics: boolean;
}

export function managerConfigFromEnv(env: Env = process.env): ManagerConfig {
  const leaseIntervalMs = envInt(env, 'FLOTILLA_LEASE_INTERVAL_MS', DEFAULT_LEASE_INTERVAL_MS, { min: 100, max: 600_000 });
  const leaseTimeoutMs = envInt(env, 'FLOTILLA_LEASE_TIMEOUT_MS', DEFAULT_LEASE_TIMEOUT_MS, { min: 100, max: 600_000 });
  if (leaseTimeoutMs <= leaseIntervalMs) {
    throw new ConfigError(
      `FLOTILLA_LEASE_TIMEOUT_MS (${leaseTimeoutMs}) must be greater than FLOTILLA_LEASE_INTERVAL_MS (${leaseIntervalMs})`,
    );
  }
  const managerId = envString(env, 'FLOTILLA_MANAGER_ID') ?? `mgr-${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  return {
    managerId: assertSafeName('FLOTILLA_MANAGER_ID', managerId),
    port: envPort(env, 'CLUSTER_PORT', DEFAULT_CLUSTER_PORT),
    bindAddress: envString(env, 'FLOTILLA_BIND_ADDRESS') ?? DEFAULT_BIND_ADDRESS,
    externalIp: envString(env, 'EXTERNAL_IP'),
    externalIpCheck: envEnum(env, 'FLOTILLA_EXTERNAL_IP_CHECK', EXTERNAL_IP_CHECKS, 'auto'),
    redisUrl: envString(env, 'REDIS_URL'),
    redisCaFile: envString(env, 'FLOTILLA_REDIS_CA_FILE'),
    prefix: envString(env, 'FLOTILLA_PREFIX') ?? 'flotilla:',
    leaseIntervalMs,
    leaseTimeoutMs,
    leaderLeaseMs: envInt(env, 'FLOTILLA_LEADER_LEASE_MS', DEFAULT_LEADER_LEASE_MS, { min: 300, max: 600_000 }),
    detectorIntervalMs: envInt(env, 'FLOTILLA_DETECTOR_INTERVAL_MS', DEFAULT_DETECTOR_INTERVAL_MS, { min: 10, max: 60_000 }),
    livenessProbe: envBool(env, 'FLOTILLA_LIVENESS_PROBE', true),
    livenessProbeTimeoutMs: envInt(env, 'FLOTILLA_LIVENESS_PROBE_TIMEOUT_MS', LIVENESS_PROBE_TIMEOUT_MS, { min: 50, max: 60_000 }),
    reconcileIntervalMs: envInt(env, 'FLOTILLA_RECONCILE_INTERVAL_MS', DEFAULT_RECONCILE_INTERVAL_MS, { min: 10, max: 60_000 }),
    maxBodyBytes: envInt(env, 'FLOTILLA_MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, { min: 1_024, max: 64 * 1_048_576 }),
    metrics: envBool(env, 'FLOTILLA_METRICS', true),
  };
}
