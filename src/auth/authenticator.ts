/**
 * The manager's authentication: the one `onRequest` hook that reads each route's `config.access`
 * and the caller's `Authorization: Bearer <token>` (a JWT, or a join token on the register route),
 * and answers 401 (no, bad, expired token, or one signed by a retired or unknown key), 403 (a role
 * that may not, or a container token acting for another container) or 429 (too many failures from
 * that address). The key directory is re-read when its files change (checked at most once per
 * KEY_RELOAD_INTERVAL_MS, on a request: no background loop), so `flotilla keys rotate` and
 * `flotilla join-token --rotate` take effect on a running manager.
 */
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import type { Logger } from '../common/logger.js';
import type { Access } from '../manager/access.js';
import { HttpError } from '../manager/errors.js';
import { AuthFailure } from './errors.js';
import { acceptedJoinTokens, clusterFingerprint, keyState, type KeyDir, type KeySet } from './key-dir.js';
import { looksLikeJoinToken, sameJoinToken } from './join-token.js';
import { FailureLimiter, type FailureLimiterSettings } from './rate-limit.js';
import { roleAllows } from './roles.js';
import { CLOCK_TOLERANCE_S, mintToken, publicJwks, verifyToken, type Principal } from './tokens.js';
import { clusterPeerProblem, peerNames } from '../tls/peer.js';

export const KEY_RELOAD_INTERVAL_MS = 1_000;
/** How long a container's token lives; it is renewed on heartbeats in its last third. */
export const DEFAULT_CONTAINER_TOKEN_TTL_MS = 24 * 3_600_000;
/**
 * Tokens already verified, kept until they expire: a dashboard or a CLI sends the same token again
 * and again, and an EdDSA check through WebCrypto costs far more than the request it guards.
 * Bounded; emptied whenever the key directory changes; expiry and retirement are checked on
 * every hit.
 */
export const VERIFIED_CACHE_SIZE = 1_000;
/** Longest accepted `Authorization` header: a JWT of ours is ~400 bytes. */
export const MAX_AUTHORIZATION_LENGTH = 4_096;

/** The token of an `Authorization: Bearer <token>` header, or AuthFailure saying what is wrong with it. */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header === '') throw new AuthFailure('missing_token', 'authentication required: send Authorization: Bearer <token>');
  if (header.length > MAX_AUTHORIZATION_LENGTH) throw new AuthFailure('invalid_token', 'the Authorization header is too long');
  const m = /^Bearer +([^\s]+)$/i.exec(header);
  if (m === null) throw new AuthFailure('invalid_token', 'the Authorization header must be "Bearer <token>"');
  return m[1]!;
}

/** Who is calling: a verified token's principal, a join token, or nobody (a public route). */
export type Caller = { kind: 'token'; principal: Principal } | { kind: 'join' };

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

export interface AuthenticatorOptions {
  keyDir: KeyDir;
  log: Logger;
  containerTokenTtlMs?: number;
  failures?: Partial<FailureLimiterSettings>;
  /** Called after a reload found the key directory changed (the manager records an event). */
  onKeysChanged?: (set: KeySet, previous: KeySet) => void;
}

export class ApiAuthenticator {
  private set: KeySet;
  private checkedAtMs = 0;
  private readonly limiter: FailureLimiter;
  private readonly verified = new Map<string, { principal: Principal; kid: string }>();
  readonly containerTokenTtlMs: number;
  /** TLS on: a container token counts only with that container's client certificate from the cluster CA. */
  private containerCertificates = false;

  constructor(private readonly o: AuthenticatorOptions) {
    this.set = o.keyDir.load();
    this.checkedAtMs = Date.now();
    this.limiter = new FailureLimiter(o.failures);
    this.containerTokenTtlMs = o.containerTokenTtlMs ?? DEFAULT_CONTAINER_TOKEN_TTL_MS;
  }

  /** The key set, re-read if the directory changed since the last look (at most once a second). */
  keys(nowMs: number = Date.now()): KeySet {
    if (nowMs - this.checkedAtMs < KEY_RELOAD_INTERVAL_MS) return this.set;
    this.checkedAtMs = nowMs;
    try {
      if (this.o.keyDir.version() === this.set.version) return this.set;
      const previous = this.set;
      this.set = this.o.keyDir.load();
      this.verified.clear();
      this.o.log.info({ keyDir: this.o.keyDir.path }, 'key directory changed: keys reloaded');
      this.o.onKeysChanged?.(this.set, previous);
    } catch (err) {
      // Keep verifying with what we had: a broken edit must not lock everyone out.
      this.o.log.warn({ err: (err as Error).message, keyDir: this.o.keyDir.path }, 'could not reload the key directory; keeping the keys loaded before');
    }
    return this.set;
  }

  /**
   * From now on a `container` token must come over a connection whose client certificate the
   * cluster CA issued to that same container (FLOTILLA_TLS=on): a stolen token alone is not enough.
   */
  requireContainerCertificates(): void {
    this.containerCertificates = true;
  }

  jwks(): JSONWebKeySet {
    return publicJwks(this.keys());
  }

  fingerprint(): string {
    return clusterFingerprint(this.keys());
  }

  issueContainerToken(containerId: string): Promise<{ token: string; expiresAt: Date }> {
    return mintToken(this.keys(), { sub: `container:${containerId}`, role: 'container', cid: containerId, ttlMs: this.containerTokenTtlMs });
  }

  /** True when a container token is in the last third of its life: the heartbeat hands a new one. */
  needsRenewal(principal: Principal, nowMs: number = Date.now()): boolean {
    return principal.exp * 1_000 - nowMs < this.containerTokenTtlMs / 3;
  }

  readonly hook: onRequestHookHandler = async (req: FastifyRequest, reply: FastifyReply) => {
    req.caller = null;
    const access: Access | undefined = req.routeOptions.config?.access;
    // No route (404) or an open one: nothing to check.
    if (access === undefined || access === 'public') return;
    const source = req.ip;
    const waitMs = this.limiter.retryAfterMs(source);
    if (waitMs > 0) {
      void reply.header('retry-after', String(Math.ceil(waitMs / 1_000)));
      throw new HttpError(429, 'too_many_auth_failures', `too many failed authentications from ${source}; retry in ${Math.ceil(waitMs / 1_000)} s`);
    }
    try {
      req.caller = await this.authenticate(req, access);
    } catch (err) {
      if (!(err instanceof AuthFailure)) throw err;
      if (err.statusCode === 401) {
        this.limiter.failed(source);
        void reply.header('www-authenticate', 'Bearer realm="flotilla"');
      } else {
        req.log.warn({ route: req.routeOptions.url, method: req.method }, `refused: ${err.message}`);
      }
      throw new HttpError(err.statusCode, err.code, err.message, undefined, { cause: err });
    }
  };

  private async verify(set: KeySet, token: string): Promise<Principal> {
    const nowMs = Date.now();
    const hit = this.verified.get(token);
    if (hit !== undefined) {
      const key = set.signing.find((k) => k.kid === hit.kid);
      const revoked = hit.principal.jti !== undefined && set.revoked.has(hit.principal.jti);
      if (key !== undefined && keyState(key, nowMs) !== 'retired' && !revoked && hit.principal.exp * 1_000 + CLOCK_TOLERANCE_S * 1_000 > nowMs) return hit.principal;
      this.verified.delete(token);
    }
    // Refusals are not cached: verifyToken says exactly why (expired, retired, revoked, unknown key).
    const principal = await verifyToken(set, token, nowMs);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(token, { principal, kid: decodeProtectedHeader(token).kid ?? '' });
    return principal;
  }

  private async authenticate(req: FastifyRequest, access: Exclude<Access, 'public'>): Promise<Caller> {
    const token = bearerToken(req.headers.authorization);
    const set = this.keys();
    if (looksLikeJoinToken(token)) {
      // During a CA rotation the token naming the previous CA (same secret) admits too.
      if (!acceptedJoinTokens(set).some((t) => sameJoinToken(token, t))) throw new AuthFailure('invalid_join_token', 'the join token is not the current one: get it with `flotilla join-token` on the manager');
      if (access !== 'join') throw new AuthFailure('forbidden', 'a join token only registers a container');
      return { kind: 'join' };
    }
    const principal = await this.verify(set, token);
    if (!roleAllows(principal.role, access)) {
      throw new AuthFailure('forbidden', `role ${principal.role} may not ${req.method} ${req.routeOptions.url ?? req.url} (needs ${access})`);
    }
    if (principal.role === 'container' && this.containerCertificates) this.checkContainerCertificate(req, principal.cid);
    if (principal.role === 'container' && access === 'container') {
      const id = (req.params as { id?: unknown } | undefined)?.id;
      if (id !== principal.cid) throw new AuthFailure('forbidden', `this token acts for container ${JSON.stringify(principal.cid)} only`);
    }
    return { kind: 'token', principal };
  }

  private checkContainerCertificate(req: FastifyRequest, cid: string | undefined): void {
    const problem = clusterPeerProblem(req.raw.socket);
    if (problem !== null) throw new AuthFailure(problem.code, `a container token needs the container's client certificate: ${problem.message}`);
    const names = peerNames(req.raw.socket);
    if (cid === undefined || !names.includes(cid)) {
      throw new AuthFailure('forbidden', `the client certificate names ${JSON.stringify(names[0] ?? '')}, not container ${JSON.stringify(cid ?? '')}: a container calls with its own certificate`);
    }
  }
}
