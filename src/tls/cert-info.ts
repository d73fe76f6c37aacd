/** Reading certificates, with node:crypto only (cheap to load: the servers' per-request checks use it). */
import { createHash, X509Certificate as NodeX509 } from 'node:crypto';

export interface CertificateInfo {
  serial: string;
  notBefore: Date;
  notAfter: Date;
  subject: string;
  commonName: string | undefined;
  /** DNS names and IP addresses of the subjectAltName extension. */
  names: string[];
}

/** sha256 of the certificate's DER, hex: the fingerprint part of a join token when a CA exists. */
export function certFingerprint(certPem: string): string {
  return createHash('sha256').update(new NodeX509(certPem).raw).digest('hex');
}

function namesOf(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined) return [];
  return subjectAltName
    .split(', ')
    .map((part) => /^(?:DNS|IP Address):(.*)$/.exec(part)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** Serial, validity and names of a certificate (node:crypto's reader), for logs, checks and tests. */
export function certificateInfo(cert: string | NodeX509): CertificateInfo {
  const c = typeof cert === 'string' ? new NodeX509(cert) : cert;
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1];
  return { serial: c.serialNumber, notBefore: new Date(c.validFrom), notAfter: new Date(c.validTo), subject: c.subject, commonName, names: namesOf(c.subjectAltName) };
}
