/**
 * What the CLI says and which exit code it returns when a command fails, so scripts can tell a
 * refusal by the manager (1) from a mistake on the command line (2) from a manager they cannot
 * reach (3) from a wait that ended before the cluster was done (4). Expected failures get one line
 * on stderr, never a stack trace.
 */
import { ApiError, ManagerUnreachableError } from '../client/api-client.js';
import { ConfigError } from '../common/env.js';
import { NotAnEventStreamError } from '../client/event-stream.js';

export const EXIT_API_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;
/** The manager took the request, but it was not finished when the wait ended (e.g. a drain). */
export const EXIT_TIMED_OUT = 4;

/** A command that waits for the cluster to get somewhere gave up; the message says where it got to. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

export interface Failure {
  message: string;
  exitCode: number;
}

/** Answers that mean "you are not allowed": the token is missing, expired or lacks the role. */
const AUTH_STATUS_CODES = new Set([401, 403]);

export interface FailureContext {
  /** What to say for a 404, e.g. `container "x" not found`; else the manager's own message. */
  notFound?: string;
}

/** The one-line message and exit code for an expected error; undefined for a bug (rethrow it). */
/** What undici (node's TLS) says when the server's certificate is not one we trust. */
const UNTRUSTED_CERT_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function describeFailure(err: unknown, context: FailureContext = {}): Failure | undefined {
  const tlsCode = err instanceof ManagerUnreachableError ? (err.cause as { code?: string } | undefined)?.code : undefined;
  if (err instanceof ManagerUnreachableError && tlsCode !== undefined && UNTRUSTED_CERT_CODES.has(tlsCode)) {
    return {
      exitCode: EXIT_UNREACHABLE,
      message:
        `error: the manager at ${err.url} has a TLS certificate this command does not trust (${tlsCode}). ` +
        "Pass the cluster CA certificate with --ca-file or FLOTILLA_CA_FILE (ca-cert.pem in the manager's key directory, or the CA of FLOTILLA_TLS_CA).",
    };
  }
  if (err instanceof ManagerUnreachableError) {
    return {
      exitCode: EXIT_UNREACHABLE,
      message:
        `error: ${err.message}. Check the URL (--url or FLOTILLA_URL; containers use CENTRAL_MANAGER_URL), ` +
        'that the manager is running, and that no firewall blocks the port.',
    };
  }
  if (err instanceof ApiError) {
    if (err.statusCode === 404 && context.notFound !== undefined) {
      return { exitCode: EXIT_API_ERROR, message: `error: ${context.notFound}` };
    }
    // A body without our `message` means something other than the manager answered (a proxy, a
    // different service on that port): show what it said, with the path, to make that visible.
    const managerMessage = typeof err.body?.message === 'string' ? err.body.message : undefined;
    if (managerMessage === undefined) return { exitCode: EXIT_API_ERROR, message: `error: ${err.message}` };
    const hint = AUTH_STATUS_CODES.has(err.statusCode) ? '; pass a token with --token or FLOTILLA_TOKEN' : '';
    return { exitCode: EXIT_API_ERROR, message: `error: ${managerMessage} (HTTP ${err.statusCode}${hint})` };
  }
  if (err instanceof NotAnEventStreamError) return { exitCode: EXIT_API_ERROR, message: `error: ${err.message}` };
  if (err instanceof ConfigError) return { exitCode: EXIT_USAGE, message: `error: ${err.message}` };
  if (err instanceof WaitTimeoutError) return { exitCode: EXIT_TIMED_OUT, message: `error: ${err.message}` };
  return undefined;
}
