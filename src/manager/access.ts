/**
 * Every route declares who may call it (`config.access`). Authentication attaches in one place,
 * the `onRequest` hook of the API scope in app.ts, and reads this to decide; until it exists the
 * declarations document intent and a test checks that every route has one.
 */
export type Access =
  /** open to anyone (health probes) */
  | 'public'
  /** viewer and above */
  | 'read'
  /** operator and above: deploy, migrate, send, cordon, drain */
  | 'operate'
  /** admin only */
  | 'admin'
  /** a container acting for itself (register, heartbeat), or an admin */
  | 'container';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}
