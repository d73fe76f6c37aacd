/**
 * The troubleshooting steps a person runs by hand on an agent host (the deployment guide's
 * "Testing Multi-Host Deployment" and "Troubleshooting"), each bounded in time: names resolve, TCP
 * reach to Redis, Redis AUTH and PING, the manager's /health, clocks in step with the manager and
 * Redis, and EXTERNAL_IP being an address of this host.
 */
import { lookup } from 'node:dns/promises';
import { createConnection, isIP } from 'node:net';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { AddressNotLocalError, assertLocalAddress } from '../common/network.js';
import { parseRedisUrl } from '../store/index.js';
import type { Finding } from './findings.js';

/** Every network step gives up after this. */
export const CHECK_TIMEOUT_MS = 3_000;
/** Leases are seconds long: a skew above this makes lease times and logs misleading. */
export const CLOCK_SKEW_WARN_MS = 1_000;

export interface Target {
  host: string;
  port: number;
}

export async function checkResolves(what: string, host: string): Promise<Finding> {
  if (isIP(host) !== 0) return { check: `dns ${what}`, status: 'skipped', message: `${host} is an IP address` };
  try {
    const addresses = await lookup(host, { all: true });
    return { check: `dns ${what}`, status: 'ok', message: `${host} resolves to ${addresses.map((a) => a.address).join(', ')}` };
  } catch (err) {
    return { check: `dns ${what}`, status: 'fail', message: `${host} does not resolve (${(err as Error).message})`, fix: 'use the IP address instead of the host name, or fix DNS / /etc/hosts on this host' };
  }
}

export function checkTcp(what: string, target: Target, fix: string): Promise<Finding> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = createConnection({ host: target.host, port: target.port });
    const done = (error?: string): void => {
      socket.destroy();
      resolve(
        error === undefined
          ? { check: `tcp ${what}`, status: 'ok', message: `${target.host}:${target.port} accepts connections (${Date.now() - started} ms)` }
          : { check: `tcp ${what}`, status: 'fail', message: `cannot open a TCP connection to ${target.host}:${target.port}: ${error}`, fix },
      );
    };
    socket.setTimeout(CHECK_TIMEOUT_MS, () => done(`no answer within ${CHECK_TIMEOUT_MS} ms (packets dropped: a firewall, a security group, or the wrong address)`));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'connection refused (nothing listens there, or a firewall rejects it)' : err.message));
    socket.once('connect', () => done());
  });
}

/** AUTH (from the URL) and PING, and Redis's clock. */
export async function checkRedis(url: string): Promise<{ finding: Finding; serverTimeMs?: number; atMs?: number }> {
  const { tls, ...target } = parseRedisUrl(url);
  const redis = new Redis({ ...target, ...(tls ? { tls: {} } : {}), lazyConnect: true, connectTimeout: CHECK_TIMEOUT_MS, commandTimeout: CHECK_TIMEOUT_MS, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  redis.on('error', () => undefined); // reported below, from the failed command
  try {
    await redis.connect();
    const t0 = Date.now();
    const [pong, time] = await Promise.all([redis.ping(), redis.time()]);
    const t1 = Date.now();
    const serverTimeMs = Number(time[0]) * 1_000 + Math.round(Number(time[1]) / 1_000);
    // Redis read its clock somewhere between t0 and t1: compare with the midpoint.
    return { finding: { check: 'redis ping', status: 'ok', message: `PING answered ${pong} (${t1 - t0} ms)` }, serverTimeMs, atMs: (t0 + t1) / 2 };
  } catch (err) {
    const text = (err as Error).message;
    const fix = /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(text)
      ? 'put the right user and password in REDIS_URL (redis://user:password@host:port)'
      : 'check that redis-server runs, listens on this address (bind), and that protected-mode or a firewall does not refuse this host';
    return { finding: { check: 'redis ping', status: 'fail', message: `Redis did not answer PING: ${text}`, fix } };
  } finally {
    redis.disconnect();
  }
}

export async function checkManager(managerUrl: string): Promise<{ finding: Finding; serverTimeMs?: number; atMs?: number }> {
  const url = `${managerUrl.replace(/\/$/, '')}/health`;
  try {
    const t0 = Date.now();
    const res = await request(url, { headersTimeout: CHECK_TIMEOUT_MS, bodyTimeout: CHECK_TIMEOUT_MS, signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    const body = (await res.body.json().catch(() => ({}))) as { status?: string; timestamp?: string };
    const t1 = Date.now();
    if (res.statusCode !== 200) {
      return { finding: { check: 'manager health', status: 'fail', message: `GET ${url} answered ${res.statusCode}`, fix: 'check the manager logs; is CENTRAL_MANAGER_URL the manager (port 8000 by default)?' } };
    }
    const serverTimeMs = body.timestamp === undefined ? undefined : Date.parse(body.timestamp);
    return { finding: { check: 'manager health', status: 'ok', message: `GET ${url}: ${body.status ?? 'ok'} (${t1 - t0} ms)` }, ...(serverTimeMs === undefined ? {} : { serverTimeMs, atMs: (t0 + t1) / 2 }) };
  } catch (err) {
    return {
      finding: {
        check: 'manager health',
        status: 'fail',
        message: `the manager at ${managerUrl} is unreachable: ${(err as Error).message}`,
        fix: 'check CENTRAL_MANAGER_URL, that `flotilla manager` runs there, and that no firewall between the hosts blocks its port',
      },
    };
  }
}

export function checkClock(what: string, serverTimeMs: number, localAtMs: number): Finding {
  const skew = Math.round(serverTimeMs - localAtMs);
  if (Math.abs(skew) <= CLOCK_SKEW_WARN_MS) return { check: `clock vs ${what}`, status: 'ok', message: `within ${Math.abs(skew)} ms` };
  return {
    check: `clock vs ${what}`,
    status: 'warn',
    message: `this host's clock is ${Math.abs(skew)} ms ${skew > 0 ? 'behind' : 'ahead of'} ${what}'s`,
    fix: 'run time synchronisation on every host (chrony or systemd-timesyncd; `timedatectl` shows whether it is on)',
  };
}

export async function checkExternalIp(address: string): Promise<Finding> {
  try {
    await assertLocalAddress(address);
    return { check: 'external ip', status: 'ok', message: `EXTERNAL_IP=${address} is an address of this host` };
  } catch (err) {
    if (!(err instanceof AddressNotLocalError)) throw err;
    return { check: 'external ip', status: 'fail', message: err.message, fix: 'set EXTERNAL_IP to the address of this host that the manager and the other hosts reach (`ip -brief addr`)' };
  }
}
