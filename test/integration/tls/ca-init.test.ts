/**
 * `flotilla ca init`: the CA's files in the key directory with owner-only modes, a CA certificate
 * that may sign (and only that), the join token's fingerprint = sha256 of the CA certificate's
 * DER with its secret kept, no overwrite without --force, clear errors.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyDir, parseJoinToken } from '../../../src/auth/index.js';
import { runCli } from '../../cli/run-cli.js';

describe('flotilla ca init', () => {
  const root = mkdtempSync(join(tmpdir(), 'flotilla-ca-init-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('creates the CA with 0600 files in a 0700 directory; the join token carries its fingerprint', async () => {
    const dir = join(root, 'keys');
    // A cluster that already handed out a join token: ca init keeps its secret.
    const keyDir = new KeyDir(dir);
    keyDir.init();
    const before = parseJoinToken(keyDir.load().joinToken)!;

    const res = await runCli(['ca', 'init', '--key-dir', dir, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { ca_cert_file: string; fingerprint: string; join_token: string; replaced: boolean };
    assert.equal(out.replaced, false);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of ['ca-cert.pem', 'ca-key.pem']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);

    const certPem = readFileSync(join(dir, 'ca-cert.pem'), 'utf8');
    const cert = new X509Certificate(certPem);
    assert.equal(cert.ca, true);
    assert.ok(cert.checkIssued(cert), 'self-signed');
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    const der = createHash('sha256').update(cert.raw).digest('hex');
    assert.equal(out.fingerprint, der);
    const after = parseJoinToken(keyDir.load().joinToken)!;
    assert.equal(after.fingerprint, der, "the join token's fingerprint is sha256 of the CA certificate (DER)");
    assert.notEqual(after.fingerprint, before.fingerprint);
    assert.equal(after.secret, before.secret, 'the secret is kept');
    assert.equal(out.join_token, keyDir.load().joinToken);
    // join-token --rotate keeps the CA fingerprint.
    const rotated = await runCli(['join-token', '--rotate', '--key-dir', dir]);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal(parseJoinToken(rotated.stdout.trim())?.fingerprint, der);
  });

  test('refuses to overwrite without --force (exit 2, one line), replaces with it', async () => {
    const dir = join(root, 'again');
    assert.equal((await runCli(['ca', 'init', '--key-dir', dir])).code, 0);
    const first = readFileSync(join(dir, 'ca-cert.pem'), 'utf8');
    const refused = await runCli(['ca', 'init', '--key-dir', dir]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^error: .*already has a cluster CA.*--force/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(readFileSync(join(dir, 'ca-cert.pem'), 'utf8'), first);
    const forced = await runCli(['ca', 'init', '--key-dir', dir, '--force', '--json']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((JSON.parse(forced.stdout) as { replaced: boolean }).replaced, true);
    assert.notEqual(readFileSync(join(dir, 'ca-cert.pem'), 'utf8'), first);
  });

  test('a key directory it cannot create is a clear error', async () => {
    // Under a plain file: no directory can be made there.
    writeFileSync(join(root, 'a-file'), '');
    const res = await runCli(['ca', 'init', '--key-dir', join(root, 'a-file', 'keys')]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /^error: cannot create the key directory/);
  });
});
