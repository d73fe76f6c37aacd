import { availableParallelism, hostname, networkInterfaces, totalmem } from 'node:os';
import { ConfigError, envBool, envEnum, envInt, envList, envMap, envPort, envString, envUrl, type Env } from '../common/env.js';
import { EXTERNAL_IP_CHECKS, type ExternalIpCheck } from '../common/network.js';
import { DEFAULT_AGENT_PORT } from '../protocol/paths.js';
import { isSafeName } from '../protocol/names.js';
import type { Resources } from '../protocol/container.js';
import { DEFAULT_LATENCY_INTERVAL_MS, LATENCY_INTERVAL_MIN_MS } from '../observability/latency-probe.js';
import { JOIN_TOKEN_PREFIX, parseJoinToken } from '../auth/join-token.js';
import { DEFAULT_JWKS_REFRESH_MS, JWKS_RETRY_MS } from '../auth/published-keys.js';
import { caCheckIntervalFromEnv, ownCertificatesFromEnv, TLS_CA_ENV, TLS_CERT_ENV, type OwnCertificates } from '../tls/config.js';
import { readFileSync } from 'node:fs';

export const JOIN_TOKEN_ENV = 'FLOTILLA_JOIN_TOKEN';

export const DEFAULT_CONTAINER_LEASE_INTERVAL_MS = 1_000;
export const DEFAULT_CONTAINER_LEASE_TIMEOUT_MS = 3_000;
export const DEFAULT_CONTAINER_BIND_ADDRESS = '0.0.0.0';

export interface ContainerConfig {
  name: string;
  managerUrl: string;
  /** Absent: renew the lease over HTTP through the manager (the fallback). */
  redisUrl: string | undefined;
  /** FLOTILLA_REDIS_CA_FILE: the CA that signed the Redis server's certificate (rediss:// only). */
  redisCaFile: string | undefined;
  prefix: string;
  externalIp: string;
  /** True when EXTERNAL_IP was not given and an interface address was picked. */
  externalIpGuessed: boolean;
  externalIpCheck: ExternalIpCheck;
  port: number;
  bindAddress: string;
  labels: Record<string, string>;
  capabilities: string[];
  resources: Resources;
  leaseIntervalMs: number;
  leaseTimeoutMs: number;
  /** FLOTILLA_TOKEN: a token to use instead of a join token (an admin's, or a container token minted for this name). */
  token: string | undefined;
  /** FLOTILLA_JOIN_TOKEN: `flotilla join-token` on the manager; registration needs it when authentication is on. */
  joinToken: string | undefined;
  /** Serve Prometheus `GET /metrics` (FLOTILLA_METRICS, default on). */
  metrics: boolean;
  /** FLOTILLA_METRICS_PUBLIC: /metrics needs no token or client certificate (as on the manager). */
  metricsPublic: boolean;
  /** How often the manager's public token keys are read again (FLOTILLA_JWKS_REFRESH_MS): a retired key is refused within this. */
  jwksRefreshMs: number;
  /** Ship this process's log lines to the store's shared log (FLOTILLA_LOG_SHIPPING, default on; needs REDIS_URL). */
  logShipping: boolean;
  /** Measure round trips to Redis, the manager and peers this often (FLOTILLA_LATENCY_INTERVAL_MS; 0 = off). */
  latencyIntervalMs: number;
  /** Mutual TLS: on when CENTRAL_MANAGER_URL is https:// (../tls/container-tls.ts). */
  tls: ContainerTlsConfig | null;
}

export interface ContainerTlsConfig {
  /** FLOTILLA_TLS_CERT/KEY/CA: the operator's certificate for this container (no CSR, no renewal). */
  own: OwnCertificates | null;
  /** FLOTILLA_TLS_CA alone: the cluster CA to trust, instead of fetching it and checking it against the join token. */
  pinnedCaPem: string | null;
  /** FLOTILLA_CA_CHECK_INTERVAL: how often to look for a CA rotation at the manager. */
  caCheckIntervalMs: number;
}

function tlsConfigFromEnv(env: Env, managerUrl: string): ContainerTlsConfig | null {
  const own = ownCertificatesFromEnv(env);
  const https = managerUrl.startsWith('https:');
  if (!https) {
    if (own !== null) throw new ConfigError(`${TLS_CERT_ENV} and the other FLOTILLA_TLS_* files are set but CENTRAL_MANAGER_URL is not https://: use https:// for a manager with TLS on`);
    return null;
  }
  const caCheckIntervalMs = caCheckIntervalFromEnv(env);
  if (own !== null) return { own, pinnedCaPem: null, caCheckIntervalMs };
  const caFile = envString(env, TLS_CA_ENV);
  if (caFile === undefined) return { own: null, pinnedCaPem: null, caCheckIntervalMs };
  try {
    return { own: null, pinnedCaPem: readFileSync(caFile, 'utf8'), caCheckIntervalMs };
  } catch (cause) {
    throw new ConfigError(`${TLS_CA_ENV}=${caFile}: cannot read it (${(cause as Error).message})`, { cause });
  }
}

/** The first non-internal IPv4 address of this host, for when EXTERNAL_IP is not set. */
export function guessExternalIp(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function defaultName(): string {
  const h = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return isSafeName(h) ? h : 'container';
}

/** 0 turns latency probing off; otherwise at least LATENCY_INTERVAL_MIN_MS, so probes stay a trickle. */
function latencyInterval(env: Env): number {
  const ms = envInt(env, 'FLOTILLA_LATENCY_INTERVAL_MS', DEFAULT_LATENCY_INTERVAL_MS, { min: 0, max: 3_600_000 });
  if (ms !== 0 && ms < LATENCY_INTERVAL_MIN_MS) {
    throw new ConfigError(`FLOTILLA_LATENCY_INTERVAL_MS (${ms}) must be 0 (off) or at least ${LATENCY_INTERVAL_MIN_MS}`);
  }
  return ms;
}

function joinTokenFromEnv(env: Env): string | undefined {
  const raw = envString(env, JOIN_TOKEN_ENV);
  if (raw !== undefined && parseJoinToken(raw) === undefined) {
    throw new ConfigError(`${JOIN_TOKEN_ENV} is not a join token (expected ${JOIN_TOKEN_PREFIX}<fingerprint>-<secret>, as \`flotilla join-token\` prints it)`);
  }
  return raw;
}

export function containerConfigFromEnv(env: Env = process.env): ContainerConfig {
  const managerUrl = envUrl(env, 'CENTRAL_MANAGER_URL');
  if (managerUrl === undefined) {
    throw new ConfigError('CENTRAL_MANAGER_URL is not set: point it at the manager, e.g. CENTRAL_MANAGER_URL=http://10.0.0.5:8000');
  }
  const name = envString(env, 'CONTAINER_NAME') ?? defaultName();
  if (!isSafeName(name)) {
    throw new ConfigError(`CONTAINER_NAME=${JSON.stringify(name)} is not a valid name: use letters, digits, ".", "_" or "-" (at most 128)`);
  }
  const leaseIntervalMs = envInt(env, 'FLOTILLA_LEASE_INTERVAL_MS', DEFAULT_CONTAINER_LEASE_INTERVAL_MS, { min: 100, max: 600_000 });
  const leaseTimeoutMs = envInt(env, 'FLOTILLA_LEASE_TIMEOUT_MS', DEFAULT_CONTAINER_LEASE_TIMEOUT_MS, { min: 100, max: 600_000 });
  if (leaseTimeoutMs <= leaseIntervalMs) {
    throw new ConfigError(`FLOTILLA_LEASE_TIMEOUT_MS (${leaseTimeoutMs}) must be greater than FLOTILLA_LEASE_INTERVAL_MS (${leaseIntervalMs})`);
  }
  const given = envString(env, 'EXTERNAL_IP');
  const maxAgents = envString(env, 'FLOTILLA_MAX_AGENTS');
  return {
    name,
    managerUrl,
    redisUrl: envString(env, 'REDIS_URL'),
    redisCaFile: envString(env, 'FLOTILLA_REDIS_CA_FILE'),
    prefix: envString(env, 'FLOTILLA_PREFIX') ?? 'flotilla:',
    externalIp: given ?? guessExternalIp(),
    externalIpGuessed: given === undefined,
    externalIpCheck: envEnum(env, 'FLOTILLA_EXTERNAL_IP_CHECK', EXTERNAL_IP_CHECKS, 'auto'),
    port: envPort(env, 'AGENT_PORT', DEFAULT_AGENT_PORT),
    bindAddress: envString(env, 'FLOTILLA_BIND_ADDRESS') ?? DEFAULT_CONTAINER_BIND_ADDRESS,
    labels: envMap(env, 'FLOTILLA_LABELS'),
    capabilities: envList(env, 'FLOTILLA_CAPABILITIES'),
    resources: {
      cpu_cores: availableParallelism(),
      memory_mb: Math.round(totalmem() / 1_048_576),
      gpus: envInt(env, 'FLOTILLA_GPUS', 0, { min: 0, max: 1_024 }),
      ...(maxAgents === undefined ? {} : { max_agents: envInt(env, 'FLOTILLA_MAX_AGENTS', 0, { min: 0, max: 1_000_000 }) }),
    },
    leaseIntervalMs,
    leaseTimeoutMs,
    token: envString(env, 'FLOTILLA_TOKEN'),
    joinToken: joinTokenFromEnv(env),
    metrics: envBool(env, 'FLOTILLA_METRICS', true),
    metricsPublic: envBool(env, 'FLOTILLA_METRICS_PUBLIC', false),
    jwksRefreshMs: envInt(env, 'FLOTILLA_JWKS_REFRESH_MS', DEFAULT_JWKS_REFRESH_MS, { min: JWKS_RETRY_MS, max: 3_600_000 }),
    logShipping: envBool(env, 'FLOTILLA_LOG_SHIPPING', true),
    latencyIntervalMs: latencyInterval(env),
    tls: tlsConfigFromEnv(env, managerUrl),
  };
}
