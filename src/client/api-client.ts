/**
 * A small typed client for the manager's REST API, used by the container (join, heartbeat), the
 * CLI and the tests. Errors are ApiError (the manager answered 4xx/5xx, with its JSON error) or
 * ManagerUnreachableError (no answer: refused, timed out, DNS).
 */
import { request, type Dispatcher } from 'undici';
import type {
  CertificateResponse,
  ClusterCaResponse,
  ClusterStatus,
  ContainerActionResponse,
  ContainerList,
  ContainerView,
  ErrorBody,
  EventView,
  HeartbeatResponse,
  RegisterBody,
  RegisterResponse,
} from '../protocol/api.js';
import { AUTH_PATHS, PATHS } from '../protocol/paths.js';
import type { JSONWebKeySet } from 'jose';
import type { LatencyMatrix, LogsPage, ProbeResult } from '../protocol/observability-api.js';
import {
  MESSAGE_PATHS,
  type CommunicationResponse,
  type MessageOutcome,
  type PublishBody,
  type PublishResponse,
  type SendMessageBody,
  type SubscribersResponse,
  type SubscriptionResponse,
} from '../protocol/messages-api.js';
import { DEFAULT_SEND_TIMEOUT_MS } from '../protocol/runtime.js';
import type {
  ActionBody,
  ActionResponse,
  AgentDetail,
  AgentList,
  AgentView,
  DeleteAgentResponse,
  DeployBody,
  DeployResponse,
  Distribution,
  MigrateBody,
  MigrateResponse,
} from '../protocol/agents-api.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** A send that waits for its reply may take its whole timeout: the HTTP call gets this much more. */
export const SEND_TIMEOUT_MARGIN_MS = 10_000;

/** `type/name` as the two path segments of the agent paths. */
function agentParts(agentId: string): [string, string] {
  const slash = agentId.indexOf('/');
  return [agentId.slice(0, slash), agentId.slice(slash + 1)];
}

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
  /** A bearer token, or a function read on every call (a container swaps its join token for its own token). */
  token?: string | (() => string | undefined);
  timeoutMs?: number;
  /**
   * The connection pool to use: an https manager's CA and, for a container, its client
   * certificate. A function is read on every call (a container replaces it when it renews).
   */
  dispatcher?: Dispatcher | (() => Dispatcher | undefined);
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly token: string | (() => string | undefined) | undefined;
  private readonly dispatcherOf: ApiClientOptions['dispatcher'];

  constructor(opts: ApiClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.token = opts.token;
    this.dispatcherOf = opts.dispatcher;
  }

  /** The pool for the next call (undefined: undici's global one). */
  get dispatcher(): Dispatcher | undefined {
    return typeof this.dispatcherOf === 'function' ? this.dispatcherOf() : this.dispatcherOf;
  }

  async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, timeoutMs: number = this.timeoutMs): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const token = typeof this.token === 'function' ? this.token() : this.token;
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    let res;
    const dispatcher = this.dispatcher;
    try {
      res = await request(url, {
        ...(dispatcher === undefined ? {} : { dispatcher }),
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
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
  renewCertificate(id: string, csr: string): Promise<CertificateResponse> {
    return this.call('POST', PATHS.containerAction(id, 'certificate'), { csr });
  }
  clusterCa(): Promise<ClusterCaResponse> {
    return this.call('GET', PATHS.clusterCa);
  }
  /** The public keys that verify this cluster's tokens. */
  jwks(timeoutMs?: number): Promise<JSONWebKeySet> {
    return this.call('GET', AUTH_PATHS.jwks, undefined, timeoutMs);
  }
  heartbeat(id: string, epoch: number): Promise<HeartbeatResponse> {
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

  // --- observability ----------------------------------------------------------------------------
  logs(query: LogsFilter & { after?: string; limit?: number } = {}): Promise<LogsPage> {
    return this.call('GET', logsPath(query));
  }

  latency(): Promise<LatencyMatrix> {
    return this.call('GET', PATHS.latency);
  }

  /** Asks the manager to GET http://host:port/ping (doctor's reach-back check). */
  probe(host: string, port: number): Promise<ProbeResult> {
    return this.call('POST', PATHS.probe, { host, port });
  }

  // --- agents (control plane) ------------------------------------------------------------------
  deployAgents(body: DeployBody): Promise<DeployResponse> {
    return this.call('POST', PATHS.deployAgents, body);
  }
  /** Every agent, or those `containerId` owns; at most `limit` (the manager's default 1,000), `total` counts all. */
  listAgents(query: { containerId?: string; limit?: number } = {}): Promise<AgentList> {
    const q = new URLSearchParams();
    if (query.containerId !== undefined) q.set('container_id', query.containerId);
    if (query.limit !== undefined) q.set('limit', String(query.limit));
    const qs = q.toString();
    return this.call('GET', `${PATHS.agentDeployments}${qs === '' ? '' : `?${qs}`}`);
  }
  /** The agent with its config. */
  getAgent(agentId: string): Promise<AgentDetail> {
    return this.call('GET', PATHS.agent(...agentParts(agentId)));
  }
  /** Where the agent is and how it was placed (no config). */
  getAgentDeployment(agentId: string): Promise<AgentView> {
    return this.call('GET', PATHS.agentAction(...agentParts(agentId), 'deployment'));
  }
  deleteAgent(agentId: string): Promise<DeleteAgentResponse> {
    return this.call('DELETE', PATHS.agent(...agentParts(agentId)));
  }
  migrateAgent(agentId: string, body: MigrateBody = {}): Promise<MigrateResponse> {
    return this.call('POST', PATHS.agentAction(...agentParts(agentId), 'migrate'), body);
  }
  clusterAction(body: ActionBody): Promise<ActionResponse> {
    return this.call('POST', PATHS.clusterActions, body);
  }
  distribution(): Promise<Distribution> {
    return this.call('GET', PATHS.distribution);
  }

  // --- messaging -------------------------------------------------------------------------------
  /**
   * Sends to `type/name`: the outcome (`completed`/`failed`) when it waits, else `accepted`. A wait
   * that ends without the reply is an ApiError 504 (`reply_timeout`) whose body has `message_id`.
   */
  sendMessage(agentId: string, body: SendMessageBody): Promise<MessageOutcome> {
    const waits = body.wait !== false && body.kind !== 'tell';
    const timeoutMs = waits ? Math.max(this.timeoutMs, (body.timeout_ms ?? DEFAULT_SEND_TIMEOUT_MS) + SEND_TIMEOUT_MARGIN_MS) : this.timeoutMs;
    return this.call('POST', MESSAGE_PATHS.agentMessages(...agentParts(agentId)), body, timeoutMs);
  }
  /** What became of a message: `pending`, `completed` or `failed`. */
  getMessage(agentId: string, messageId: string): Promise<MessageOutcome> {
    return this.call('GET', MESSAGE_PATHS.agentMessage(...agentParts(agentId), messageId));
  }
  publish(topic: string, body: PublishBody): Promise<PublishResponse> {
    return this.call('POST', MESSAGE_PATHS.topicMessages(topic), body);
  }
  subscribe(topic: string, agentId: string): Promise<SubscriptionResponse> {
    return this.call('POST', MESSAGE_PATHS.topicSubscribers(topic), { agent_id: agentId });
  }
  unsubscribe(topic: string, agentId: string): Promise<SubscriptionResponse> {
    return this.call('DELETE', MESSAGE_PATHS.topicSubscriber(topic, ...agentParts(agentId)));
  }
  subscribers(topic: string): Promise<SubscribersResponse> {
    return this.call('GET', MESSAGE_PATHS.topicSubscribers(topic));
  }
  /** The seed system's control message to a container (`POST /cluster/communication/message`). */
  controlMessage(containerId: string, messageType: string, payload?: unknown): Promise<CommunicationResponse> {
    return this.call('POST', MESSAGE_PATHS.communication, { container_id: containerId, message_type: messageType, ...(payload === undefined ? {} : { payload }) });
  }
}

/** The filters of `GET /api/v1/logs`. */
export interface LogsFilter {
  agent?: string;
  container?: string;
  level?: string;
}

/** `GET /api/v1/logs` with these parameters (`follow` for the SSE form). */
export function logsPath(query: LogsFilter & { after?: string; limit?: number; follow?: boolean }): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
  const qs = q.toString();
  return `${PATHS.logs}${qs === '' ? '' : `?${qs}`}`;
}
