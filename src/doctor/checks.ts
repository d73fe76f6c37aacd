/**
 * The checks of `flotilla doctor`, run on an agent host with the environment its container would
 * have. Each says what it found and what to do; a failed check does not stop the others, except
 * that a check that needs what failed is skipped (no Redis: no clock check against Redis).
 *
 * Traffic goes only to the addresses the environment names (Redis, the manager) and, through the
 * manager, back to this host's EXTERNAL_IP.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Agent, request, type Dispatcher } from 'undici';
import { parseJoinToken } from '../auth/join-token.js';
import { ApiClient, ApiError } from '../client/api-client.js';
import { assertLocalAddress, describeNetworkError } from '../common/network.js';
import { VERSION } from '../common/version.js';
import { PATHS } from '../protocol/paths.js';
import type { ProbeResult } from '../protocol/observability-api.js';
import { parseRedisUrl } from '../store/redis/connection.js';
import { clockSkew, skewTooLarge, CLOCK_SKEW_WARN_MS } from './clock.js';
import { fail, ok, skip, warn, type Finding } from './finding.js';

export const DOCTOR_TIMEOUT_MS = 3_000;

export interface DoctorInput {
  managerUrl: string | undefined;
  redisUrl: string | undefined;
  externalIp: string | undefined;
  agentPort: number;
  /** Where the temporary /ping listens (the container's FLOTILLA_BIND_ADDRESS). */
  bindAddress: string;
  token: string | undefined;
  /** `off`: NAT or a load balancer in front, EXTERNAL_IP is not expected to be local. */
  externalIpCheck: 'on' | 'off' | 'auto';
  timeoutMs: number;
  /** An https manager: the CA to trust (FLOTILLA_CA_FILE or FLOTILLA_TLS_CA, read)... */
  caPem?: string;
  /** ...or the join token, whose fingerprint checks the CA the manager sends (as a container does). */
  joinToken?: string;
  /** Set by runDoctor for an https manager once its CA is trusted: the checks call through it. */
  dispatcher?: Dispatcher;
}

const isHttps = (url: string | undefined): boolean => url?.startsWith('https:') === true;

/**
 * The trust for an https manager, as the container would have it: the CA file if given, else the
 * CA the manager sends, checked against the join token's fingerprint. A finding when neither works.
 */
export async function checkManagerTls(input: DoctorInput): Promise<{ dispatcher: Dispatcher; finding: Finding } | { dispatcher: null; finding: Finding }> {
  const url = input.managerUrl ?? '';
  if (input.caPem !== undefined) return { dispatcher: new Agent({ connect: { ca: input.caPem } }), finding: ok('manager.tls', 'https: trusting the CA file given (FLOTILLA_CA_FILE / FLOTILLA_TLS_CA)') };
  const expected = input.joinToken === undefined ? undefined : parseJoinToken(input.joinToken)?.fingerprint;
  if (expected === undefined) {
    return { dispatcher: null, finding: fail('manager.tls', `${url} is https, and there is no CA to trust it with`, 'set FLOTILLA_JOIN_TOKEN (its fingerprint checks the cluster CA) or FLOTILLA_CA_FILE (the ca-cert.pem of the manager\'s key directory)') };
  }
  const { fetchClusterTrust, pickClusterCa } = await import('../tls/container-tls.js');
  try {
    // During a CA rotation the token may name the previous CA, which the manager still sends.
    const pem = pickClusterCa(await fetchClusterTrust(url, undefined, input.timeoutMs), expected, url);
    return { dispatcher: new Agent({ connect: { ca: pem } }), finding: ok('manager.tls', "https: the manager's cluster CA matches the join token's fingerprint") };
  } catch (err) {
    return { dispatcher: null, finding: fail('manager.tls', (err as Error).message, 'check CENTRAL_MANAGER_URL and FLOTILLA_JOIN_TOKEN (`flotilla join-token` on the manager)') };
  }
}

const ms = (v: number): string => `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;

function tcpReach(host: string, port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(performance.now() - started);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

/** Redis: the port answers, the credentials work, and this host's clock agrees with Redis's. */
export async function checkRedis(input: DoctorInput): Promise<Finding[]> {
  if (input.redisUrl === undefined) {
    return [warn('redis.reach', 'REDIS_URL is not set: a container without it renews its lease over HTTP and hosts no agents', 'set REDIS_URL=redis://[:password@]<redis host>:6379 on agent hosts that should run agents')];
  }
  let target: ReturnType<typeof parseRedisUrl>;
  try {
    target = parseRedisUrl(input.redisUrl);
  } catch (err) {
    return [fail('redis.reach', (err as Error).message, 'fix REDIS_URL: redis://[:password@]<host>:6379[/db]')];
  }
  const where = `${target.host}:${target.port}`;
  const findings: Finding[] = [];
  try {
    const rtt = await tcpReach(target.host!, target.port!, input.timeoutMs);
    findings.push(ok('redis.reach', `TCP ${where} answers (${ms(rtt)})`));
  } catch (err) {
    return [
      fail(
        'redis.reach',
        `cannot reach Redis at ${where}: ${describeNetworkError(err, input.timeoutMs)}`,
        `check that redis-server runs on ${target.host} and listens on its external address (bind), and open TCP ${target.port} from this host to ${target.host} in every firewall on the way (e.g. ufw allow from <this host> to any port ${target.port})`,
      ),
      skip('redis.auth', 'skipped: Redis is not reachable'),
      skip('clock.redis', 'skipped: Redis is not reachable'),
    ];
  }
  const redis = new Redis({
    ...target,
    tls: target.tls ? { servername: target.host } : undefined,
    connectTimeout: input.timeoutMs,
    commandTimeout: input.timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
    connectionName: 'flotilla-doctor',
  });
  // AUTH runs inside connect(): a refused password arrives as an 'error' event, then the close.
  let connectionError: Error | undefined;
  redis.on('error', (err: Error) => (connectionError = err));
  try {
    await redis.connect();
    const started = performance.now();
    await redis.ping();
    findings.push(ok('redis.auth', `PING answered (${ms(performance.now() - started)})${target.password === undefined ? '' : ' with the password from REDIS_URL'}`));
    const sentAt = Date.now();
    const [seconds, micros] = await redis.time();
    const receivedAt = Date.now();
    const { skewMs, uncertaintyMs } = clockSkew(Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000), sentAt, receivedAt);
    findings.push(
      skewTooLarge(skewMs, uncertaintyMs)
        ? warn(
            'clock.redis',
            `this host's clock is ${Math.abs(skewMs)} ms ${skewMs > 0 ? 'behind' : 'ahead of'} Redis's (± ${uncertaintyMs} ms)`,
            `leases use Redis's clock and stay safe, but log times and token expiry use this one: run a time sync (chrony or systemd-timesyncd) on every host; warning above ${CLOCK_SKEW_WARN_MS} ms`,
          )
        : ok('clock.redis', `within ${CLOCK_SKEW_WARN_MS} ms of Redis's clock (skew ${skewMs} ms ± ${uncertaintyMs} ms)`),
    );
  } catch (err) {
    const message = connectionError !== undefined && /WRONGPASS|NOAUTH|invalid password|invalid username/i.test(connectionError.message) ? connectionError.message : (err as Error).message;
    const auth = /WRONGPASS|NOAUTH|invalid password|invalid username/i.test(message);
    findings.push(
      fail(
        'redis.auth',
        auth ? `Redis at ${where} refused the credentials: ${message}` : `Redis at ${where} accepted the connection but did not answer PING: ${message}`,
        auth ? 'put the right password in REDIS_URL (redis://:PASSWORD@host:6379, or redis://USER:PASSWORD@… for an ACL user); URL-encode special characters' : 'is it really Redis on that port (TLS needs rediss://)? check the Redis log',
      ),
      skip('clock.redis', 'skipped: Redis did not answer'),
    );
  } finally {
    redis.disconnect();
  }
  return findings;
}

/** The manager: `/health` answers, its version, and its clock. */
export async function checkManager(input: DoctorInput): Promise<Finding[]> {
  if (input.managerUrl === undefined) {
    return [fail('manager.reach', 'CENTRAL_MANAGER_URL is not set', 'set CENTRAL_MANAGER_URL=http://<manager host>:8000'), skip('clock.manager', 'skipped: no manager URL')];
  }
  const url = `${input.managerUrl.replace(/\/+$/, '')}${PATHS.health}`;
  const sentAt = Date.now();
  const started = performance.now();
  let body: { status?: unknown; version?: unknown; timestamp?: unknown };
  let status: number;
  try {
    const res = await request(url, { ...(input.dispatcher === undefined ? {} : { dispatcher: input.dispatcher }), signal: AbortSignal.timeout(input.timeoutMs), headersTimeout: input.timeoutMs, bodyTimeout: input.timeoutMs });
    status = res.statusCode;
    body = (await res.body.json().catch(() => ({}))) as typeof body;
  } catch (err) {
    const host = new URL(input.managerUrl).host;
    return [
      fail(
        'manager.reach',
        `cannot reach the manager at ${input.managerUrl}: ${describeNetworkError(err, input.timeoutMs)}`,
        `check that the manager runs and listens on its external address (FLOTILLA_BIND_ADDRESS, CLUSTER_PORT), that CENTRAL_MANAGER_URL names an address this host reaches, and open TCP ${host.split(':').pop() ?? '8000'} from this host to the manager host`,
      ),
      skip('clock.manager', 'skipped: the manager is not reachable'),
    ];
  }
  const receivedAt = Date.now();
  const rtt = performance.now() - started;
  if (status !== 200 || body.status === undefined) {
    return [
      fail('manager.reach', `${url} answered ${status} without a Flotilla health body: something else listens there`, 'point CENTRAL_MANAGER_URL at the Flotilla manager (http://<manager host>:8000)'),
      skip('clock.manager', 'skipped: not a Flotilla manager'),
    ];
  }
  const findings: Finding[] = [];
  const version = typeof body.version === 'string' ? body.version : 'unknown';
  findings.push(
    version === VERSION
      ? ok('manager.reach', `${input.managerUrl} is a Flotilla manager, version ${version} (${ms(rtt)})`)
      : warn('manager.reach', `${input.managerUrl} answers, but runs version ${version} and this host ${VERSION}`, 'run the same Flotilla version on the manager and every agent host'),
  );
  const remote = typeof body.timestamp === 'string' ? Date.parse(body.timestamp) : NaN;
  if (Number.isNaN(remote)) {
    findings.push(skip('clock.manager', 'skipped: the manager sent no timestamp'));
  } else {
    const { skewMs, uncertaintyMs } = clockSkew(remote, sentAt, receivedAt);
    findings.push(
      skewTooLarge(skewMs, uncertaintyMs)
        ? warn('clock.manager', `this host's clock is ${Math.abs(skewMs)} ms ${skewMs > 0 ? 'behind' : 'ahead of'} the manager's (± ${uncertaintyMs} ms)`, 'run a time sync (chrony or systemd-timesyncd) on every host: tokens and log times depend on it')
        : ok('clock.manager', `within ${CLOCK_SKEW_WARN_MS} ms of the manager's clock (skew ${skewMs} ms ± ${uncertaintyMs} ms)`),
    );
  }
  return findings;
}

/**
 * A /ping answering with a nonce, for the manager to find while the container is not running;
 * over https (a self-signed stand-in: the manager's probe reports reachability, not trust) when
 * the manager is https, since a manager with TLS on probes with https.
 */
async function tempPing(host: string, port: number, nonce: string, https: boolean): Promise<Server | null> {
  const handler = (req: { url?: string | undefined }, res: { writeHead: (s: number, h: Record<string, string>) => { end: (b: string) => void } }) => {
    const body = req.url?.split('?')[0] === '/ping' ? JSON.stringify({ pong: true, doctor: true, nonce }) : '{"error":"not_found"}';
    res.writeHead(req.url?.split('?')[0] === '/ping' ? 200 : 404, { 'content-type': 'application/json' }).end(body);
  };
  let server: Server;
  if (https) {
    const { selfSigned } = await import('../tls/x509.js');
    const standIn = await selfSigned('flotilla-doctor');
    server = createHttpsServer({ key: standIn.keyPem, cert: standIn.certPem }, handler) as unknown as Server;
  } else {
    server = createServer(handler);
  }
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(null) : reject(err)));
    server.listen(port, host, () => resolve(server));
  });
}

/**
 * EXTERNAL_IP: an address of this host, and the one the manager reaches it at. The manager is
 * asked to GET http://EXTERNAL_IP:AGENT_PORT/ping: the running container's, or a temporary one
 * served here for the check (with a nonce, so a different host answering is caught).
 */
export async function checkExternalIp(input: DoctorInput, managerReachable: boolean): Promise<Finding[]> {
  const ip = input.externalIp;
  if (ip === undefined) {
    return [fail('external_ip.local', 'EXTERNAL_IP is not set: the container would guess an address, which other hosts may not reach', 'set EXTERNAL_IP to the address of this host that the manager and the other agent hosts reach (see `ip -brief addr`)'), skip('external_ip.reach_back', 'skipped: no EXTERNAL_IP')];
  }
  const findings: Finding[] = [];
  if (input.externalIpCheck !== 'off') {
    try {
      await assertLocalAddress(ip);
      findings.push(ok('external_ip.local', `EXTERNAL_IP=${ip} is an address of this host`));
    } catch (err) {
      return [fail('external_ip.local', (err as Error).message, 'set EXTERNAL_IP to an address of this machine (`ip -brief addr`); behind NAT or a load balancer set FLOTILLA_EXTERNAL_IP_CHECK=off'), skip('external_ip.reach_back', 'skipped: EXTERNAL_IP is not an address of this host')];
    }
  } else {
    findings.push(skip('external_ip.local', 'FLOTILLA_EXTERNAL_IP_CHECK=off: not checked'));
  }
  if (!managerReachable || input.managerUrl === undefined) {
    findings.push(skip('external_ip.reach_back', 'skipped: the manager is not reachable'));
    return findings;
  }
  const nonce = randomBytes(12).toString('hex');
  let server: Server | null;
  try {
    server = await tempPing(input.bindAddress, input.agentPort, nonce, isHttps(input.managerUrl));
  } catch (err) {
    findings.push(skip('external_ip.reach_back', `skipped: could not listen on ${input.bindAddress}:${input.agentPort} for the check: ${(err as Error).message}`));
    return findings;
  }
  const where = `${ip}:${input.agentPort}`;
  try {
    const client = new ApiClient({
      baseUrl: input.managerUrl,
      timeoutMs: input.timeoutMs + 2_000,
      ...(input.token === undefined ? {} : { token: input.token }),
      ...(input.dispatcher === undefined ? {} : { dispatcher: input.dispatcher }),
    });
    let probe: ProbeResult;
    try {
      probe = await client.probe(ip, input.agentPort);
    } catch (err) {
      if (err instanceof ApiError && (err.statusCode === 401 || err.statusCode === 403)) {
        findings.push(skip('external_ip.reach_back', `skipped: the manager wants a token with the operator role for its reach-back probe (${err.statusCode}); set FLOTILLA_TOKEN`));
      } else if (err instanceof ApiError && err.statusCode === 404) {
        findings.push(skip('external_ip.reach_back', 'skipped: this manager has no reach-back probe (an older version)'));
      } else {
        findings.push(skip('external_ip.reach_back', `skipped: the manager's probe failed: ${(err as Error).message}`));
      }
      return findings;
    }
    const mine = server === null ? probe.flotilla : probe.nonce === nonce;
    const serving = server === null ? 'the container running here' : 'a temporary /ping of this check';
    if (probe.reachable && mine) {
      findings.push(ok('external_ip.reach_back', `the manager reaches this host at ${where} (${serving}, ${ms(probe.rtt_ms ?? 0)} from the manager)`));
    } else if (!probe.reachable) {
      findings.push(
        fail(
          'external_ip.reach_back',
          `the manager cannot reach this host at ${where}: ${probe.error ?? 'no answer'}`,
          `set EXTERNAL_IP to the address the manager host reaches this host at, and open TCP ${input.agentPort} from the manager host to this one (firewall, security group); AGENT_PORT must be published if the container runs in Docker`,
        ),
      );
    } else {
      findings.push(
        fail(
          'external_ip.reach_back',
          `the manager reached ${where}, but ${server === null ? `what answers there is not a Flotilla container (HTTP ${probe.status_code})` : 'a different host answered (not this check\'s /ping)'}`,
          `EXTERNAL_IP points at another machine, or a NAT rule forwards ${input.agentPort} elsewhere: set EXTERNAL_IP to this host's own address, or free AGENT_PORT for the container`,
        ),
      );
    }
  } finally {
    await new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve())));
  }
  return findings;
}

/** Every check, in order. */
export async function runDoctor(input: DoctorInput): Promise<Finding[]> {
  const tls = isHttps(input.managerUrl) ? await checkManagerTls(input) : null;
  if (tls?.dispatcher === null) {
    const redis = await checkRedis(input);
    return [...redis, tls.finding, skip('manager.reach', 'skipped: the manager\'s TLS is not trusted'), skip('clock.manager', 'skipped: the manager\'s TLS is not trusted'), skip('external_ip.reach_back', 'skipped: the manager\'s TLS is not trusted')];
  }
  const checked: DoctorInput = tls === null ? input : { ...input, dispatcher: tls.dispatcher };
  try {
    const [redis, manager] = await Promise.all([checkRedis(checked), checkManager(checked)]);
    const managerReachable = manager.some((f) => f.check === 'manager.reach' && f.status !== 'fail');
    const external = await checkExternalIp(checked, managerReachable);
    return [...redis, ...(tls === null ? [] : [tls.finding]), ...manager, ...external];
  } finally {
    await (tls?.dispatcher as Agent | undefined)?.close();
  }
}
