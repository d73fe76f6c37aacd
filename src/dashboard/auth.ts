/**
 * Sign-in state: a bearer token (a JWT) kept in sessionStorage for this tab, or the choice to go on
 * without one while the manager requires none. The token may arrive in the address (`flotilla dev`
 * prints `/dashboard/#token=<jwt>`): it is read and removed from the address bar at once.
 *
 * The JWT's payload is decoded for display and to hide actions a role may not take; nothing is
 * verified here. The manager decides (401: bad or missing token, 403: the role may not).
 */

const TOKEN_KEY = 'flotilla.token';
const ANONYMOUS_KEY = 'flotilla.anonymous';

export type Role = 'admin' | 'operator' | 'viewer' | 'container';

export interface Claims {
  sub?: string;
  role?: string;
  exp?: number;
}

/** Roles that may deploy, migrate, cordon and drain (the API's `operate` access). */
const OPERATING_ROLES: readonly string[] = ['admin', 'operator'] satisfies Role[];

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signedInAnonymously(): boolean {
  return sessionStorage.getItem(ANONYMOUS_KEY) === '1';
}

export function keepToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.removeItem(ANONYMOUS_KEY);
}

export function keepAnonymous(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.setItem(ANONYMOUS_KEY, '1');
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ANONYMOUS_KEY);
}

/**
 * Takes `token=<jwt>` out of the fragment (`#token=…`, possibly with other `&`-separated parts),
 * keeps it, and rewrites the address without it, so it is not left in history or a shared link.
 */
export function takeTokenFromFragment(): string | null {
  const fragment = location.hash.replace(/^#/, '');
  if (!/(^|&)token=/.test(fragment)) return null;
  const token = new URLSearchParams(fragment).get('token')?.trim() ?? '';
  history.replaceState(null, '', `${location.pathname}${location.search}#/overview`);
  if (token === '') return null;
  keepToken(token);
  return token;
}

/** The payload of a JWT, or null when the token is not one (an opaque token is still sent). */
export function decodeClaims(token: string | null): Claims | null {
  if (token === null) return null;
  const part = token.split('.')[1];
  if (part === undefined) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    const claims = JSON.parse(json) as unknown;
    return typeof claims === 'object' && claims !== null ? (claims as Claims) : null;
  } catch {
    return null;
  }
}

/**
 * Whether to show the actions. Without a token, or with one that is not a JWT, the page cannot
 * know: it shows them and lets the API answer (a 403 is shown as such).
 */
export function mayOperate(claims: Claims | null): boolean {
  if (claims === null || claims.role === undefined) return true;
  return OPERATING_ROLES.includes(claims.role);
}

export function describeUser(claims: Claims | null, hasToken: boolean): string {
  if (!hasToken) return 'no token';
  if (claims === null) return 'token';
  return `${claims.sub ?? '?'} (${claims.role ?? 'no role'})`;
}
