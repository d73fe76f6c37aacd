/**
 * The test's handle on the client host's driver (../driver/main.ts): a child process inside the
 * client namespace, spoken to over its stdin/stdout. Every call is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DriverCall } from '../driver/protocol.js';

const DRIVER = fileURLToPath(new URL('../driver/main.ts', import.meta.url));
const DEFAULT_CALL_TIMEOUT_MS = 30_000;

export class DriverError extends Error {
  override readonly name = 'DriverError';
}

export class Driver {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly stderr: string[] = [];

  /**
   * `token`: the bearer token the driver puts on every API call (FLOTILLA_TOKEN in its env).
   * `caFile`: the cluster CA its https calls trust (FLOTILLA_CA_FILE, as for the CLI).
   */
  constructor(wrap: string[], token?: string, caFile?: string) {
    const argv = [...wrap, process.execPath, '--import', 'tsx', DRIVER];
    const env = { PATH: process.env.PATH ?? '', ...(token === undefined ? {} : { FLOTILLA_TOKEN: token }), ...(caFile === undefined ? {} : { FLOTILLA_CA_FILE: caFile }) };
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.child.stderr?.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString('utf8')));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const answer = JSON.parse(line) as { id: number; ok: boolean; value?: unknown; error?: string };
      const waiter = this.waiting.get(answer.id);
      this.waiting.delete(answer.id);
      if (answer.ok) waiter?.resolve(answer.value);
      else waiter?.reject(new DriverError(answer.error ?? 'driver error'));
    });
    this.child.once('exit', (code, signal) => {
      for (const waiter of this.waiting.values()) waiter.reject(new DriverError(`driver exited (${code ?? signal}): ${this.stderr.join('').slice(-2_000)}`));
      this.waiting.clear();
    });
  }

  call<T>(request: DriverCall, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new DriverError(`driver call ${request.op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin!.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  /** An HTTP call made from the client host. */
  http<T = Record<string, unknown>>(method: string, url: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> {
    return this.call({ op: 'http', method, url, ...(body === undefined ? {} : { body }), ...(token === undefined ? {} : { token }) });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
