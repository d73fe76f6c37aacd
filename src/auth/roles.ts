/**
 * Who may call what: the four roles a token carries and the access levels routes declare
 * (../manager/access.ts). One table, read by the authenticator and by the role-matrix test.
 */
import type { Access } from '../manager/access.js';

export const ROLES = ['admin', 'operator', 'viewer', 'container'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/**
 * The roles each access level admits. `container` and `join` routes also check that a container
 * token acts for its own container only (the authenticator and the register route do that).
 */
export const ROLES_FOR_ACCESS: Readonly<Record<Exclude<Access, 'public'>, readonly Role[]>> = {
  read: ['admin', 'operator', 'viewer'],
  operate: ['admin', 'operator'],
  admin: ['admin'],
  container: ['admin', 'container'],
  join: ['admin', 'container'],
};

export function roleAllows(role: Role, access: Access): boolean {
  return access === 'public' || ROLES_FOR_ACCESS[access].includes(role);
}
