/**
 * The audit trail: every operator and admin action that the manager carried out (a 2xx answer to
 * a route of access `operate` or `admin` that is not a read) becomes an `api_action` cluster event
 * saying who (token subject and role), what (method, route, its ids) and the answer's status.
 * Written before the answer is sent (onSend), so a client that saw the answer finds the event.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../common/logger.js';
import type { ClusterStore } from '../store/store.js';

const AUDITED = new Set(['operate', 'admin']);

export function who(req: FastifyRequest): { who: string; role: string | null } {
  const c = req.caller;
  if (c === null || c === undefined) return { who: 'anonymous', role: null };
  if (c.kind === 'join') return { who: 'join-token', role: null };
  return { who: c.principal.sub, role: c.principal.role };
}

export function auditHook(store: ClusterStore, log: Logger) {
  return async (req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    const access = req.routeOptions.config?.access;
    if (access === undefined || !AUDITED.has(access) || req.method === 'GET' || reply.statusCode >= 300) return payload;
    try {
      await store.appendEvent('api_action', {
        data: {
          ...who(req),
          method: req.method,
          route: req.routeOptions.url,
          params: req.params ?? {},
          status: reply.statusCode,
          source: req.ip,
        },
      });
    } catch (err) {
      // The action is done; losing its record must not turn it into an error for the caller.
      log.error({ err: (err as Error).message, route: req.routeOptions.url }, 'audit: could not record an action');
    }
    return payload;
  };
}
