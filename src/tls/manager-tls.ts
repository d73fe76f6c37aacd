/**
 * The manager's TLS: the certificate it serves with (issued to itself by the cluster CA at start
 * and again at two thirds of its life, or the operator's own), the CA it trusts for client
 * certificates, and a client (undici dispatcher) for its own calls to containers that shows its
 * certificate, as containers require.
 */
import type { Server as HttpsServer, ServerOptions } from 'node:https';
import { hostname } from 'node:os';
import { Agent, type Dispatcher } from 'undici';
import type { Logger } from '../common/logger.js';
import type { TlsSettings } from './config.js';
import type { CertificateIssuer } from './issuer.js';
import { NoClusterCaError } from './issuer.js';
import { certificateInfo } from './cert-info.js';

/** Share of a certificate's life after which it is replaced (containers renew at the same point). */
export const RENEW_AT_SHARE = 2 / 3;
/** After a failed self-renewal, try again this soon (it is local: only a broken key directory fails). */
export const SELF_RENEW_RETRY_MS = 5_000;

interface Material {
  certPem: string;
  keyPem: string;
  caPem: string;
}

export function secureOptions(m: Material): ServerOptions {
  // Ask every client for a certificate, refuse none in the handshake: the routes decide (./peer.ts).
  return { key: m.keyPem, cert: m.certPem, ca: m.caPem, requestCert: true, rejectUnauthorized: false };
}

export function clientAgent(m: Material, opts: { verifyServer?: boolean } = {}): Agent {
  return new Agent({ connect: { ca: m.caPem, cert: m.certPem, key: m.keyPem, rejectUnauthorized: opts.verifyServer ?? true } });
}

export class ManagerTls {
  private material: Material;
  private server: HttpsServer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private agent: Agent;
  private probeAgent: Agent;
  private stopped = false;
  /** When the current certificate was made: its notBefore is set back for clock skew, so not that. */
  private issuedAtMs = Date.now();

  private constructor(
    material: Material,
    private readonly renew: (() => Promise<Material>) | null,
    private readonly log: Logger,
  ) {
    this.material = material;
    this.agent = clientAgent(material);
    this.probeAgent = clientAgent(material, { verifyServer: false });
  }

  /**
   * Bring-your-own files when given; else a certificate from the cluster CA for `names` (the
   * external address, this host's name, loopback, FLOTILLA_TLS_SANS). Throws NoClusterCaError
   * when neither exists.
   */
  static async create(settings: TlsSettings, issuer: CertificateIssuer | null, managerId: string, externalIp: string | undefined, log: Logger): Promise<ManagerTls> {
    if (settings.own !== null) {
      log.info({ cert: settings.own.files.cert, ca: settings.own.files.ca }, 'TLS on with bring-your-own certificates');
      return new ManagerTls({ certPem: settings.own.certPem, keyPem: settings.own.keyPem, caPem: settings.own.caPem }, null, log);
    }
    if (issuer === null) throw new NoClusterCaError('FLOTILLA_TLS=on needs a cluster CA (flotilla ca init) or FLOTILLA_TLS_CERT/KEY/CA');
    const names = [...new Set([...(externalIp === undefined ? [] : [externalIp]), hostname(), '127.0.0.1', '::1', 'localhost', ...settings.extraNames])];
    const issue = async (): Promise<Material> => issuer.issueManager(managerId, names);
    const tls = new ManagerTls(await issue(), issue, log);
    log.info({ names, notAfter: tls.notAfter.toISOString() }, 'TLS on: serving with a certificate from the cluster CA');
    return tls;
  }

  get caPem(): string {
    return this.material.caPem;
  }

  get notAfter(): Date {
    return certificateInfo(this.material.certPem).notAfter;
  }

  httpsOptions(): ServerOptions {
    return secureOptions(this.material);
  }

  /** For calls to containers: trusts the cluster CA, shows the manager's certificate. */
  dispatcher(): Dispatcher {
    return this.agent;
  }

  /** For the reach-back probe, which reports reachability only: shows our certificate, trusts any server. */
  probeDispatcher(): Dispatcher {
    return this.probeAgent;
  }

  /** Starts renewing the served certificate (self-issued ones only). */
  attach(server: HttpsServer): void {
    this.server = server;
    this.schedule();
  }

  private schedule(delayMs?: number): void {
    if (this.renew === null || this.stopped) return;
    const at = this.issuedAtMs + (this.notAfter.getTime() - this.issuedAtMs) * RENEW_AT_SHARE;
    this.timer = setTimeout(() => void this.renewNow(), delayMs ?? Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private async renewNow(): Promise<void> {
    if (this.renew === null || this.stopped) return;
    try {
      const next = await this.renew();
      this.swap(next);
      this.log.info({ serial: certificateInfo(next.certPem).serial, notAfter: this.notAfter.toISOString() }, "renewed the manager's certificate");
      this.schedule();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, `could not renew the manager's certificate; trying again in ${SELF_RENEW_RETRY_MS / 1_000} s`);
      this.schedule(SELF_RENEW_RETRY_MS);
    }
  }

  /** New connections get the new certificate; open ones and requests in flight finish on the old. */
  private swap(next: Material): void {
    this.material = next;
    this.issuedAtMs = Date.now();
    this.server?.setSecureContext(secureOptions(next));
    const old = [this.agent, this.probeAgent];
    this.agent = clientAgent(next);
    this.probeAgent = clientAgent(next, { verifyServer: false });
    for (const a of old) void a.close().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await Promise.all([this.agent.close(), this.probeAgent.close()]).catch(() => undefined);
  }
}
