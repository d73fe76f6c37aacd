/**
 * A container's TLS. Over an https CENTRAL_MANAGER_URL it:
 *  1. fetches the cluster CA from the manager WITHOUT trusting it (GET /api/v1/cluster/ca), checks
 *     sha256 of its DER against the fingerprint in FLOTILLA_JOIN_TOKEN, refuses on a mismatch, and
 *     from then on trusts that CA only (or FLOTILLA_TLS_CA, pinned by the operator);
 *  2. makes its key pair here (the private key never leaves the process) and sends a CSR with its
 *     registration; the answer carries its certificate;
 *  3. serves HTTPS with it, asking every client for a certificate from the cluster CA (all but
 *     /health and /ready), and shows it on its own calls (to the manager and to peers);
 *  4. renews it at two thirds of its life (a new key and CSR each time), swapping the server's
 *     secure context and the client pool: connections and requests in flight finish on the old;
 *  5. asks the manager for the cluster CA every FLOTILLA_CA_CHECK_INTERVAL (over the verified
 *     channel): when the CA that signs is not the one that issued its certificate (`ca rotate`) it
 *     renews at once, and it trusts the bundle the manager names (both CAs during the overlap, the
 *     new one after `--finish`). Certificates come with a chain (the cross certificate during a
 *     rotation), which it presents after its leaf so members still trusting the old CA accept it.
 * With FLOTILLA_TLS_CERT/KEY/CA (bring-your-own) it uses those files as they are: no CSR, no renewal.
 */
import type { Server as HttpsServer, ServerOptions } from 'node:https';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import { backoffDelay, sleep } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import { parseJoinToken } from '../auth/join-token.js';
import { PATHS } from '../protocol/paths.js';
import type { ClusterCaResponse } from '../protocol/api.js';
import { certFingerprint, certificateInfo } from './cert-info.js';
import type { OwnCertificates } from './config.js';
import { DEFAULT_CA_CHECK_INTERVAL_MS } from './config.js';
import { RENEW_AT_SHARE, secureOptions } from './manager-tls.js';
import { newKeyAndCsr, selfSigned } from './x509.js';

/** Renewal attempts get at least this long between them, at most BACKOFF_MAX_MS (common/backoff). */
export const RENEW_RETRY_INITIAL_MS = 500;
/** How long fetching the CA waits for one answer. */
export const CA_FETCH_TIMEOUT_MS = 5_000;

/** The CA the manager shows is not the one the join token names: another cluster, or someone in between. */
export class ClusterCaMismatchError extends Error {
  override readonly name = 'ClusterCaMismatchError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** TLS cannot be set up from what the container was given (no join token to check the CA with, ...). */
export class ContainerTlsError extends Error {
  override readonly name = 'ContainerTlsError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The manager's cluster CA as it sends it (GET /api/v1/cluster/ca), read WITHOUT verifying the
 * manager's certificate: nothing is trusted yet. Believe it only after checkClusterCa.
 */
export async function fetchClusterCa(managerUrl: string, signal?: AbortSignal, timeoutMs: number = CA_FETCH_TIMEOUT_MS): Promise<string> {
  return (await fetchClusterTrust(managerUrl, signal, timeoutMs)).ca_certificate;
}

/** The whole answer of GET /api/v1/cluster/ca, read unverified like fetchClusterCa. */
export async function fetchClusterTrust(managerUrl: string, signal?: AbortSignal, timeoutMs: number = CA_FETCH_TIMEOUT_MS): Promise<ClusterCaResponse> {
  const url = `${managerUrl.replace(/\/+$/, '')}${PATHS.clusterCa}`;
  const unverified = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const timeout = AbortSignal.timeout(timeoutMs);
    const res = await request(url, { dispatcher: unverified, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET ${PATHS.clusterCa} answered ${res.statusCode}: ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as Partial<ClusterCaResponse>;
    if (typeof body.ca_certificate !== 'string') throw new Error(`GET ${PATHS.clusterCa} answered without a CA certificate`);
    const bundle = Array.isArray(body.ca_certificates) ? body.ca_certificates.filter((c): c is string => typeof c === 'string') : [];
    return { ca_certificate: body.ca_certificate, fingerprint: String(body.fingerprint ?? ''), ca_certificates: bundle.length === 0 ? [body.ca_certificate] : bundle };
  } finally {
    void unverified.close().catch(() => undefined);
  }
}

/** sha256 of the CA's DER against the join token's fingerprint; returns it, or throws ClusterCaMismatchError. */
export function checkClusterCa(pem: string, expectedFingerprint: string, managerUrl: string): string {
  let got: string;
  try {
    got = certFingerprint(pem);
  } catch (cause) {
    throw new ClusterCaMismatchError(`the manager at ${managerUrl} sent a cluster CA that is not a certificate`, { cause });
  }
  if (got !== expectedFingerprint) {
    throw new ClusterCaMismatchError(
      `REFUSING TO JOIN: the manager at ${managerUrl} presents a cluster CA with fingerprint ${got.slice(0, 16)}…, but FLOTILLA_JOIN_TOKEN names ${expectedFingerprint.slice(0, 16)}…: ` +
        'this is another cluster (or something between us and the manager). Check CENTRAL_MANAGER_URL and FLOTILLA_JOIN_TOKEN (`flotilla join-token` on the manager).',
    );
  }
  return got;
}

/**
 * Of the CAs the manager sends (current first, the previous one during a rotation), the one the
 * join token names; throws ClusterCaMismatchError, naming the current CA's fingerprint, when none.
 * Only that one is trusted: the others arrived unverified.
 */
export function pickClusterCa(answer: Pick<ClusterCaResponse, 'ca_certificate' | 'ca_certificates'>, expectedFingerprint: string, managerUrl: string): string {
  for (const pem of answer.ca_certificates ?? []) {
    try {
      if (certFingerprint(pem) === expectedFingerprint) return pem;
    } catch {
      // Not a certificate: the check of the current CA below says so.
    }
  }
  checkClusterCa(answer.ca_certificate, expectedFingerprint, managerUrl);
  return answer.ca_certificate;
}

export interface ContainerTlsOptions {
  managerUrl: string;
  containerId: string;
  hostAddress: string;
  joinToken: string | undefined;
  /** FLOTILLA_TLS_CERT/KEY/CA: the operator's certificate for this container. */
  own: OwnCertificates | null;
  /** FLOTILLA_TLS_CA alone: trust this CA instead of fetching and checking the manager's. */
  pinnedCaPem: string | null;
  /** How often to ask the manager for the cluster CA (FLOTILLA_CA_CHECK_INTERVAL). */
  caCheckIntervalMs?: number;
  log: Logger;
}

interface Material {
  keyPem: string;
  /** The leaf, then its chain. */
  certPem: string;
  /** Every trusted CA, PEMs one after another. */
  caPem: string;
}

/** A certificate as the manager answers it (registration, renewal). */
export interface IssuedAnswer {
  certificate: string;
  ca_certificate: string;
  ca_certificates?: string[] | undefined;
  certificate_chain?: string[] | undefined;
}

/** Renews the certificate: sends the CSR (with the container's token and current certificate). */
export type RenewCall = (csrPem: string) => Promise<IssuedAnswer>;
/** Reads GET /api/v1/cluster/ca over the verified client. */
export type CaCheckCall = () => Promise<Pick<ClusterCaResponse, 'ca_certificate' | 'ca_certificates'>>;

const fingerprints = (pems: readonly string[]): string => pems.map((p) => certFingerprint(p)).join(',');

export class ContainerTls {
  private material: Material;
  /** The CAs trusted (current first); null until the one the join token names was checked. */
  private trusted: string[] | null;
  /** Fingerprint of the CA that issued the certificate served now. */
  private issuerFingerprint: string | null = null;
  /** Until the first certificate: a stand-in the server listens with (clients get nothing but /health and /ready). */
  private issued = false;
  private pendingKey: string | null = null;
  private server: HttpsServer | null = null;
  private agent: Agent;
  private renewing: Promise<void> | null = null;
  private watching: Promise<void> | null = null;
  /** Aborted to cut the renewal loop's wait short (a CA rotation seen): replaced after each wait. */
  private wake = new AbortController();
  private readonly stopping = new AbortController();
  private issuedAtMs = 0;
  /** Every certificate this process served with, oldest first (status, tests). */
  readonly history: Array<{ serial: string; notAfter: string }> = [];

  private constructor(
    private readonly o: ContainerTlsOptions,
    material: Material,
    caPem: string | null,
  ) {
    this.material = material;
    this.trusted = caPem === null ? null : [caPem];
    this.agent = this.newAgent();
  }

  static async create(o: ContainerTlsOptions): Promise<ContainerTls> {
    if (o.own !== null) {
      const tls = new ContainerTls(o, { keyPem: o.own.keyPem, certPem: o.own.certPem, caPem: o.own.caPem }, o.own.caPem);
      tls.issued = true;
      tls.record();
      return tls;
    }
    const standIn = await selfSigned(o.containerId);
    return new ContainerTls(o, { ...standIn, caPem: o.pinnedCaPem ?? standIn.certPem }, o.pinnedCaPem);
  }

  /** True with bring-your-own certificates: nothing to ask the manager for. */
  get ownCertificates(): boolean {
    return this.o.own !== null;
  }

  get hasCertificate(): boolean {
    return this.issued;
  }

  get certificate(): { serial: string; notAfter: string } | null {
    return this.issued ? (this.history.at(-1) ?? null) : null;
  }

  httpsOptions(): ServerOptions {
    return secureOptions(this.material);
  }

  attach(server: HttpsServer): void {
    this.server = server;
  }

  /** The client pool for the next call: the cluster CA, and this container's certificate once it has one. */
  dispatcher(): Dispatcher {
    return this.agent;
  }

  private newAgent(): Agent {
    const connect = this.issued
      ? { ca: this.material.caPem, cert: this.material.certPem, key: this.material.keyPem }
      : this.trusted === null
        ? {}
        : { ca: this.trusted.join('') };
    return new Agent({ connect });
  }

  private record(): void {
    const info = certificateInfo(this.material.certPem);
    this.history.push({ serial: info.serial, notAfter: info.notAfter.toISOString() });
  }

  /**
   * The cluster CA, checked against the join token before it is trusted. Retries while the
   * manager does not answer (like joining does); resolves false when `signal` aborted first.
   * Throws ClusterCaMismatchError on a CA that is not the join token's.
   */
  async ensureCa(signal: AbortSignal): Promise<boolean> {
    if (this.trusted !== null) return true;
    const expected = this.o.joinToken === undefined ? undefined : parseJoinToken(this.o.joinToken)?.fingerprint;
    if (expected === undefined) {
      throw new ContainerTlsError('joining over HTTPS needs FLOTILLA_JOIN_TOKEN (its fingerprint is how the cluster CA is checked) or the CA itself in FLOTILLA_TLS_CA');
    }
    for (let attempt = 0; !signal.aborted; attempt += 1) {
      let answer: ClusterCaResponse;
      try {
        answer = await fetchClusterTrust(this.o.managerUrl, signal);
      } catch (err) {
        if (signal.aborted) return false;
        const delay = backoffDelay(attempt);
        this.o.log.warn({ attempt: attempt + 1, retryInMs: delay, manager: this.o.managerUrl }, `cannot read the cluster CA from the manager (${(err as Error).message}); retrying in ${(delay / 1_000).toFixed(1)} s`);
        await sleep(delay, signal);
        continue;
      }
      const pem = pickClusterCa(answer, expected, this.o.managerUrl);
      this.trusted = [pem];
      this.swapAgent();
      this.o.log.info({ fingerprint: expected, rotating: pem !== answer.ca_certificate }, 'cluster CA checked against the join token: trusting it from now on');
      return true;
    }
    return false;
  }

  /** A new key pair, kept here, and its CSR for the manager (at registration and renewal). */
  async newCsr(): Promise<string> {
    const { keyPem, csrPem } = await newKeyAndCsr(this.o.containerId, [this.o.hostAddress]);
    this.pendingKey = keyPem;
    return csrPem;
  }

  /** Fingerprints of the CAs trusted now (current first): the ones the manager's cluster fingerprint may be. */
  trustedFingerprints(): string[] {
    return (this.trusted ?? []).map((p) => certFingerprint(p));
  }

  /**
   * Starts serving and calling with the certificate the manager issued for the last CSR. The
   * answer came over a connection verified against the CAs trusted so far (checked against the
   * join token at first), so its bundle is trusted from now on. The certificate must be one of
   * the CA the answer names.
   */
  accept(answer: IssuedAnswer): void {
    if (this.pendingKey === null) throw new ContainerTlsError('a certificate came without a CSR of ours');
    const bundle = answer.ca_certificates === undefined || answer.ca_certificates.length === 0 ? [answer.ca_certificate] : answer.ca_certificates;
    let issuedByCa = false;
    try {
      issuedByCa = new NodeX509(answer.certificate).checkIssued(new NodeX509(answer.ca_certificate)) && new NodeX509(answer.certificate).verify(new NodeX509(answer.ca_certificate).publicKey);
    } catch (cause) {
      throw new ClusterCaMismatchError('the manager returned a certificate or CA that cannot be read', { cause });
    }
    if (!issuedByCa || !bundle.includes(answer.ca_certificate)) {
      throw new ClusterCaMismatchError('the manager returned a certificate that its cluster CA did not issue');
    }
    this.material = { keyPem: this.pendingKey, certPem: answer.certificate + (answer.certificate_chain ?? []).join(''), caPem: bundle.join('') };
    this.trusted = bundle;
    this.issuerFingerprint = certFingerprint(answer.ca_certificate);
    this.pendingKey = null;
    this.issued = true;
    this.issuedAtMs = Date.now();
    this.server?.setSecureContext(secureOptions(this.material));
    this.swapAgent();
    this.record();
    const info = certificateInfo(answer.certificate);
    this.o.log.info({ serial: info.serial, notAfter: info.notAfter.toISOString(), ca: this.issuerFingerprint.slice(0, 16), trusted: bundle.length }, 'serving with a certificate from the cluster CA');
  }

  /** Trust exactly `bundle` from now on (the CA check after `ca rotate --finish` drops the previous CA). */
  private retrust(bundle: string[]): void {
    this.trusted = bundle;
    this.material = { ...this.material, caPem: bundle.join('') };
    this.server?.setSecureContext(secureOptions(this.material));
    this.swapAgent();
    this.o.log.info({ trusted: bundle.map((p) => certFingerprint(p).slice(0, 16)) }, 'the cluster CAs trusted changed: trusting the bundle the manager names');
  }

  /** New calls use the new pool; the old one closes once its requests in flight are done. */
  private swapAgent(): void {
    const old = this.agent;
    this.agent = this.newAgent();
    void old.close().catch(() => undefined);
  }

  /** When to renew: two thirds into the life of the certificate (counted from when we got it). */
  renewInMs(nowMs: number = Date.now()): number | null {
    if (!this.issued || this.ownCertificates) return null;
    const notAfter = certificateInfo(this.material.certPem).notAfter.getTime();
    return Math.max(0, this.issuedAtMs + (notAfter - this.issuedAtMs) * RENEW_AT_SHARE - nowMs);
  }

  /**
   * Renews at two thirds of each certificate's life, for as long as the container runs. A failed
   * renewal is retried with backoff until the certificate expires; then it stops and says so (the
   * container keeps its lease in Redis, but can no longer call the manager or be called by peers).
   */
  startRenewal(renew: RenewCall): void {
    if (this.renewing !== null || this.ownCertificates) return;
    this.renewing = (async () => {
      const signal = this.stopping.signal;
      while (!signal.aborted) {
        const wait = this.renewInMs();
        if (wait === null) return;
        await sleep(wait, AbortSignal.any([signal, this.wake.signal]));
        if (signal.aborted) return;
        if (this.wake.signal.aborted) this.wake = new AbortController();
        const notAfter = certificateInfo(this.material.certPem).notAfter.getTime();
        for (let attempt = 0; !signal.aborted; attempt += 1) {
          try {
            this.accept(await renew(await this.newCsr()));
            break;
          } catch (err) {
            if (err instanceof ClusterCaMismatchError) throw err;
            const delay = backoffDelay(attempt, RENEW_RETRY_INITIAL_MS);
            if (Date.now() + delay >= notAfter) {
              this.o.log.error({ err: (err as Error).message }, 'could not renew the TLS certificate before it expired: calls to the manager and peers will fail until the container restarts');
              return;
            }
            this.o.log.warn({ err: (err as Error).message, attempt: attempt + 1, retryInMs: delay }, 'could not renew the TLS certificate; trying again');
            await sleep(delay, signal);
          }
        }
      }
    })().catch((err: unknown) => this.o.log.error({ err: (err as Error).message }, 'certificate renewal stopped'));
  }

  /**
   * Every `caCheckIntervalMs`, the cluster CA from the manager (over the verified client): a CA
   * that signs and did not issue our certificate means a rotation, so renew now; a different
   * bundle (the previous CA dropped) is trusted as it is. Failures are logged and tried again at
   * the next interval: the certificate stays valid meanwhile. Stops with stop().
   */
  startCaWatch(check: CaCheckCall): void {
    if (this.watching !== null || this.ownCertificates || this.o.pinnedCaPem !== null) return;
    const every = this.o.caCheckIntervalMs ?? DEFAULT_CA_CHECK_INTERVAL_MS;
    this.watching = (async () => {
      const signal = this.stopping.signal;
      while (!signal.aborted) {
        await sleep(every, signal);
        if (signal.aborted || !this.issued) continue;
        try {
          const answer = await check();
          const bundle = answer.ca_certificates === undefined || answer.ca_certificates.length === 0 ? [answer.ca_certificate] : answer.ca_certificates;
          if (certFingerprint(answer.ca_certificate) !== this.issuerFingerprint) {
            this.o.log.info({ ca: certFingerprint(answer.ca_certificate).slice(0, 16) }, 'the cluster CA changed (rotation): renewing the certificate now');
            this.wake.abort();
          } else if (this.trusted === null || fingerprints(bundle) !== fingerprints(this.trusted)) {
            this.retrust(bundle);
          }
        } catch (err) {
          if (signal.aborted) return;
          this.o.log.warn({ err: (err as Error).message, retryInMs: every }, 'could not check the cluster CA at the manager; trying again');
        }
      }
    })().catch((err: unknown) => this.o.log.error({ err: (err as Error).message }, 'the cluster CA check stopped'));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.renewing;
    await this.watching;
    await this.agent.close().catch(() => undefined);
  }
}
