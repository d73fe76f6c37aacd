/**
 * The manager's side of the cluster CA: signs containers' CSRs (at registration and renewal) and
 * its own serving certificate. The CA is read from the key directory when needed and read again
 * when its certificate file changed (`ca init --force` on a running manager), so no restart.
 */
import type { KeyDir } from '../auth/key-dir.js';
import { caFingerprint } from '../auth/key-dir.js';
import { certificateInfo } from './cert-info.js';
import { issueKeyAndCert, loadSigningCa, signCsr, type KeyAndCert, type SigningCa } from './x509.js';

/** The manager has no cluster CA (no `flotilla ca init`, or bring-your-own certificates). */
export class NoClusterCaError extends Error {
  override readonly name = 'NoClusterCaError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface IssuedCertificate {
  certificate: string;
  ca_certificate: string;
  serial: string;
  not_after: string;
}

export class CertificateIssuer {
  private loaded: { certPem: string; ca: SigningCa } | null = null;

  constructor(
    private readonly keyDir: KeyDir,
    readonly certTtlMs: number,
  ) {}

  /** The CA certificate (PEM) or null: cheap enough per call (one small file read). */
  caCertPem(): string | null {
    return this.keyDir.exists() ? (this.keyDir.readCa()?.certPem ?? null) : null;
  }

  fingerprint(): string | null {
    const pem = this.caCertPem();
    return pem === null ? null : caFingerprint(pem);
  }

  private async ca(): Promise<SigningCa> {
    const files = this.keyDir.exists() ? this.keyDir.readCa() : null;
    if (files === null) throw new NoClusterCaError(`this manager has no cluster CA: run \`flotilla ca init\` on its key directory (${this.keyDir.path})`);
    if (this.loaded?.certPem !== files.certPem) this.loaded = { certPem: files.certPem, ca: await loadSigningCa(files.certPem, files.keyPem) };
    return this.loaded.ca;
  }

  /** A container's certificate: CN and SAN = its id, SAN also its registered address. Throws InvalidCsrError on a bad CSR. */
  async signContainer(containerId: string, hostAddress: string, csrPem: string): Promise<IssuedCertificate> {
    const ca = await this.ca();
    const certificate = await signCsr(ca, csrPem, { commonName: containerId, names: [hostAddress], ttlMs: this.certTtlMs });
    const info = certificateInfo(certificate);
    return { certificate, ca_certificate: ca.certPem, serial: info.serial, not_after: info.notAfter.toISOString() };
  }

  /** The manager's own key and certificate (it serves with it and shows it when it calls containers). */
  async issueManager(managerId: string, names: readonly string[]): Promise<KeyAndCert & { caPem: string }> {
    const ca = await this.ca();
    return { ...(await issueKeyAndCert(ca, { commonName: `manager.${managerId}`, names, ttlMs: this.certTtlMs })), caPem: ca.certPem };
  }
}
