/**
 * PublishedKeys: a container's view of the keys the manager publishes. The key set comes from a
 * real key directory (publicJwks, as the manager serves it); the read itself is a function the
 * test controls, counting reads and failing on demand. Then token revocation in the key directory,
 * on both sides (verifyToken with the directory, verifyTokenWithJwks with what is published).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONWebKeySet } from 'jose';
import { AuthFailure, KeysUnavailableError, mintToken, PublishedKeys, publicJwks, verifyToken, verifyTokenWithJwks } from '../../../src/auth/index.js';
import { testKeys } from '../../helpers/auth.js';

const REFRESH_MS = 60_000;
const RETRY_MS = 1_000;

function source(jwks: () => JSONWebKeySet) {
  const s = { reads: 0, down: false };
  const keys = new PublishedKeys({
    fetchJwks: async () => {
      s.reads++;
      if (s.down) throw new Error('connect ECONNREFUSED');
      return jwks();
    },
    refreshMs: REFRESH_MS,
    retryMs: RETRY_MS,
  });
  return { keys, s };
}

describe('PublishedKeys', () => {
  test('reads once, verifies any role of the cluster, refuses another cluster without reading again within retryMs', async () => {
    const ours = testKeys('pub-ours');
    const theirs = testKeys('pub-theirs');
    try {
      const { keys, s } = source(() => publicJwks(ours.keyDir.load()));
      const now = Date.now();
      assert.equal((await keys.verify(await ours.token('viewer'), now)).role, 'viewer');
      assert.equal((await keys.verify(await ours.token('container', { cid: 'c1' }), now + 10)).cid, 'c1');
      assert.equal(s.reads, 1);
      // A stream of tokens naming unknown keys: one read per retryMs at most.
      const foreign = await theirs.token('admin');
      for (let i = 0; i < 50; i++) await assert.rejects(keys.verify(foreign, now + 20 + i), AuthFailure);
      assert.equal(s.reads, 1, 'still within retryMs of the first read');
      await assert.rejects(keys.verify(foreign, now + RETRY_MS + 30), /not signed by this cluster/);
      assert.equal(s.reads, 2);
    } finally {
      ours.remove();
      theirs.remove();
    }
  });

  test('a rotated-in key is read when a token names it; a retired one is refused after the next refresh', async () => {
    const k = testKeys('pub-rotate');
    try {
      const { keys, s } = source(() => publicJwks(k.keyDir.load()));
      const t0 = Date.now();
      const old = await k.token('viewer');
      await keys.verify(old, t0);
      const oldKid = k.keyDir.load().signing.find((x) => x.rotated_at === null)!.kid;
      k.keyDir.rotate();
      const fresh = await k.token('viewer');
      assert.equal((await keys.verify(fresh, t0 + RETRY_MS)).role, 'viewer');
      assert.equal(s.reads, 2);
      k.keyDir.retire(oldKid);
      assert.equal((await keys.verify(old, t0 + RETRY_MS + 1)).role, 'viewer', 'until the refresh, the keys read last');
      await assert.rejects(keys.verify(old, Date.now() + REFRESH_MS), /retired/);
      assert.equal(s.reads, 3);
    } finally {
      k.remove();
    }
  });

  test('with the manager away: 503-kind error before any read, the last keys after one', async () => {
    const k = testKeys('pub-down');
    try {
      const { keys, s } = source(() => publicJwks(k.keyDir.load()));
      const token = await k.token('viewer');
      s.down = true;
      const t0 = Date.now();
      await assert.rejects(keys.verify(token, t0), (err: unknown) => err instanceof KeysUnavailableError && /ECONNREFUSED/.test(err.message));
      s.down = false;
      assert.equal((await keys.verify(token, t0 + RETRY_MS)).role, 'viewer');
      s.down = true;
      assert.equal((await keys.verify(token, Date.now() + REFRESH_MS)).role, 'viewer', 'a failed refresh keeps the keys read last');
      assert.equal(s.reads, 3);
    } finally {
      k.remove();
    }
  });

  test('an answer that is not a key set is a failed read, not an empty set', async () => {
    const { keys } = source(() => ({ nope: true }) as unknown as JSONWebKeySet);
    const k = testKeys('pub-bad');
    try {
      await assert.rejects(keys.verify(await k.token('viewer')), (err: unknown) => err instanceof KeysUnavailableError && /not a JSON Web Key Set/.test(err.message));
    } finally {
      k.remove();
    }
  });
});

describe('token revocation in the key directory', () => {
  test('a revoked token is refused where the keys are and where they are published; its entry lasts until the token would expire', async () => {
    const k = testKeys('revoke-unit');
    try {
      const short = await mintToken(k.keyDir.load(), { sub: 'scraper', role: 'viewer', ttlMs: 60_000 });
      const other = await mintToken(k.keyDir.load(), { sub: 'ops', role: 'operator', ttlMs: 3_600_000 });
      const { added } = k.keyDir.revoke({ jti: short.jti, expires_at: short.expiresAt.toISOString(), sub: 'scraper', role: 'viewer' });
      assert.equal(added, true);
      assert.equal(k.keyDir.revoke({ jti: short.jti, expires_at: short.expiresAt.toISOString(), sub: null, role: null }).added, false, 'one entry per token');
      const set = k.keyDir.load();
      await assert.rejects(verifyToken(set, short.token), (err: unknown) => err instanceof AuthFailure && err.code === 'token_revoked');
      assert.equal((await verifyToken(set, other.token)).sub, 'ops');
      const jwks = publicJwks(set);
      assert.deepEqual(jwks.flotilla_revoked, [short.jti]);
      await assert.rejects(verifyTokenWithJwks(jwks, short.token), (err: unknown) => err instanceof AuthFailure && err.code === 'token_revoked');
      assert.equal((await verifyTokenWithJwks(jwks, other.token)).sub, 'ops');
      // Past the token's expiry its entry is dropped (the token is refused as expired anyway).
      assert.deepEqual(k.keyDir.revokedTokens(Date.now() + 61_000), []);
      k.keyDir.revoke({ jti: other.jti, expires_at: other.expiresAt.toISOString(), sub: 'ops', role: 'operator' }, new Date(Date.now() + 61_000));
      assert.deepEqual(k.keyDir.revokedTokens().map((r) => r.jti), [other.jti], 'the expired entry was pruned when writing');
    } finally {
      k.remove();
    }
  });
});
