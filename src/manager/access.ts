/**
 * Every route declares who may call it (`config.access`). Authentication attaches in one place,
 * the `onRequest` hook of the manager app (../auth/authenticator.ts), which reads this to decide;
 * the roles each level admits are in ../auth/roles.ts.
 */
export type Access =
  /** open to anyone (health probes, the API description, the public key set) */
  | 'public'
  /** viewer and above */
  | 'read'
  /** operator and above: deploy, migrate, send, cordon, drain */
  | 'operate'
  /** admin only */
  | 'admin'
  /** a container acting for itself (heartbeat, deregister: its token's `cid` is the `:id`), or an admin */
  | 'container'
  /** registration: a join token, a container re-registering itself, or an admin */
  | 'join';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}
