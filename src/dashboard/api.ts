/**
 * The page's only way to the manager: `fetch` on the same origin, with `Authorization: Bearer`
 * when signed in with a token. A 401 anywhere means the token is no longer good: the handler
 * given at construction sends the user back to the sign-in page.
 */
import type { ErrorBody } from '../protocol/api.js';
import { API_PREFIX } from '../protocol/paths.js';

/** Paths the page calls that the shared PATHS table does not hold (the lead's latency and logs). */
export const DASHBOARD_API = {
  latency: `${API_PREFIX}/cluster/latency`,
  logs: `${API_PREFIX}/logs`,
  agentMessages: (agentId: string) => `${API_PREFIX}/agents/${agentPath(agentId)}/messages`,
} as const;

/** `type/name` as two encoded path segments. */
export function agentPath(agentId: string): string {
  const slash = agentId.indexOf('/');
  return `${encodeURIComponent(agentId.slice(0, slash))}/${encodeURIComponent(agentId.slice(slash + 1))}`;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly body: Partial<ErrorBody> & Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(typeof body.message === 'string' ? body.message : `HTTP ${status}`, options);
  }

  get code(): string {
    return typeof this.body.error === 'string' ? this.body.error : `http_${this.status}`;
  }
}

/** The manager did not answer (network down, manager stopped). */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
  constructor(options?: { cause?: unknown }) {
    super('the manager did not answer', options);
  }
}

export class Api {
  constructor(
    private readonly token: () => string | null,
    private readonly onUnauthorized: (err: ApiError) => void,
  ) {}

  /** The manager refused the token (401): back to the sign-in page. */
  unauthorized(err: ApiError): void {
    this.onUnauthorized(err);
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const token = this.token();
    return token === null ? extra : { ...extra, authorization: `Bearer ${token}` };
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.call<T>('GET', path, undefined, signal);
  }

  post<T>(path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return this.call<T>('POST', path, body ?? {}, signal);
  }

  async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: this.headers(body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' }),
        body: body === undefined ? null : JSON.stringify(body),
        cache: 'no-store',
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (err) {
      if (signal?.aborted === true) throw err;
      throw new UnreachableError({ cause: err });
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      parsed = { error: 'not_json', message: text.slice(0, 200) };
    }
    if (!res.ok) {
      const err = new ApiError(res.status, (typeof parsed === 'object' && parsed !== null ? parsed : {}) as ApiError['body']);
      if (res.status === 401) this.unauthorized(err);
      throw err;
    }
    return parsed as T;
  }
}

/** One line for a failed call, for the page. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 403) return `not allowed for your role (403): ${err.message}`;
    return `${err.message} (${err.status} ${err.code})`;
  }
  if (err instanceof UnreachableError) return 'the manager did not answer';
  return err instanceof Error ? err.message : String(err);
}
