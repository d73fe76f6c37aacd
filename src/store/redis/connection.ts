/**
 * Opening a Redis connection from `REDIS_URL`, with options chosen so that a call fails fast
 * (StoreUnavailableError) when Redis is down rather than hanging, while the connection keeps
 * reconnecting in the background and recovers on its own when Redis comes back.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { StoreError, StoreUnavailableError } from '../store.js';

export const DEFAULT_REDIS_PORT = 6379;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Bounds every command, including one sent to a Redis that accepts connections but hangs. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
/** Reconnect attempts a queued command waits through before it fails. */
export const MAX_RETRIES_PER_REQUEST = 2;
export const RECONNECT_BASE_DELAY_MS = 50;
export const RECONNECT_MAX_DELAY_MS = 1_000;

const REDIS_URL_FORM = 'redis://[user:password@]host[:port][/db] or rediss://… for TLS';

export interface ConnectRedisOptions {
  connectTimeoutMs?: number;
  /**
   * Per-command timeout; 0 turns it off. A connection used for blocking reads (XREAD BLOCK)
   * needs it off or longer than its longest block.
   */
  commandTimeoutMs?: number;
  /** Client name shown by CLIENT LIST, to tell the cluster's connections apart. */
  name?: string;
  /** PEM file of the CA that signed the Redis server certificate (rediss:// only). */
  tlsCaFile?: string;
}

/** The connection settings in a Redis URL; throws StoreError with a clear message for a bad one. */
export function parseRedisUrl(url: string): Pick<RedisOptions, 'host' | 'port' | 'username' | 'password' | 'db'> & { tls: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new StoreError(`REDIS_URL ${JSON.stringify(redact(url))} is not a valid URL: expected ${REDIS_URL_FORM}`, { cause: err });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new StoreError(`REDIS_URL must start with redis:// or rediss:// (got ${JSON.stringify(parsed.protocol + '//')}): expected ${REDIS_URL_FORM}`);
  }
  // URL keeps the brackets of an IPv6 literal; the socket wants the bare address.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new StoreError(`REDIS_URL has no host: expected ${REDIS_URL_FORM}`);
  const port = parsed.port === '' ? DEFAULT_REDIS_PORT : Number(parsed.port);
  const dbText = parsed.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,5}$/.test(dbText)) {
    throw new StoreError(`REDIS_URL database ${JSON.stringify(dbText)} is not a number: expected ${REDIS_URL_FORM}`);
  }
  return {
    host,
    port,
    username: parsed.username === '' ? undefined : decodeURIComponent(parsed.username),
    password: parsed.password === '' ? undefined : decodeURIComponent(parsed.password),
    db: dbText === '' ? 0 : Number(dbText),
    tls: parsed.protocol === 'rediss:',
  };
}

export function connectRedis(url: string, opts: ConnectRedisOptions = {}): Redis {
  const { tls, ...target } = parseRedisUrl(url);
  if (opts.tlsCaFile !== undefined && !tls) {
    throw new StoreError('a Redis CA file was given but REDIS_URL is not rediss://: use rediss:// to connect over TLS');
  }
  const commandTimeout = opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return new Redis({
    ...target,
    tls: tls ? tlsOptions(target.host ?? '', opts.tlsCaFile) : undefined,
    connectionName: opts.name,
    connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    commandTimeout: commandTimeout > 0 ? commandTimeout : undefined,
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    // Commands issued while reconnecting wait for the connection (bounded by the retries above).
    enableOfflineQueue: true,
    // Never give up: a manager or container must recover by itself when Redis returns.
    retryStrategy: (attempt) => Math.min(RECONNECT_BASE_DELAY_MS * 2 ** (attempt - 1), RECONNECT_MAX_DELAY_MS),
    lazyConnect: false,
  });
}

/**
 * A second connection to the same Redis, for blocking reads (XREAD BLOCK): the same settings but
 * no per-command timeout (as `commandTimeoutMs: 0`), since a block may outlast it, and a blocked
 * connection serves nothing else, which is why blocking reads never share the store's connection.
 * The caller bounds each read itself (messaging/blocking-pool.ts).
 */
export function duplicateForBlocking(redis: Redis): Redis {
  const name = redis.options.connectionName;
  return redis.duplicate({
    commandTimeout: undefined,
    connectionName: name === undefined || name === '' ? undefined : `${name}-blocking`,
    lazyConnect: false,
  });
}

/** Resolves once `redis` is ready for commands; StoreUnavailableError after `timeoutMs`. */
export async function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  const where = `${redis.options.host ?? '?'}:${redis.options.port ?? '?'}`;
  if (redis.status === 'end') throw new StoreUnavailableError(`the connection to Redis at ${where} is closed`);
  await new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined;
    const onError = (err: Error): void => {
      lastError = err;
    };
    const finish = (err?: StoreUnavailableError): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      redis.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = (): void => finish();
    const onEnd = (): void => finish(new StoreUnavailableError(`the connection to Redis at ${where} was closed while waiting for it`, { cause: lastError }));
    const timer = setTimeout(() => {
      const why = lastError ? `: ${lastError.message}` : '';
      finish(new StoreUnavailableError(`Redis at ${where} did not become ready within ${timeoutMs} ms${why}`, { cause: lastError }));
    }, timeoutMs);
    redis.on('ready', onReady);
    redis.on('error', onError);
    redis.on('end', onEnd);
  });
}

function tlsOptions(host: string, caFile: string | undefined): RedisOptions['tls'] {
  let ca: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new StoreError(`cannot read the Redis CA file ${caFile}`, { cause: err });
    }
  }
  // SNI takes a host name, never an IP address.
  return { ca, servername: isIP(host) === 0 ? host : undefined };
}

/** The URL without its credentials, for error messages. */
function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** How long a starting process waits to learn whether Redis takes its credentials and certificate. */
export const STARTUP_CHECK_MS = 5_000;

/** Redis answered, and refused who we are (password, ACL user) or how we connect (TLS). Retrying cannot fix it. */
export class StoreCredentialsError extends StoreError {
  override readonly name = 'StoreCredentialsError';
}

const AUTH_REFUSAL = /WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username/i;
const TLS_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/**
 * At start-up: resolves once Redis is ready, or as soon as it turns out to be merely unreachable
 * (a process starts anyway and recovers when Redis comes up), or after `timeoutMs`; rejects with
 * StoreCredentialsError when Redis refuses the credentials or the TLS handshake fails, which no
 * retry can fix, so the process can say so and exit.
 */
export async function checkRedisAtStart(redis: Redis, url: string, timeoutMs: number = STARTUP_CHECK_MS): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onReady = (): void => done();
    const onError = (err: NodeJS.ErrnoException): void => {
      if (AUTH_REFUSAL.test(err.message)) {
        done(new StoreCredentialsError(`Redis at ${redact(url)} refused the credentials (${err.message.split('\n')[0]}): check the user and password in REDIS_URL`, { cause: err }));
      } else if (err.code !== undefined && TLS_CODES.has(err.code)) {
        done(new StoreCredentialsError(`TLS to Redis at ${redact(url)} failed (${err.code}: ${err.message}): give the CA that signed its certificate in FLOTILLA_REDIS_CA_FILE, and use the host name or IP the certificate names`, { cause: err }));
      } else {
        done();
      }
    };
    const timer = setTimeout(() => done(), timeoutMs);
    redis.on('ready', onReady);
    redis.on('error', onError);
  });
}
