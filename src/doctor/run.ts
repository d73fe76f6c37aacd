/** Runs every check that the environment allows, in the order a person would. */
import type { Env } from '../common/env.js';
import { parseRedisUrl } from '../store/index.js';
import { checkClock, checkExternalIp, checkManager, checkRedis, checkResolves, checkTcp } from './checks.js';
import type { Finding } from './findings.js';

export async function runDoctor(env: Env): Promise<Finding[]> {
  const findings: Finding[] = [];
  const redisUrl = env.REDIS_URL;
  const managerUrl = env.CENTRAL_MANAGER_URL;
  const externalIp = env.EXTERNAL_IP;

  if (redisUrl === undefined || redisUrl === '') {
    findings.push({ check: 'redis', status: 'warn', message: 'REDIS_URL is not set', fix: 'set REDIS_URL=redis://<redis host>:6379: without it a container hosts no agents' });
  } else {
    let target: { host: string; port: number } | undefined;
    try {
      const parsed = parseRedisUrl(redisUrl);
      target = { host: parsed.host ?? '', port: parsed.port ?? 6379 };
    } catch (err) {
      findings.push({ check: 'redis', status: 'fail', message: (err as Error).message, fix: 'fix REDIS_URL' });
    }
    if (target) {
      findings.push(await checkResolves('redis', target.host));
      const tcp = await checkTcp('redis', target, `open port ${target.port} from this host to ${target.host} (firewall rules on both hosts: \`iptables -S\`, nft, security groups) and make redis-server listen on that address (bind)`);
      findings.push(tcp);
      if (tcp.status === 'ok') {
        const redis = await checkRedis(redisUrl);
        findings.push(redis.finding);
        if (redis.serverTimeMs !== undefined && redis.atMs !== undefined) findings.push(checkClock('Redis', redis.serverTimeMs, redis.atMs));
      }
    }
  }

  if (managerUrl === undefined || managerUrl === '') {
    findings.push({ check: 'manager', status: 'fail', message: 'CENTRAL_MANAGER_URL is not set', fix: 'set CENTRAL_MANAGER_URL=http://<manager host>:8000' });
  } else {
    let url: URL | undefined;
    try {
      url = new URL(managerUrl);
    } catch {
      findings.push({ check: 'manager', status: 'fail', message: `CENTRAL_MANAGER_URL ${JSON.stringify(managerUrl)} is not a URL`, fix: 'set CENTRAL_MANAGER_URL=http://<manager host>:8000' });
    }
    if (url) {
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      findings.push(await checkResolves('manager', host));
      const manager = await checkManager(managerUrl);
      findings.push(manager.finding);
      if (manager.serverTimeMs !== undefined && manager.atMs !== undefined) findings.push(checkClock('the manager', manager.serverTimeMs, manager.atMs));
    }
  }

  if (externalIp === undefined || externalIp === '') {
    findings.push({ check: 'external ip', status: 'warn', message: 'EXTERNAL_IP is not set: a container advertises its first non-internal IPv4', fix: 'set EXTERNAL_IP to the address the other hosts reach this one at' });
  } else {
    findings.push(await checkExternalIp(externalIp));
  }
  return findings;
}
