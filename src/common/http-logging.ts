import { LogController } from 'fastify';

/**
 * Per-request access logs are off: probes and lease heartbeats would drown everything else.
 * Routes log what matters themselves (registrations, removals, failures).
 */
export function quietRequests(): LogController {
  return new LogController({ disableRequestLogging: true });
}
