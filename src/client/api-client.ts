/**
 * A small typed client for the manager's REST API, used by the container (join, heartbeat), the
 * CLI and the tests. Errors are ApiError (the manager answered 4xx/5xx, with its JSON error) or
 * ManagerUnreachableError (no answer: refused, timed out, DNS).
 */
import { request } from 'undici';
import type {
  ClusterStatus,
  ContainerActionResponse,
  ContainerList,
  ContainerView,
  ErrorBody,
  EventView,
  RegisterBody,
  RegisterResponse,
} from '../protocol/api.js';
import { PATHS } from '../protocol/paths.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly body: ErrorBody | undefined,
    message: string,
  ) {
    super(message);
  }
  get code(): string | undefined {
    return this.body?.error;
  }
}

export class ManagerUnreachableError extends Error {
  override readonly name = 'ManagerUnreachableError';
  constructor(
    readonly url: string,
    options: { cause?: unknown },
  ) {
    const cause = options.cause as { code?: string; message?: string } | undefined;
    super(`manager at ${url} is unreachable (${cause?.code ?? cause?.message ?? 'no answer'})`, options);
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  token?: string;
  timeoutMs?: number;
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly token: string | undefined;

  constructor(opts: ApiClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.token = opts.token;
  }

  async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    let res;
    try {
      res = await request(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (cause) {
      throw new ManagerUnreachableError(this.baseUrl, { cause });
    }
    const text = await res.body.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.statusCode >= 400) {
      const err = parsed as ErrorBody | undefined;
      throw new ApiError(res.statusCode, err, `${method} ${path} → ${res.statusCode}: ${err?.message ?? text.slice(0, 200)}`);
    }
    return parsed as T;
  }

  health(): Promise<{ status: string; timestamp: string; version: string }> {
    return this.call('GET', PATHS.health);
  }
  status(): Promise<ClusterStatus> {
    return this.call('GET', PATHS.clusterStatus);
  }
  register(body: RegisterBody): Promise<RegisterResponse> {
    return this.call('POST', PATHS.register, body);
  }
  heartbeat(id: string, epoch: number): Promise<{ success: true; epoch: number; lease_expires_at: string }> {
    return this.call('POST', PATHS.containerAction(id, 'heartbeat'), { epoch });
  }
  /** A container leaving on its own: only its current epoch may deregister it. */
  deregister(id: string, epoch: number): Promise<{ success: true; container_id: string }> {
    return this.call('POST', PATHS.containerAction(id, 'deregister'), { epoch });
  }
  listContainers(includeInactive = false): Promise<ContainerList> {
    return this.call('GET', `${PATHS.containers}${includeInactive ? '?include_inactive=true' : ''}`);
  }
  getContainer(id: string): Promise<ContainerView> {
    return this.call('GET', PATHS.container(id));
  }
  containerAction(id: string, action: 'cordon' | 'uncordon' | 'drain'): Promise<ContainerActionResponse> {
    return this.call('POST', PATHS.containerAction(id, action), {});
  }
  removeContainer(id: string, force = false): Promise<{ success: true; container_id: string }> {
    return this.call('DELETE', `${PATHS.container(id)}${force ? '?force=true' : ''}`);
  }
  events(after?: string, limit?: number): Promise<{ events: EventView[] }> {
    const q = new URLSearchParams();
    if (after !== undefined) q.set('after', after);
    if (limit !== undefined) q.set('limit', String(limit));
    const qs = q.toString();
    return this.call('GET', `${PATHS.events}${qs === '' ? '' : `?${qs}`}`);
  }
}
