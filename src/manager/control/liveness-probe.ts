/**
 * The failure detector's question to a container that is late with its lease renewal: are you
 * still there? A `GET /ping` on the address the container registered, asked twice at once on two
 * connections, so that one lost packet (a dropped SYN-ACK costs a 1 s retransmit) cannot make a
 * healthy container look dead.
 *
 * Only silence counts as dead: a timeout, a refused connection (the process is gone, its port
 * closed) or no route. Any answer at all — a 200, a 401, a TLS alert, a closed connection — means
 * a process is running there, so the container is left to its lease: a live container that
 * cannot reach Redis is not for this path to judge (it self-fences when its lease lapses).
 */
import { Agent, request, type Dispatcher } from 'undici';

/** One attempt's budget. Two run at once, so this is the whole probe's. */
export const LIVENESS_PROBE_TIMEOUT_MS = 400;
const ATTEMPTS = 2;
const BODY_LIMIT = 4_096;
/** The timer that bounds an attempt fires this much after its own timeouts should have. */
const TIMER_GRACE_MS = 50;

export type Liveness = 'answered' | 'silent';

export interface LivenessProbeOptions {
  timeoutMs?: number;
  /** https when the cluster runs with TLS; the dispatcher then carries our certificate. */
  scheme?: 'http' | 'https';
  /** Asked for each probe, since the manager's certificate (and so its dispatcher) is renewed. */
  dispatcher?: () => Dispatcher;
}

/** Error codes that mean nothing answered at that address. */
const SILENT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function isSilence(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && e !== undefined && depth < 4; depth++) {
    const { name, code } = e as { name?: string; code?: string };
    if (name === 'TimeoutError' || name === 'AbortError') return true;
    if (code !== undefined && SILENT_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function pingUrl(scheme: string, host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}/ping`;
}

/**
 * undici's abort signal does not end a connect in progress (a SYN to a host whose link is down
 * waits out the connect timeout, 10 s by default), so the probe's own dispatcher carries the
 * timeout as its connect timeout too, and each attempt is raced against a timer besides.
 */
const dispatchers = new Map<number, Agent>();
function plainDispatcher(timeoutMs: number): Agent {
  let agent = dispatchers.get(timeoutMs);
  if (agent === undefined) {
    agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    dispatchers.set(timeoutMs, agent);
  }
  return agent;
}

function silentAfter(timeoutMs: number): { promise: Promise<Liveness>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<Liveness>((resolve) => {
    timer = setTimeout(() => resolve('silent'), timeoutMs + TIMER_GRACE_MS);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

async function attempt(url: string, timeoutMs: number, dispatcher: Dispatcher | undefined): Promise<Liveness> {
  const deadline = silentAfter(timeoutMs);
  try {
    return await Promise.race([deadline.promise, ask(url, timeoutMs, dispatcher ?? plainDispatcher(timeoutMs))]);
  } finally {
    deadline.cancel();
  }
}

async function ask(url: string, timeoutMs: number, dispatcher: Dispatcher): Promise<Liveness> {
  try {
    const res = await request(url, {
      method: 'GET',
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      // A fresh connection each time: a kept-alive one to a process that died could look alive.
      reset: true,
      dispatcher,
    });
    // Headers came: that is the answer. The body is read away (bounded), not destroyed, which
    // would surface as an unhandled abort error.
    await res.body.dump({ limit: BODY_LIMIT }).catch(() => undefined);
    return 'answered';
  } catch (err) {
    return isSilence(err) ? 'silent' : 'answered';
  }
}

export async function probeLiveness(host: string, port: number, options: LivenessProbeOptions = {}): Promise<Liveness> {
  const url = pingUrl(options.scheme ?? 'http', host, port);
  const timeoutMs = options.timeoutMs ?? LIVENESS_PROBE_TIMEOUT_MS;
  const dispatcher = options.dispatcher?.();
  const results = await Promise.all(Array.from({ length: ATTEMPTS }, () => attempt(url, timeoutMs, dispatcher)));
  return results.includes('answered') ? 'answered' : 'silent';
}
