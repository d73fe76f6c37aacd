/**
 * TypeScript helper processes for benchmarks (`node --import tsx file.ts`) with an IPC channel,
 * tracked so that none outlives the benchmark: stop() asks politely then kills, killNow() is for
 * signal and exit handlers (synchronous), and each child also exits on its own when the channel
 * closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUTPUT_TAIL_LINES = 40;

export class TsChild<In extends object, Out extends { type: string }> {
  private readonly child: ChildProcess;
  private readonly tail: string[] = [];
  private readonly waiters = new Set<{ match: (m: Out) => boolean; resolve: (m: Out) => void }>();
  readonly exited: Promise<void>;
  private gone = false;

  constructor(
    readonly label: string,
    file: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(file, `file://${REPO_ROOT}`))], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const keep = (chunk: Buffer): void => {
      this.tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      this.tail.splice(0, Math.max(0, this.tail.length - OUTPUT_TAIL_LINES));
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.child.on('message', (msg: Out) => {
      for (const w of this.waiters) {
        if (w.match(msg)) {
          this.waiters.delete(w);
          w.resolve(msg);
        }
      }
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => {
        this.gone = true;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get output(): string {
    return this.tail.join('\n');
  }

  send(msg: In): void {
    if (!this.gone && this.child.connected) this.child.send(msg);
  }

  /** The next message of `type`; throws (with the child's output) after `timeoutMs` or if it exits. */
  next<T extends Out['type']>(type: T, timeoutMs: number): Promise<Extract<Out, { type: T }>> {
    return new Promise((resolve, reject) => {
      const waiter = {
        match: (m: Out) => m.type === type,
        resolve: (m: Out) => {
          clearTimeout(timer);
          resolve(m as Extract<Out, { type: T }>);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.label}: no "${type}" message within ${timeoutMs} ms\n${this.output}`));
      }, timeoutMs);
      this.waiters.add(waiter);
      void this.exited.then(() => {
        if (!this.waiters.delete(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`${this.label} exited while waiting for "${type}"\n${this.output}`));
      });
    });
  }

  /** Send `msg` and wait for the reply of `type`. */
  request<T extends Out['type']>(msg: In, type: T, timeoutMs: number): Promise<Extract<Out, { type: T }>> {
    const reply = this.next(type, timeoutMs);
    this.send(msg);
    return reply;
  }

  /** Sends `stopMessage`, waits up to `graceMs` for the exit, then SIGKILL. */
  async stop(stopMessage: In, graceMs = 3_000): Promise<void> {
    if (this.gone) return;
    this.send(stopMessage);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  killNow(): void {
    if (!this.gone) this.child.kill('SIGKILL');
  }
}
