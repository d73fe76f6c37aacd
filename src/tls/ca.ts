/**
 * The cluster CA in the manager's key directory (`flotilla ca init`). Its key is a file of the key
 * directory like the signing keys (0600 in a 0700 directory, written whole then renamed, never in
 * Redis): whoever holds it can make certificates every member of the cluster trusts.
 */
import { join } from 'node:path';
import type { KeyDir } from '../auth/key-dir.js';
import { CA_CERT_FILE } from '../auth/key-dir.js';
import { KeyDirError } from '../auth/errors.js';
import { certFingerprint, certificateInfo } from './cert-info.js';
import { createCa } from './x509.js';

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
