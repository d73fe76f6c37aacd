/**
 * The cluster CA in the manager's key directory (`flotilla ca init`). Its key is a file of the key
 * directory like the signing keys (0600 in a 0700 directory, written whole then renamed, never in
 * Redis): whoever holds it can make certificates every member of the cluster trusts.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyDir } from '../auth/key-dir.js';
import { CA_CERT_FILE } from '../auth/key-dir.js';
import { KeyDirError } from '../auth/errors.js';
import { certFingerprint, certificateInfo } from './cert-info.js';
import { createCa, issueKeyAndCert, loadSigningCa } from './x509.js';

/** The CA certificate's subject. */
export const CA_COMMON_NAME = 'Flotilla cluster CA';

export interface CaInitResult {
  certFile: string;
  fingerprint: string;
  notAfter: string;
  joinToken: string;
  replaced: boolean;
}

export async function initClusterCa(dir: KeyDir, opts: { force?: boolean; now?: Date } = {}): Promise<CaInitResult> {
  const existed = dir.exists() && dir.hasCa();
  if (existed && opts.force !== true) {
    throw new KeyDirError(`${dir.path} already has a cluster CA (${join(dir.path, CA_CERT_FILE)}); pass --force to replace it (every certificate it issued stops being trusted)`);
  }
  // A CA belongs to a cluster: the identity, signing key and join token are made first when missing.
  dir.init(undefined, opts.now);
  const ca = await createCa(CA_COMMON_NAME, opts.now);
  dir.writeCa(ca.certPem, ca.keyPem);
  const joinToken = dir.refingerprintJoinToken(opts.now);
  return {
    certFile: join(dir.path, CA_CERT_FILE),
    fingerprint: certFingerprint(ca.certPem),
    notAfter: certificateInfo(ca.certPem).notAfter.toISOString(),
    joinToken,
    replaced: existed,
  };
}

export interface IssuedClientCertificate {
  certFile: string;
  keyFile: string;
  caFile: string;
  notAfter: string;
}

/**
 * A client certificate from the cluster CA for a tool that calls the containers over mutual TLS
 * (`flotilla ca issue prometheus`): the containers let any certificate of the CA in. The key is
 * made here and written 0600; nothing is overwritten, so an existing file is never half-replaced.
 */
export async function issueClientCertificate(dir: KeyDir, name: string, outDir: string, ttlMs: number, now: Date = new Date()): Promise<IssuedClientCertificate> {
  const ca = dir.readCa();
  if (ca === null) throw new KeyDirError(`${dir.path} has no cluster CA: run \`flotilla ca init\` first`);
  const files = { certFile: join(outDir, `${name}-cert.pem`), keyFile: join(outDir, `${name}-key.pem`), caFile: join(outDir, CA_CERT_FILE) };
  const taken = [files.certFile, files.keyFile].filter((f) => existsSync(f));
  if (taken.length > 0) throw new KeyDirError(`${taken.join(' and ')} already exist${taken.length === 1 ? 's' : ''}: remove them or choose another --out`);
  try {
    mkdirSync(outDir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new KeyDirError(`cannot create ${outDir}: ${(cause as Error).message}`, { cause });
  }
  const issued = await issueKeyAndCert(await loadSigningCa(ca.certPem, ca.keyPem), { commonName: name, names: [], ttlMs, now });
  try {
    // The key first and exclusively (wx): a reader never finds a certificate without its key.
    writeFileSync(files.keyFile, issued.keyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(files.certFile, issued.certPem, { mode: 0o644, flag: 'wx' });
    writeFileSync(files.caFile, ca.certPem, { mode: 0o644 });
  } catch (cause) {
    throw new KeyDirError(`cannot write the certificate files in ${outDir}: ${(cause as Error).message}`, { cause });
  }
  return { ...files, notAfter: certificateInfo(issued.certPem).notAfter.toISOString() };
}
