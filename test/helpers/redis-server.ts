/**
 * Starts a real `redis-server` for tests, on a free loopback port, with its own temporary data
 * dir and no persistence unless asked. It never outlives the test process: stop() ends it, and
 * an exit hook (plus SIGINT/SIGTERM) kills any server a test forgot. Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const HOST = '127.0.0.1';
const REDIS_SERVER_BIN = 'redis-server';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const PING_TIMEOUT_MS = 500;
const POLL_INTERVAL_MS = 25;
/** Another process may grab the free port between our probe and redis binding it. */
const PORT_ATTEMPTS = 5;
/** Lines of server output kept for error messages. */
const OUTPUT_TAIL_LINES = 30;

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. ['--requirepass', 'secret']. */
  args?: string[];
  /** Turn on the append-only file (for restart tests). */
  appendonly?: boolean;
  /** Data dir; a fresh temporary one (removed by stop()) when not given. */
  dir?: string;
  /** This port exactly (e.g. one a process under test already waits on); a free one otherwise. */
  port?: number;
}

export interface RedisServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Changes on restart(). */
  readonly pid: number;
  /** SIGTERM (a clean shutdown, AOF flushed), SIGKILL if it lingers; removes a temporary dir. */
  stop(): Promise<void>;
  /** A crash: SIGKILL, no shutdown. */
  kill9(): void;
  /** Stops (if still running) and starts again on the same port and dir. */
  restart(): Promise<void>;
}

const running = new Set<ChildProcess>();

function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    // With our listener gone the default action applies again: die of the same signal.
    process.kill(process.pid, signal);
  });
}

class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'flotilla-redis-'));
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      const child = await spawnRedis(port, dir, options);
      return new ManagedRedisServer(port, dir, ownDir, options, child);
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt >= PORT_ATTEMPTS || options.port !== undefined) {
        if (ownDir) rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

class ManagedRedisServer implements RedisServer {
  readonly host = HOST;
  readonly url: string;
  private child: ChildProcess;

  constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly ownDir: boolean,
    private readonly options: RedisServerOptions,
    child: ChildProcess,
  ) {
    this.url = `redis://${HOST}:${port}`;
    this.child = child;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async stop(): Promise<void> {
    await terminate(this.child);
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
  }

  kill9(): void {
    this.child.kill('SIGKILL');
  }

  async restart(): Promise<void> {
    await terminate(this.child);
    const deadline = Date.now() + START_TIMEOUT_MS;
    // The old socket may take a moment to be released; the port is ours to wait for.
    for (;;) {
      try {
        this.child = await spawnRedis(this.port, this.dir, this.options);
        return;
      } catch (err) {
        if (!(err instanceof PortInUseError) || Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  }
}

async function spawnRedis(port: number, dir: string, options: RedisServerOptions): Promise<ChildProcess> {
  const args = [
    '--port', String(port),
    '--bind', HOST,
    '--dir', dir,
    '--save', '',
    '--appendonly', options.appendonly === true ? 'yes' : 'no',
    '--daemonize', 'no',
    ...(options.args ?? []),
  ]; // prettier-ignore
  const child = spawn(REDIS_SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const output: string[] = [];
  const keep = (chunk: Buffer): void => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    output.splice(0, Math.max(0, output.length - OUTPUT_TAIL_LINES));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  let spawnError: Error | undefined;
  child.once('exit', () => {
    exited = true;
    running.delete(child);
  });
  child.once('error', (err) => {
    spawnError = err;
    exited = true;
    running.delete(child);
  });

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) {
      const log = output.join('\n');
      if (/Address already in use/i.test(log)) throw new PortInUseError(`port ${port} is in use`);
      throw new Error(`redis-server exited before answering PING${spawnError ? `: ${spawnError.message}` : ''}\n${log}`);
    }
    if (await answersPing(port)) return child;
    await sleep(POLL_INTERVAL_MS);
  }
  await terminate(child);
  throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms\n${output.join('\n')}`);
}

/**
 * A raw RESP PING, so the helper does not depend on the client under test. A server started
 * with --requirepass answers NOAUTH, which also means it is serving (LOADING would not).
 */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PING_TIMEOUT_MS, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
  });
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !running.has(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  if (!(await within(exited, STOP_TIMEOUT_MS))) {
    child.kill('SIGKILL');
    await within(exited, STOP_TIMEOUT_MS);
  }
  running.delete(child);
}

/** Whether `promise` settled within `ms`; the timer is cleared so it cannot hold the process open. */
async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}
