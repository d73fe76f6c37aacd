/**
 * The key directory and tokens: files and modes, signing and verifying, expiry, rotation (old
 * tokens keep working until their key retires, then are refused), join tokens, the failure limiter.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  AuthFailure,
  FailureLimiter,
  identityFingerprint,
  KeyDir,
  KeyDirError,
  keyState,
  mintToken,
  parseDuration,
  parseJoinToken,
  publicJwks,
  verifyToken,
} from '../../../src/auth/index.js';
import { testKeys } from '../../helpers/auth.js';

async function refusal(p: Promise<unknown>): Promise<AuthFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AuthFailure, `expected AuthFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the token to be refused');
}

describe('key directory', () => {
  test('init writes owner-only files in an owner-only directory, and no secret is in the JWKS', () => {
    const k = testKeys('init');
    try {
      assert.equal(statSync(k.keyDir.path).mode & 0o777, 0o700);
      const files = readdirSync(k.keyDir.path);
      assert.equal(files.length, 3, files.join(','));
      for (const f of files) assert.equal(statSync(join(k.keyDir.path, f)).mode & 0o777, 0o600, f);
      assert.deepEqual(k.keyDir.looseFiles(), []);
      const set = k.keyDir.load();
      const jwks = publicJwks(set);
      assert.equal(jwks.keys.length, 1);
      assert.equal(jwks.keys[0]!.d, undefined, 'no private part');
      const priv = set.signing[0]!.private_jwk.d;
      assert.ok(typeof priv === 'string' && !JSON.stringify(jwks).includes(priv));
      // A second init changes nothing.
      assert.equal(k.keyDir.init(), false);
      assert.equal(readdirSync(k.keyDir.path).length, 3);
    } finally {
      k.remove();
    }
  });

  test('a Secret-style mount: group-readable with our own group is not loose, readable by others is; signing-<any name>.json is read', () => {
    const k = testKeys('mounted');
    try {
      const [signing] = readdirSync(k.keyDir.path).filter((f) => f.startsWith('signing-'));
      // The name a Swarm stack gives it (a fixed target): the kid comes from the content.
      renameSync(join(k.keyDir.path, signing!), join(k.keyDir.path, 'signing-current.json'));
      assert.equal(k.keyDir.load().signing.length, 1);
      for (const f of readdirSync(k.keyDir.path)) chmodSync(join(k.keyDir.path, f), 0o440);
      // Kubernetes with fsGroup: 0440, the group being the pod's own.
      assert.deepEqual(k.keyDir.looseFiles(), []);
      chmodSync(join(k.keyDir.path, 'identity.json'), 0o444);
      assert.deepEqual(k.keyDir.looseFiles(), [join(k.keyDir.path, 'identity.json')]);
      if (process.getuid?.() === 0) {
        // Group-readable by some other group is loose.
        chmodSync(join(k.keyDir.path, 'identity.json'), 0o440);
        chownSync(join(k.keyDir.path, 'join-token.json'), 0, 4242);
        assert.deepEqual(k.keyDir.looseFiles(), [join(k.keyDir.path, 'join-token.json')]);
      }
    } finally {
      k.remove();
    }
  });

  test('load says what to do when the directory is empty', () => {
    const k = testKeys('empty');
    try {
      const other = new KeyDir(join(k.dir, 'nothing'));
      assert.throws(() => other.load(), (e: unknown) => e instanceof KeyDirError && /start the manager once/.test(e.message));
    } finally {
      k.remove();
    }
  });
});

describe('tokens', () => {
  test('a minted token verifies with its claims; a tampered one does not', async () => {
    const k = testKeys('tok');
    try {
      const set = k.keyDir.load();
      const { token } = await mintToken(set, { sub: 'alice', role: 'operator', ttlMs: 60_000 });
      const p = await verifyToken(set, token);
      assert.equal(p.sub, 'alice');
      assert.equal(p.role, 'operator');
      assert.equal(p.cid, undefined);
      const [h, body, sig] = token.split('.');
      const claims = JSON.parse(Buffer.from(body!, 'base64url').toString());
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url')}.${sig}`;
      assert.equal((await refusal(verifyToken(set, forged))).code, 'invalid_token');
      assert.equal((await refusal(verifyToken(set, 'abc'))).code, 'invalid_token');
    } finally {
      k.remove();
    }
  });

  test('container tokens carry cid; one without it is refused at minting', async () => {
    const k = testKeys('cid');
    try {
      const set = k.keyDir.load();
      const p = await verifyToken(set, (await mintToken(set, { sub: 'c', role: 'container', cid: 'box-1', ttlMs: 60_000 })).token);
      assert.equal(p.cid, 'box-1');
      await assert.rejects(mintToken(set, { sub: 'c', role: 'container', ttlMs: 60_000 }), KeyDirError);
    } finally {
      k.remove();
    }
  });

  test('expired tokens are refused (beyond the clock tolerance); a ttl over the key cap is refused', async () => {
    const k = testKeys('exp');
    try {
      const set = k.keyDir.load();
      const now = Date.now();
      const { token } = await mintToken(set, { sub: 'a', role: 'viewer', ttlMs: 60_000 }, now);
      await verifyToken(set, token, now + 60_000 + 10_000); // within the 30 s tolerance
      assert.equal((await refusal(verifyToken(set, token, now + 60_000 + 31_000))).code, 'token_expired');
      await assert.rejects(mintToken(set, { sub: 'a', role: 'viewer', ttlMs: 365 * 86_400_000 }), /at most/);
    } finally {
      k.remove();
    }
  });

  test('a token from another key directory (another cluster) is refused', async () => {
    const a = testKeys('a');
    const b = testKeys('b');
    try {
      const { token } = await mintToken(b.keyDir.load(), { sub: 'x', role: 'admin', ttlMs: 60_000 });
      const f = await refusal(verifyToken(a.keyDir.load(), token));
      assert.equal(f.code, 'invalid_token');
      assert.match(f.message, /not signed by this cluster/);
    } finally {
      a.remove();
      b.remove();
    }
  });
});

describe('rotation', () => {
  test('after rotate the new key signs, the old one verifies until its tokens expire, then retires', async () => {
    const k = testKeys('rot');
    try {
      const t0 = Date.now();
      const old = await mintToken(k.keyDir.load(), { sub: 'a', role: 'admin', ttlMs: 3_600_000 }, t0);
      const { added, rotatedOut } = k.keyDir.rotate(86_400_000, new Date(t0 + 1_000));
      assert.equal(rotatedOut.length, 1);
      assert.equal(rotatedOut[0]!.kid, old.kid);
      const set = k.keyDir.load();
      assert.equal(keyState(set.signing.find((s) => s.kid === old.kid)!, t0 + 2_000), 'verify-only');
      assert.equal(keyState(set.signing.find((s) => s.kid === added.kid)!, t0 + 2_000), 'signing');
      // New tokens come from the new key; old ones still verify.
      const fresh = await mintToken(set, { sub: 'b', role: 'admin', ttlMs: 60_000 }, t0 + 2_000);
      assert.equal(fresh.kid, added.kid);
      assert.equal((await verifyToken(set, old.token, t0 + 2_000)).sub, 'a');
      assert.equal(publicJwks(set, t0 + 2_000).keys.length, 2);
      // The old key retires when its longest-lived token could have expired (its max_ttl, 30 d by default).
      const retireAt = Date.parse(rotatedOut[0]!.retire_at!);
      assert.equal(retireAt, t0 + 1_000 + rotatedOut[0]!.max_ttl_ms);
      assert.equal(keyState(set.signing.find((s) => s.kid === old.kid)!, retireAt), 'retired');
      assert.equal(publicJwks(set, retireAt).keys.length, 1);
      // Presented after that, the old key's token is refused for its key (checked before expiry).
      assert.equal((await refusal(verifyToken(set, old.token, retireAt + 1))).code, 'key_retired');
      assert.equal((await verifyToken(set, fresh.token, t0 + 3_000)).sub, 'b');
    } finally {
      k.remove();
    }
  });

  test('retire refuses the old key at once (a leaked key), and will not retire the signing key', async () => {
    const k = testKeys('retire');
    try {
      const first = await mintToken(k.keyDir.load(), { sub: 'a', role: 'admin', ttlMs: 3_600_000 });
      assert.throws(() => k.keyDir.retire(first.kid), /the one that signs/);
      k.keyDir.rotate();
      assert.equal((await verifyToken(k.keyDir.load(), first.token)).sub, 'a');
      k.keyDir.retire(first.kid);
      const f = await refusal(verifyToken(k.keyDir.load(), first.token));
      assert.equal(f.code, 'key_retired');
      assert.throws(() => k.keyDir.retire('nope'), /no signing key/);
    } finally {
      k.remove();
    }
  });
});

describe('join tokens', () => {
  test('Swarm-style: prefix, the identity fingerprint, a secret; rotation changes the secret only', () => {
    const k = testKeys('join');
    try {
      const set = k.keyDir.load();
      const parts = parseJoinToken(set.joinToken);
      assert.ok(parts !== undefined, set.joinToken);
      assert.equal(parts.fingerprint, identityFingerprint(set.identity));
      assert.match(set.joinToken, /^FLTKN-1-[0-9a-f]{64}-[0-9a-f]{48}$/);
      const next = k.keyDir.rotateJoinToken();
      assert.notEqual(next, set.joinToken);
      assert.equal(parseJoinToken(next)?.fingerprint, parts.fingerprint);
      assert.equal(k.keyDir.load().joinToken, next);
      assert.ok(!readFileSync(join(k.keyDir.path, 'join-token.json'), 'utf8').includes(set.joinToken), 'the old token is gone');
      assert.equal(parseJoinToken('FLTKN-1-abc-def'), undefined);
    } finally {
      k.remove();
    }
  });
});

describe('failure limiter', () => {
  test('refuses an address past the limit until its window ends', () => {
    const l = new FailureLimiter({ limit: 3, windowMs: 1_000, maxTracked: 100 });
    for (let i = 0; i < 3; i++) {
      assert.equal(l.retryAfterMs('a', 0), 0);
      l.failed('a', 0);
    }
    assert.equal(l.retryAfterMs('a', 100), 900);
    assert.equal(l.retryAfterMs('b', 100), 0, 'other addresses are not affected');
    assert.equal(l.retryAfterMs('a', 1_000), 0, 'a new window');
  });

  test('memory is bounded: at most maxTracked addresses, the oldest forgotten', () => {
    const l = new FailureLimiter({ limit: 5, windowMs: 60_000, maxTracked: 1_000 });
    for (let i = 0; i < 50_000; i++) l.failed(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 0);
    assert.equal(l.tracked, 1_000);
  });
});

test('durations', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('15m'), 900_000);
  assert.equal(parseDuration('24h'), 86_400_000);
  assert.equal(parseDuration('30d'), 30 * 86_400_000);
  assert.equal(parseDuration('45'), 45_000);
  for (const bad of ['', '0', '-5m', '1y', '1.5h', 'abc']) assert.throws(() => parseDuration(bad), /duration|longer than zero/, bad);
});
