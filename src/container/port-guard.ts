/**
 * Who may call a container's own port (8001) beyond its open paths. With TLS on: a client
 * certificate from the cluster CA (the manager, peers, tools given one by `flotilla ca issue`).
 * With TLS off in a cluster that authenticates (the container was given a join token or a token):
 * a bearer token of this cluster, any role (a viewer's for a person, a scraper's for Prometheus,
 * a container's own), checked against the keys the manager publishes. Repeated failures from one
 * address get 429, as on the manager.
 */
import type { Socket } from 'node:net';
import { AuthFailure, bearerToken, FailureLimiter, KeysUnavailableError, type PublishedKeys } from '../auth/index.js';
import { clusterPeerProblem } from '../tls/peer.js';

/** Why a call is refused: the JSON error body's fields and the status. */
export interface Refusal {
  statusCode: 401 | 429 | 503;
  error: string;
  message: string;
  /** Seconds, for a Retry-After header. */
  retryAfterS?: number;
}

export interface GuardedRequest {
  headers: { authorization?: string | undefined };
  socket: Socket;
  ip: string;
}

/** Null: the call may go on. */
export type PortGuard = (req: GuardedRequest) => Promise<Refusal | null>;

/** TLS on: the connection must carry a client certificate the cluster CA issued. */
export function certificateGuard(): PortGuard {
  return async (req) => {
    const problem = clusterPeerProblem(req.socket);
    return problem === null ? null : { statusCode: 401, error: problem.code, message: problem.message };
  };
}

/** TLS off, authentication on: a bearer token of this cluster. */
export function tokenGuard(keys: PublishedKeys, limiter: FailureLimiter = new FailureLimiter()): PortGuard {
  return async (req) => {
    const waitMs = limiter.retryAfterMs(req.ip);
    if (waitMs > 0) {
      const retryAfterS = Math.ceil(waitMs / 1_000);
      return { statusCode: 429, error: 'too_many_auth_failures', message: `too many failed authentications from ${req.ip}; retry in ${retryAfterS} s`, retryAfterS };
    }
    try {
      await keys.verify(bearerToken(req.headers.authorization));
      return null;
    } catch (err) {
      if (err instanceof KeysUnavailableError) return { statusCode: 503, error: 'keys_unavailable', message: err.message };
      if (!(err instanceof AuthFailure)) throw err;
      limiter.failed(req.ip);
      return { statusCode: 401, error: err.code, message: err.message };
    }
  };
}
