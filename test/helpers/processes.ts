/**
 * Real Flotilla processes for integration tests: `node dist/cli/main.js <role>` with exactly the
 * environment a user would set. Output is kept for assertions and printed when a test fails.
 * Every wait is bounded; every process is killed at exit even if a test forgets.
 *
 * Authentication: processes get FLOTILLA_AUTH=off unless the test's env says otherwise, so tests
 * that are not about security call the API without tokens. Tests about authentication pass
 * FLOTILLA_AUTH=on with a key directory of their own (see test/helpers/auth.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { request, type Dispatcher } from 'undici';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A port that is free on `host` right now (bind to 0, read it, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ProcessOptions {
  /** A prefix that runs the command elsewhere, e.g. `ip netns exec <ns>` (it execs, so the pid is the command's). */
  wrap?: string[];
  /** Another program than the Flotilla CLI (e.g. `redis-server`); `args` follow it. */
  command?: string[];
}

export class FlotillaProcess {
  readonly output: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(
    readonly label: string,
    args: string[],
    env: Record<string, string>,
    options: ProcessOptions = {},
  ) {
    const argv = [...(options.wrap ?? []), ...(options.command ?? [process.execPath, '--enable-source-maps', CLI]), ...args];
    this.child = spawn(argv[0]!, argv.slice(1), {
      env: { PATH: process.env.PATH ?? '', FLOTILLA_LOG_LEVEL: 'info', FLOTILLA_AUTH: 'off', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(this.child);
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') this.output.push(line);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get text(): string {
    return this.output.join('\n');
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  kill9(): void {
    this.child.kill('SIGKILL');
  }

  /** SIGTERM, then wait for the exit (SIGKILL after `graceMs`). */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  /** Waits until a line of output matches; throws (with the output) after `timeoutMs`. */
  async waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const line = await waitFor(`${this.label}: output ${pattern}`, () => this.output.find((l) => pattern.test(l)), timeoutMs);
    return line;
  }
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined/false. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
}

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

/** A plain HTTP call, as curl would make it. */
export interface HttpOptions {
  /** e.g. a client that trusts a CA and shows a certificate (test/helpers/tls.ts). */
  dispatcher?: Dispatcher;
  timeoutMs?: number;
}

export async function http<T = Record<string, unknown>>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}, options: HttpOptions = {}): Promise<HttpResult<T>> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const res = await request(url, {
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    method: method as 'GET',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.statusCode, body: parsed as T, headers: res.headers };
}

/**
 * What a user sets on an agent host, for a container whose host is a loopback address of its own
 * (127.0.0.x): it advertises and binds that address, on a free port there.
 */
export async function loopbackContainerEnv(name: string, ip: string, o: { managerUrl: string; redisUrl: string; prefix: string }): Promise<Record<string, string>> {
  return {
    CENTRAL_MANAGER_URL: o.managerUrl,
    REDIS_URL: o.redisUrl,
    EXTERNAL_IP: ip,
    FLOTILLA_BIND_ADDRESS: ip,
    AGENT_PORT: String(await freePort(ip)),
    CONTAINER_NAME: name,
    FLOTILLA_PREFIX: o.prefix,
  };
}

export async function waitForHttp(url: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(`${url} to answer 200`, async () => (await http('GET', url)).status === 200, timeoutMs);
}
