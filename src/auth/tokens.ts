/**
 * API tokens: JWTs signed with the key directory's signing key (EdDSA, Ed25519), verified against
 * its signing and verify-only keys. Claims: `sub` (who), `role` (admin | operator | viewer |
 * container), `cid` (a container token's container id), `iat`, `exp`, `jti`, `iss`.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWK } from 'jose';
import { AuthFailure, KeyDirError } from './errors.js';
import { activeSigningKey, keyState, privateKeyOf, SIGNING_ALG, type KeySet } from './key-dir.js';
import { isRole, type Role } from './roles.js';
import { isSafeName } from '../protocol/names.js';

export const TOKEN_ISSUER = 'flotilla';
/** Tolerated clock difference between the host that minted a token and the one checking it. */
export const CLOCK_TOLERANCE_S = 30;

/** Who is calling, as a verified token says. */
export interface Principal {
  sub: string;
  role: Role;
  /** A container token's container id. */
  cid?: string;
  /** Seconds since the epoch. */
  exp: number;
  /** The token's id (`flotilla token revoke` names it); tokens made by other tools may have none. */
  jti?: string;
}

export interface MintRequest {
  sub: string;
  role: Role;
  ttlMs: number;
  cid?: string;
}

export async function mintToken(set: KeySet, req: MintRequest, nowMs: number = Date.now()): Promise<{ token: string; expiresAt: Date; kid: string; jti: string }> {
  const key = activeSigningKey(set, nowMs);
  if (req.ttlMs > key.max_ttl_ms) {
    throw new KeyDirError(`a token may live at most ${Math.round(key.max_ttl_ms / 1_000)} s with the current key (asked ${Math.round(req.ttlMs / 1_000)} s); rotate with --max-ttl for longer`);
  }
  if (req.role === 'container' && req.cid === undefined) throw new KeyDirError('a container token needs the container id (cid)');
  const iat = Math.floor(nowMs / 1_000);
  const exp = iat + Math.max(1, Math.round(req.ttlMs / 1_000));
  const jti = randomUUID();
  const token = await new SignJWT({ role: req.role, ...(req.cid === undefined ? {} : { cid: req.cid }) })
    .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: 'JWT' })
    .setSubject(req.sub)
    .setIssuer(TOKEN_ISSUER)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(privateKeyOf(key));
  return { token, expiresAt: new Date(exp * 1_000), kid: key.kid, jti };
}

/** The JWKS member that lists revoked token ids (RFC 7517 lets a set carry members of its own). */
export const REVOKED_MEMBER = 'flotilla_revoked';

/**
 * The public keys that verify tokens now (signing and verify-only), as published at
 * /.well-known/jwks.json, with the ids of revoked tokens that have not expired yet, so that hosts
 * without the key directory (containers) refuse them too.
 */
export function publicJwks(set: KeySet, nowMs: number = Date.now()): JSONWebKeySet & { [REVOKED_MEMBER]: string[] } {
  return {
    keys: set.signing.filter((k) => keyState(k, nowMs) !== 'retired').map((k) => ({ ...k.public_jwk }) as JWK),
    [REVOKED_MEMBER]: [...set.revoked],
  };
}

/**
 * One verifier per key set (imported keys are cached inside it): built from every key of the set,
 * since a retired key is refused by name before the signature is checked.
 */
const verifiers = new WeakMap<KeySet, ReturnType<typeof createLocalJWKSet>>();
function verifierOf(set: KeySet): ReturnType<typeof createLocalJWKSet> {
  let v = verifiers.get(set);
  if (v === undefined) {
    v = createLocalJWKSet({ keys: set.signing.map((k) => ({ ...k.public_jwk }) as JWK) });
    verifiers.set(set, v);
  }
  return v;
}

/** A verified principal, or AuthFailure saying why not (never a stack, never the token back). */
export async function verifyToken(set: KeySet, token: string, nowMs: number = Date.now()): Promise<Principal> {
  const kid = keyIdOf(token);
  const key = set.signing.find((k) => k.kid === kid);
  if (key === undefined) throw new AuthFailure('invalid_token', 'the token was not signed by this cluster (unknown key id)');
  if (keyState(key, nowMs) === 'retired') throw new AuthFailure('key_retired', 'the token was signed by a retired key; get a new token');
  return notRevoked(await checkSignatureAndClaims(token, verifierOf(set), nowMs), set.revoked);
}

/** The principal, unless its token was revoked. */
export function notRevoked(principal: Principal, revoked: ReadonlySet<string>): Principal {
  if (principal.jti !== undefined && revoked.has(principal.jti)) throw new AuthFailure('token_revoked', 'the token was revoked (flotilla token revoke); get a new one');
  return principal;
}

/**
 * The same check against the public keys a manager publishes (`/.well-known/jwks.json`), for a
 * host without the key directory (a container checking callers of its own port). A retired key is
 * no longer published, so its tokens are refused as unknown.
 */
export async function verifyTokenWithJwks(jwks: JSONWebKeySet, token: string, nowMs: number = Date.now()): Promise<Principal> {
  const kid = keyIdOf(token);
  if (!jwks.keys.some((k) => k.kid === kid)) throw new AuthFailure('invalid_token', 'the token was not signed by this cluster, or its key was retired (unknown key id)');
  const revoked = (jwks as { [REVOKED_MEMBER]?: unknown })[REVOKED_MEMBER];
  return notRevoked(await checkSignatureAndClaims(token, createLocalJWKSet(jwks), nowMs), new Set(Array.isArray(revoked) ? revoked.filter((j): j is string => typeof j === 'string') : []));
}

/** The key id of a token's header (not yet verified). */
export function keyIdOf(token: string): string | undefined {
  try {
    return decodeProtectedHeader(token).kid;
  } catch (cause) {
    throw new AuthFailure('invalid_token', 'the bearer token is not a JWT', { cause });
  }
}

async function checkSignatureAndClaims(token: string, keys: ReturnType<typeof createLocalJWKSet>, nowMs: number): Promise<Principal> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      algorithms: [SIGNING_ALG],
      issuer: TOKEN_ISSUER,
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(nowMs),
      requiredClaims: ['sub', 'exp', 'iat'],
    }));
  } catch (cause) {
    if (cause instanceof joseErrors.JWTExpired) throw new AuthFailure('token_expired', 'the token has expired; get a new one', { cause });
    throw new AuthFailure('invalid_token', `the token is not valid (${(cause as Error).message})`, { cause });
  }
  const { sub, role, cid, exp, jti } = payload as { sub?: unknown; role?: unknown; cid?: unknown; exp?: unknown; jti?: unknown };
  if (typeof sub !== 'string' || sub === '' || !isRole(role) || typeof exp !== 'number') {
    throw new AuthFailure('invalid_token', 'the token lacks a subject or a known role');
  }
  if (role === 'container' && (typeof cid !== 'string' || !isSafeName(cid))) throw new AuthFailure('invalid_token', 'a container token must name its container (cid)');
  return { sub, role, exp, ...(role === 'container' ? { cid: cid as string } : {}), ...(typeof jti === 'string' ? { jti } : {}) };
}
