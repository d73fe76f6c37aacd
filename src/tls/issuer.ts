/**
 * The manager's side of the cluster CA: signs containers' CSRs (at registration and renewal) and
 * its own serving certificate. The CA is read from the key directory when needed and read again
 * when its files changed (`ca init --force`, `ca rotate` on a running manager), so no restart.
 * During a rotation it signs with the new CA and hands out the trust bundle (new, previous) and
 * the chain (the cross certificate) with every certificate.
 */
import { createHash } from 'node:crypto';
import type { CaState, KeyDir } from '../auth/key-dir.js';
import { caFingerprint } from '../auth/key-dir.js';
import { KeyDirError } from '../auth/errors.js';
import { trustOf } from './ca.js';
import { certificateInfo } from './cert-info.js';
import { issueKeyAndCert, loadSigningCa, signCsr, type KeyAndCert, type SigningCa } from './x509.js';

/** The manager has no cluster CA (no `flotilla ca init`, or bring-your-own certificates). */
export class NoClusterCaError extends Error {
  override readonly name = 'NoClusterCaError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface CaRotationView {
  previous_fingerprint: string;
  started_at: string;
}

/** What members trust and present: the current CA, the bundle (current first), the chain above a leaf. */
export interface ClusterTrust {
  caPem: string;
  bundle: string[];
  chain: string[];
  rotation: CaRotationView | null;
  /** Changes with any of the above. */
  stamp: string;
}

export interface IssuedCertificate {
  certificate: string;
  ca_certificate: string;
  ca_certificates: string[];
  certificate_chain: string[];
  serial: string;
  not_after: string;
}

function trustFrom(state: CaState): ClusterTrust {
  const { bundle, chain } = trustOf(state);
  const rotation = state.rotation === null ? null : { previous_fingerprint: state.rotation.record.previous_fingerprint, started_at: state.rotation.record.started_at };
  return { caPem: state.certPem, bundle, chain, rotation, stamp: createHash('sha256').update([...bundle, ...chain].join('')).digest('hex') };
}

export class CertificateIssuer {
  private loaded: { certPem: string; ca: SigningCa } | null = null;
  /** The last consistent CA state read: kept while a rotation is half-written (readCaState refuses it). */
  private lastGood: CaState | null = null;

  constructor(
    private readonly keyDir: KeyDir,
    readonly certTtlMs: number,
  ) {}

  /** The CA as a whole, read each call (small files); the last consistent one while the files are mid-change. */
  private state(): CaState | null {
    if (!this.keyDir.exists()) return null;
    try {
      const state = this.keyDir.readCaState();
      this.lastGood = state;
      return state;
    } catch (err) {
      if (err instanceof KeyDirError && this.lastGood !== null) return this.lastGood;
      throw err;
    }
  }

  /** The CA certificate (PEM) or null. */
  caCertPem(): string | null {
    return this.state()?.certPem ?? null;
  }

  /** The trust bundle and chain, or null without a CA. */
  trust(): ClusterTrust | null {
    const state = this.state();
    return state === null ? null : trustFrom(state);
  }

  fingerprint(): string | null {
    const pem = this.caCertPem();
    return pem === null ? null : caFingerprint(pem);
  }

  private async ca(): Promise<{ ca: SigningCa; trust: ClusterTrust }> {
    const state = this.state();
    if (state === null) throw new NoClusterCaError(`this manager has no cluster CA: run \`flotilla ca init\` on its key directory (${this.keyDir.path})`);
    if (this.loaded?.certPem !== state.certPem) this.loaded = { certPem: state.certPem, ca: await loadSigningCa(state.certPem, state.keyPem) };
    return { ca: this.loaded.ca, trust: trustFrom(state) };
  }

  /** A container's certificate: CN and SAN = its id, SAN also its registered address. Throws InvalidCsrError on a bad CSR. */
  async signContainer(containerId: string, hostAddress: string, csrPem: string): Promise<IssuedCertificate> {
    const { ca, trust } = await this.ca();
    const certificate = await signCsr(ca, csrPem, { commonName: containerId, names: [hostAddress], ttlMs: this.certTtlMs });
    const info = certificateInfo(certificate);
    return { certificate, ca_certificate: trust.caPem, ca_certificates: trust.bundle, certificate_chain: trust.chain, serial: info.serial, not_after: info.notAfter.toISOString() };
  }

  /** The manager's own key and certificate (it serves with it and shows it when it calls containers). */
  async issueManager(managerId: string, names: readonly string[]): Promise<KeyAndCert & { trust: ClusterTrust }> {
    const { ca, trust } = await this.ca();
    return { ...(await issueKeyAndCert(ca, { commonName: `manager.${managerId}`, names, ttlMs: this.certTtlMs })), trust };
  }
}
