/**
 * What a container shows the manager: its own token once it has one (handed out at registration,
 * renewed on heartbeats), else FLOTILLA_TOKEN when set, else the join token (FLOTILLA_JOIN_TOKEN),
 * which only registers. Keeping its own token means a container re-registers after a lapse even
 * when the join token was rotated since: rotation stops new joins, not running containers.
 */
import { parseJoinToken } from '../auth/join-token.js';

/** A token this close to its expiry is not used any more (clock skew, request time)... */
const EXPIRY_MARGIN_MS = 30_000;
/** ...or, for short-lived tokens, this share of its life. */
const EXPIRY_MARGIN_SHARE = 0.1;
/** A container that renews its lease in Redis asks for a new token this far into the old one's life. */
const REFRESH_AT_SHARE = 0.7;
/** Bounds the refresh loop when the manager does not hand a new token (clock skew, an error). */
export const REFRESH_MIN_DELAY_MS = 1_000;

export class ClusterMismatchError extends Error {
  override readonly name = 'ClusterMismatchError';
}

export class ContainerCredentials {
  private own: { token: string; expiresAtMs: number; marginMs: number; acceptedAtMs: number } | null = null;

  constructor(
    private readonly joinToken: string | undefined,
    private readonly configuredToken: string | undefined,
  ) {}

  /** The bearer token for the next call; undefined when none is configured (authentication off). */
  readonly current = (): string | undefined => {
    if (this.own !== null && this.own.expiresAtMs - this.own.marginMs > Date.now()) return this.own.token;
    return this.configuredToken ?? this.joinToken;
  };

  get hasOwnToken(): boolean {
    return this.own !== null;
  }

  /** Keeps a token the manager handed out (registration, heartbeat renewal). */
  accept(token: string | undefined, expiresAt: string | undefined): void {
    if (token === undefined) return;
    const parsed = expiresAt === undefined ? Number.NaN : Date.parse(expiresAt);
    const expiresAtMs = Number.isNaN(parsed) ? Number.POSITIVE_INFINITY : parsed;
    const marginMs = Math.min(EXPIRY_MARGIN_MS, Math.max(0, (expiresAtMs - Date.now()) * EXPIRY_MARGIN_SHARE));
    this.own = { token, expiresAtMs, marginMs, acceptedAtMs: Date.now() };
  }

  /**
   * When to ask for a fresh token: two thirds into the own token's life (the manager hands a new
   * one in the last third), never sooner than REFRESH_MIN_DELAY_MS; null without an own token.
   */
  refreshInMs(nowMs: number = Date.now()): number | null {
    if (this.own === null || !Number.isFinite(this.own.expiresAtMs)) return null;
    const at = this.own.acceptedAtMs + (this.own.expiresAtMs - this.own.acceptedAtMs) * REFRESH_AT_SHARE;
    return Math.max(REFRESH_MIN_DELAY_MS, at - nowMs);
  }

  /** The manager refused our own token (expired, its key retired): fall back to the configured ones. */
  forget(): void {
    this.own = null;
  }

  /**
   * The manager's cluster fingerprint against the one in the join token. This catches a container
   * pointed at the wrong cluster's manager; over plain HTTP it is no cryptographic proof. Over
   * https the CA itself is checked first (../tls/container-tls.ts), which is (docs/security.md §3);
   * there the CAs that layer trusts pass too (after a CA rotation, the token names the previous one).
   */
  checkFingerprint(managerFingerprint: string | undefined, managerUrl: string, trustedCaFingerprints: readonly string[] = []): void {
    const expected = this.joinToken === undefined ? undefined : parseJoinToken(this.joinToken)?.fingerprint;
    if (expected === undefined || managerFingerprint === undefined) return;
    // A CA the TLS layer trusts (checked against the join token, or learned over a channel verified by it).
    if (trustedCaFingerprints.includes(managerFingerprint)) return;
    if (expected !== managerFingerprint) {
      throw new ClusterMismatchError(
        `the manager at ${managerUrl} belongs to another cluster (fingerprint ${managerFingerprint.slice(0, 12)}…, the join token says ${expected.slice(0, 12)}…): check CENTRAL_MANAGER_URL and FLOTILLA_JOIN_TOKEN`,
      );
    }
  }
}
