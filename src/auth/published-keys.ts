/**
 * The cluster's public token keys as a manager publishes them (`/.well-known/jwks.json`), for a
 * host without the key directory: a container checking who calls its own port. Read on first
 * use, again once `refreshMs` has passed (so a key retired on the manager stops being accepted
 * within that time), and when a token names a key not seen yet (a rotation) — at most once per
 * `retryMs`, so a stream of made-up key ids cannot turn into a stream of fetches. While the
 * manager cannot be reached, the keys last read are used.
 */
import type { JSONWebKeySet } from 'jose';
import { keyIdOf, verifyTokenWithJwks, type Principal } from './tokens.js';

/** The manager serves the set with `max-age=60`: read it as often. */
export const DEFAULT_JWKS_REFRESH_MS = 60_000;
/**
 * The least time between two reads of the set (unknown key ids, failed reads): a token of a key
 * rotated in a moment ago waits at most about this (plus the manager's own re-read of its keys).
 */
export const JWKS_RETRY_MS = 1_000;

/** No key set has been read yet: tokens cannot be checked (503, not 401: the caller may be right). */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface PublishedKeysOptions {
  /** Reads the manager's key set (bounded by the caller's own timeout). */
  fetchJwks: () => Promise<JSONWebKeySet>;
  refreshMs?: number;
  retryMs?: number;
  /** Told about a failed read (logs), with the keys last read still in use, if any. */
  onReadError?: (err: Error) => void;
}

export class PublishedKeys {
  private jwks: JSONWebKeySet | null = null;
  private readAtMs = Number.NEGATIVE_INFINITY;
  private attemptAtMs = Number.NEGATIVE_INFINITY;
  private lastError: Error | null = null;
  private reading: Promise<void> | null = null;
  private readonly refreshMs: number;
  private readonly retryMs: number;

  constructor(private readonly o: PublishedKeysOptions) {
    this.refreshMs = o.refreshMs ?? DEFAULT_JWKS_REFRESH_MS;
    this.retryMs = o.retryMs ?? JWKS_RETRY_MS;
  }

  /** The caller a token names, or AuthFailure (401) / KeysUnavailableError (503). */
  async verify(token: string, nowMs: number = Date.now()): Promise<Principal> {
    const kid = keyIdOf(token);
    const stale = nowMs - this.readAtMs >= this.refreshMs;
    const unknown = this.jwks !== null && !this.jwks.keys.some((k) => k.kid === kid);
    if ((stale || unknown) && nowMs - this.attemptAtMs >= this.retryMs) await this.read(nowMs);
    if (this.jwks === null) {
      throw new KeysUnavailableError(`cannot check tokens yet: the manager's public keys could not be read (${this.lastError?.message ?? 'not read yet'})`, { cause: this.lastError });
    }
    return verifyTokenWithJwks(this.jwks, token, nowMs);
  }

  /** One read at a time; callers arriving meanwhile wait for it. */
  private read(nowMs: number): Promise<void> {
    this.reading ??= (async () => {
      this.attemptAtMs = nowMs;
      try {
        const jwks = await this.o.fetchJwks();
        if (!Array.isArray(jwks?.keys)) throw new Error('the answer is not a JSON Web Key Set');
        this.jwks = jwks;
        this.readAtMs = Date.now();
        this.lastError = null;
      } catch (err) {
        this.lastError = err as Error;
        this.o.onReadError?.(err as Error);
      } finally {
        this.reading = null;
      }
    })();
    return this.reading;
  }
}
