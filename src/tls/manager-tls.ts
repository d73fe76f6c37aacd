/**
 * The manager's TLS: the certificate it serves with (issued to itself by the cluster CA at start
 * and again at two thirds of its life, or the operator's own), the CA it trusts for client
 * certificates, and a client (undici dispatcher) for its own calls to containers that shows its
 * certificate, as containers require. It looks at the key directory's CA each CA_RELOAD_INTERVAL_MS
 * and takes a new certificate at once when the CA changed: during a rotation (`ca rotate`) it
 * serves [leaf of the new CA, cross certificate] and trusts both CAs; after `--finish` the new only.
 */
import type { Server as HttpsServer, ServerOptions } from 'node:https';
import { hostname } from 'node:os';
import { Agent, type Dispatcher } from 'undici';
import type { Logger } from '../common/logger.js';
import type { TlsSettings } from './config.js';
import type { CertificateIssuer, ClusterTrust } from './issuer.js';
import { NoClusterCaError } from './issuer.js';
import { certificateInfo } from './cert-info.js';

/** Share of a certificate's life after which it is replaced (containers renew at the same point). */
export const RENEW_AT_SHARE = 2 / 3;
/** After a failed self-renewal, try again this soon (it is local: only a broken key directory fails). */
export const SELF_RENEW_RETRY_MS = 5_000;
/** How often the manager looks for a changed cluster CA (a small file read; the key directory's own pace). */
export const CA_RELOAD_INTERVAL_MS = 1_000;

interface Material {
  /** The leaf, then the chain above it (the cross certificate during a CA rotation). */
  certPem: string;
  keyPem: string;
  /** Every CA trusted for peers' certificates (PEMs one after another). */
  caPem: string;
  /** The trust this was issued under (ClusterTrust.stamp); null for bring-your-own. */
  stamp?: string | null;
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
  private watchTimer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  /** When the current certificate was made: its notBefore is set back for clock skew, so not that. */
  private issuedAtMs = Date.now();

  private constructor(
    material: Material,
    private readonly renew: (() => Promise<Material>) | null,
    private readonly log: Logger,
    private readonly trustNow: (() => ClusterTrust | null) | null = null,
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
    const issue = async (): Promise<Material> => {
      const got = await issuer.issueManager(managerId, names);
      return { certPem: got.certPem + got.trust.chain.join(''), keyPem: got.keyPem, caPem: got.trust.bundle.join(''), stamp: got.trust.stamp };
    };
    const tls = new ManagerTls(await issue(), issue, log, () => issuer.trust());
    log.info({ names, notAfter: tls.notAfter.toISOString() }, 'TLS on: serving with a certificate from the cluster CA');
    return tls;
  }

  /** Every CA trusted for peers (PEMs one after another). */
  get caPem(): string {
    return this.material.caPem;
  }

  /** Bring-your-own: the operator's CA (what GET /cluster/ca publishes); null when the cluster CA issues. */
  get ownCaPem(): string | null {
    return this.renew === null ? this.material.caPem : null;
  }

  get notAfter(): Date {
    // certPem may hold a chain: node:crypto reads its first certificate, the leaf.
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
    this.watchCa();
  }

  /** A changed CA (rotate, finish, init --force): a new certificate now, not at two thirds of this one. */
  private watchCa(): void {
    if (this.trustNow === null || this.stopped) return;
    this.watchTimer = setTimeout(() => {
      let changed = false;
      try {
        changed = this.trustNow?.()?.stamp !== this.material.stamp;
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'could not read the cluster CA; keeping the current certificate');
      }
      if (changed && this.renewing === null) {
        this.log.info('the cluster CA changed: taking a certificate of the current CA now');
        if (this.timer !== null) clearTimeout(this.timer);
        void this.renewNow();
      }
      this.watchCa();
    }, CA_RELOAD_INTERVAL_MS);
    this.watchTimer.unref();
  }

  private schedule(delayMs?: number): void {
    if (this.renew === null || this.stopped) return;
    const at = this.issuedAtMs + (this.notAfter.getTime() - this.issuedAtMs) * RENEW_AT_SHARE;
    this.timer = setTimeout(() => void this.renewNow(), delayMs ?? Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private async renewNow(): Promise<void> {
    if (this.renew === null || this.stopped || this.renewing !== null) return;
    this.renewing = this.renewOnce().finally(() => {
      this.renewing = null;
    });
    await this.renewing;
  }

  private async renewOnce(): Promise<void> {
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
    if (this.watchTimer !== null) clearTimeout(this.watchTimer);
    await this.renewing;
    await Promise.all([this.agent.close(), this.probeAgent.close()]).catch(() => undefined);
  }
}
