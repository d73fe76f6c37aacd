import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HealthResponse, ReadyResponse } from '../../protocol/api.js';
import { PATHS } from '../../protocol/paths.js';
import { VERSION } from '../../common/version.js';
import type { ManagerContext } from '../context.js';

/** How long /ready waits for the store before saying not ready. */
export const READY_PING_TIMEOUT_MS = 1_000;

export const healthRoutes: FastifyPluginAsyncTypebox<ManagerContext> = async (app, ctx) => {
  app.get(
    PATHS.health,
    { config: { access: 'public' }, schema: { summary: 'Liveness: the manager process answers', tags: ['health'], response: { 200: HealthResponse } } },
    async () => ({ status: 'healthy', timestamp: new Date().toISOString(), version: VERSION }),
  );

  app.get(
    PATHS.ready,
    { config: { access: 'public' }, schema: { summary: 'Readiness: the store answers within 1 s (503 otherwise)', tags: ['health'], response: { 200: ReadyResponse, 503: ReadyResponse } } },
    async (_req, reply) => {
      const timestamp = new Date().toISOString();
      try {
        const rtt = await Promise.race([
          ctx.store.ping(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${READY_PING_TIMEOUT_MS} ms`)), READY_PING_TIMEOUT_MS).unref()),
        ]);
        return { status: 'ready' as const, timestamp, redis_rtt_ms: Math.round(rtt * 100) / 100 };
      } catch (err) {
        return reply.code(503).send({ status: 'not_ready' as const, timestamp, reason: `store: ${(err as Error).message}` });
      }
    },
  );
};
