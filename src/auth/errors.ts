/** Errors of the key directory and of token checks, each small and with a `cause` where one exists. */

/** The key directory is missing, unreadable or holds something we cannot use. */
export class KeyDirError extends Error {
  override readonly name = 'KeyDirError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export type AuthFailureCode =
  | 'missing_token'
  | 'invalid_token'
  | 'token_expired'
  | 'key_retired'
  | 'token_revoked'
  | 'invalid_join_token'
  | 'forbidden'
  /** TLS on: a container token without a client certificate, or with one the cluster CA did not issue. */
  | 'client_certificate_required'
  | 'client_certificate_invalid';

/** A token that proves nothing (401) or a caller who may not (403). */
export class AuthFailure extends Error {
  override readonly name = 'AuthFailure';
  constructor(
    readonly code: AuthFailureCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get statusCode(): 401 | 403 {
    return this.code === 'forbidden' ? 403 : 401;
  }
}
