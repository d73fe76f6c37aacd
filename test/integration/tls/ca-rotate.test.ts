/**
 * `flotilla ca rotate [--finish]` on a key directory: the new CA, the cross certificate and the
 * previous CA written with owner-only modes; the join token takes the new fingerprint with its
 * secret kept and the old token still admits; a leaf of the new CA verifies against the OLD root
 * through the cross certificate (node:crypto and a real TLS handshake trusting only the old CA),
 * and not without it; a second rotate refused; `--finish` drops the previous CA; a half-written
 * rotation is refused by readers and cleared by `--finish --force`.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptedJoinTokens, KeyDir, parseJoinToken } from '../../../src/auth/index.js';
import { certFingerprint } from '../../../src/tls/index.js';
import { issueKeyAndCert, loadSigningCa } from '../../../src/tls/x509.js';
import { runCli } from '../../cli/run-cli.js';

/** Serves `chainPem` (leaf first) on loopback and reports whether a client trusting only `caPem` verified it. */
async function handshake(chainPem: string, keyPem: string, caPem: string): Promise<{ authorized: boolean; error: string | null }> {
  const server = createServer({ cert: chainPem, key: keyPem }, (s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise((resolve, reject) => {
      const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca: caPem, rejectUnauthorized: false, servername: 'localhost' }, () => {
        resolve({ authorized: socket.authorized, error: socket.authorizationError === null ? null : String(socket.authorizationError) });
        socket.end();
      });
      socket.once('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('flotilla ca rotate', () => {
  const root = mkdtempSync(join(tmpdir(), 'flotilla-ca-rotate-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('rotate writes the new CA, the cross certificate and keeps the previous; the new leaves verify against the old root; finish drops it', async () => {
    const dir = join(root, 'keys');
    const keyDir = new KeyDir(dir);
    assert.equal((await runCli(['ca', 'init', '--key-dir', dir])).code, 0);
    const oldCertPem = readFileSync(join(dir, 'ca-cert.pem'), 'utf8');
    const oldToken = keyDir.load().joinToken;

    const res = await runCli(['ca', 'rotate', '--key-dir', dir, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { fingerprint: string; previous_fingerprint: string; started_at: string; join_token: string; previous_join_token: string; cross_cert_file: string };
    for (const f of ['ca-cert.pem', 'ca-key.pem', 'ca-previous-cert.pem', 'ca-cross-cert.pem', 'ca-rotation.json']) {
      assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
    const newCertPem = readFileSync(join(dir, 'ca-cert.pem'), 'utf8');
    assert.equal(readFileSync(join(dir, 'ca-previous-cert.pem'), 'utf8'), oldCertPem, 'the previous CA is kept as it was');
    assert.notEqual(newCertPem, oldCertPem);
    assert.equal(out.fingerprint, certFingerprint(newCertPem));
    assert.equal(out.previous_fingerprint, certFingerprint(oldCertPem));
    assert.ok(Math.abs(Date.parse(out.started_at) - Date.now()) < 60_000);
    assert.equal(existsSync(join(dir, 'ca-previous-key.pem')), false, "the old CA's key is not kept: it signs nothing any more");

    // The join token: the new CA's fingerprint, the same secret; the old one still admits.
    const token = parseJoinToken(keyDir.load().joinToken)!;
    assert.equal(token.fingerprint, out.fingerprint);
    assert.equal(token.secret, parseJoinToken(oldToken)!.secret);
    assert.equal(out.join_token, keyDir.load().joinToken);
    assert.equal(out.previous_join_token, oldToken);
    assert.deepEqual(acceptedJoinTokens(keyDir.load()), [out.join_token, oldToken]);

    // The cross certificate: the new CA's subject and key, issued by the old CA.
    const oldCa = new X509Certificate(oldCertPem);
    const newCa = new X509Certificate(newCertPem);
    const cross = new X509Certificate(readFileSync(out.cross_cert_file, 'utf8'));
    assert.equal(cross.subject, newCa.subject);
    assert.ok(cross.publicKey.equals(newCa.publicKey), "the cross certificate carries the new CA's public key");
    assert.ok(cross.checkIssued(oldCa) && cross.verify(oldCa.publicKey), 'issued by the old CA');
    assert.equal(cross.ca, true);
    assert.equal(cross.verify(newCa.publicKey), false, 'not self-signed');

    // A leaf of the new CA: through the cross certificate it verifies against the old root.
    const signing = await loadSigningCa(newCertPem, readFileSync(join(dir, 'ca-key.pem'), 'utf8'));
    const leaf = await issueKeyAndCert(signing, { commonName: 'localhost', names: ['127.0.0.1'], ttlMs: 600_000 });
    const leafCert = new X509Certificate(leaf.certPem);
    assert.ok(leafCert.verify(cross.publicKey));
    assert.equal(leafCert.verify(oldCa.publicKey), false);
    const crossPem = readFileSync(out.cross_cert_file, 'utf8');
    assert.deepEqual(await handshake(leaf.certPem + crossPem, leaf.keyPem, oldCertPem), { authorized: true, error: null }, 'old root only, [leaf, cross]');
    assert.deepEqual(await handshake(leaf.certPem + crossPem, leaf.keyPem, newCertPem), { authorized: true, error: null }, 'new root only, [leaf, cross]');
    const bare = await handshake(leaf.certPem, leaf.keyPem, oldCertPem);
    assert.equal(bare.authorized, false, 'without the cross certificate the old root does not verify a new leaf');

    // `ca issue` during the overlap: the chain in the certificate file, both CAs in the CA file.
    const issued = await runCli(['ca', 'issue', 'tool', '--out', join(root, 'tool'), '--key-dir', dir, '--json']);
    assert.equal(issued.code, 0, issued.stderr);
    const files = JSON.parse(issued.stdout) as { cert_file: string; ca_cert_file: string };
    assert.equal(readFileSync(files.cert_file, 'utf8').match(/BEGIN CERTIFICATE/g)?.length, 2);
    assert.equal(readFileSync(files.ca_cert_file, 'utf8'), newCertPem + oldCertPem);

    // One rotation at a time.
    const again = await runCli(['ca', 'rotate', '--key-dir', dir]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /a CA rotation is already in progress \(started .*\): finish it first with `flotilla ca rotate --finish`/);
    assert.equal(readFileSync(join(dir, 'ca-cert.pem'), 'utf8'), newCertPem, 'nothing written');
    assert.equal((await runCli(['ca', 'rotate', '--force', '--key-dir', dir])).code, 2, '--force without --finish is a usage error');
    // With a manager to ask that does not answer: refused, nothing changed.
    const unreachable = await runCli(['ca', 'rotate', '--finish', '--url', 'https://127.0.0.1:1', '--key-dir', dir]);
    assert.equal(unreachable.code, 2);
    assert.match(unreachable.stderr, /cannot list the containers at https:\/\/127\.0\.0\.1:1: .*nothing changed \(pass --force/);
    assert.equal(existsSync(join(dir, 'ca-previous-cert.pem')), true);

    const finished = await runCli(['ca', 'rotate', '--finish', '--key-dir', dir, '--json']);
    assert.equal(finished.code, 0, finished.stderr);
    assert.deepEqual(JSON.parse(finished.stdout), { key_dir: dir, finished: true, fingerprint: out.fingerprint, dropped_fingerprint: out.previous_fingerprint, started_at: out.started_at, checked: false, containers: [] });
    for (const f of ['ca-previous-cert.pem', 'ca-cross-cert.pem', 'ca-rotation.json']) assert.equal(existsSync(join(dir, f)), false, f);
    assert.equal(readFileSync(join(dir, 'ca-cert.pem'), 'utf8'), newCertPem);
    assert.equal(keyDir.load().joinToken, out.join_token);
    assert.deepEqual(acceptedJoinTokens(keyDir.load()), [out.join_token], 'the old join token no longer admits');
    const twice = await runCli(['ca', 'rotate', '--finish', '--key-dir', dir]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /no CA rotation in progress/);

    // And a second rotation can start once the first finished.
    const second = await runCli(['ca', 'rotate', '--key-dir', dir, '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal((JSON.parse(second.stdout) as { previous_fingerprint: string }).previous_fingerprint, out.fingerprint);
  });

  test('without a CA: a clear error; a half-written rotation is refused by readers and cleared by --finish --force', async () => {
    const dir = join(root, 'bare');
    new KeyDir(dir).init();
    const none = await runCli(['ca', 'rotate', '--key-dir', dir]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no cluster CA to rotate: run `flotilla ca init` first/);

    assert.equal((await runCli(['ca', 'init', '--key-dir', dir])).code, 0);
    const keyDir = new KeyDir(dir);
    const certPem = readFileSync(join(dir, 'ca-cert.pem'), 'utf8');
    // A rotation interrupted after its first file: the manager must not take it for a CA state.
    writeFileSync(join(dir, 'ca-cross-cert.pem'), certPem, { mode: 0o600 });
    assert.throws(() => keyDir.readCaState(), /do not fit together: a CA rotation is half there/);
    const refused = await runCli(['ca', 'rotate', '--key-dir', dir]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /do not fit together/);
    assert.equal((await runCli(['ca', 'rotate', '--finish', '--key-dir', dir])).code, 2, 'plain --finish refuses it too');
    const cleared = await runCli(['ca', 'rotate', '--finish', '--force', '--key-dir', dir, '--json']);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.equal((JSON.parse(cleared.stdout) as { dropped_fingerprint: unknown }).dropped_fingerprint, null);
    assert.equal(keyDir.readCaState()?.certPem, certPem, 'back to the CA as it was');
    assert.equal(keyDir.readCaState()?.rotation, null);

    // A key that is not the certificate's (a write between the two files) is refused too.
    const other = join(root, 'other');
    assert.equal((await runCli(['ca', 'init', '--key-dir', other])).code, 0);
    writeFileSync(join(dir, 'ca-key.pem'), readFileSync(join(other, 'ca-key.pem'), 'utf8'), { mode: 0o600 });
    assert.throws(() => keyDir.readCaState(), /ca-key\.pem is not the key of ca-cert\.pem\. .*flotilla ca init --force/);
  });
});
