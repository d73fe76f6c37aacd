/**
 * What `flotilla token revoke` writes for its argument: a token of this cluster is checked
 * against the key directory first (a token of another cluster, or garbage, is an error, not an
 * entry); one that is refused already (expired, its key retired) needs no entry. A bare id is
 * kept until the longest a token of a live key can still live.
 */
import { AuthFailure, KeyDirError } from '../auth/errors.js';
import { keyState, type KeyDir, type RevokedToken } from '../auth/key-dir.js';
import { verifyToken } from '../auth/tokens.js';

/** A token's id as `mintToken` makes them (a UUID), or any id another tool used: no spaces, bounded. */
const TOKEN_ID = /^[A-Za-z0-9._~-]{1,128}$/;
/** A JWT: three base64url parts. */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export type Revocation = { kind: 'entry'; entry: Omit<RevokedToken, 'revoked_at'> } | { kind: 'refused-already'; reason: string };

export async function revocationOf(dir: KeyDir, tokenOrId: string, nowMs: number = Date.now()): Promise<Revocation> {
  const set = dir.load();
  if (JWT.test(tokenOrId)) {
    try {
      const p = await verifyToken(set, tokenOrId, nowMs);
      if (p.jti === undefined) throw new KeyDirError('this token has no id (jti), so it cannot be revoked alone: retire its signing key instead (flotilla keys rotate, then keys retire KID)');
      return { kind: 'entry', entry: { jti: p.jti, expires_at: new Date(p.exp * 1_000).toISOString(), sub: p.sub, role: p.role } };
    } catch (err) {
      if (!(err instanceof AuthFailure)) throw err;
      if (err.code === 'token_expired') return { kind: 'refused-already', reason: 'the token has expired already: nothing to revoke' };
      if (err.code === 'key_retired') return { kind: 'refused-already', reason: 'its signing key is retired: the token is refused already' };
      if (err.code === 'token_revoked') return { kind: 'refused-already', reason: 'the token is revoked already' };
      throw new KeyDirError(`not a token of this cluster (${err.message}); nothing revoked`, { cause: err });
    }
  }
  if (!TOKEN_ID.test(tokenOrId)) throw new KeyDirError('expected a token (a JWT) or a token id (the jti `token create --json` prints)');
  // An id alone says nothing of its expiry: keep it as long as any live key's tokens may live.
  const longest = Math.max(0, ...set.signing.filter((k) => keyState(k, nowMs) !== 'retired').map((k) => k.max_ttl_ms));
  return { kind: 'entry', entry: { jti: tokenOrId, expires_at: new Date(nowMs + longest).toISOString(), sub: null, role: null } };
}
