/**
 * What a benchmark started, so that it all ends: stopped politely in reverse order at the end,
 * killed at once (synchronously) on SIGINT/SIGTERM or exit. The redis test helper also kills its
 * server on these signals and re-raises the signal, which ends the process without an 'exit'
 * event: that is why the signal handlers kill synchronously.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a polite stop may take before the resource is killed. */
export const STOP_GRACE_MS = 15_000;

interface Resource {
  name: string;
  stop: () => Promise<void>;
  kill: () => void;
}

export class Teardown {
  private readonly resources: Resource[] = [];
  /** The signal that interrupted the benchmark, if one did. */
  interrupted: NodeJS.Signals | undefined;

  /** `what` names the children in the message printed on a signal. */
  constructor(what: string) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        this.interrupted = signal;
        console.error(`\n${signal}: killing ${what}`);
        this.killAll();
      });
    }
    process.once('exit', () => this.killAll());
  }

  track(name: string, stop: () => Promise<void>, kill: () => void): void {
    this.resources.push({ name, stop, kill });
  }

  /** Stops one tracked resource now (and forgets it). */
  async release(name: string): Promise<void> {
    const i = this.resources.findIndex((r) => r.name === name);
    if (i < 0) return;
    const [r] = this.resources.splice(i, 1);
    await Promise.race([r!.stop(), sleep(STOP_GRACE_MS).then(() => r!.kill())]).catch(() => r!.kill());
  }

  killAll(): void {
    for (const r of [...this.resources].reverse()) {
      try {
        r.kill();
      } catch {
        // best effort: we are going down
      }
    }
  }

  async stopAll(log: (msg: string) => void): Promise<void> {
    while (this.resources.length > 0) {
      const r = this.resources.pop()!;
      try {
        await Promise.race([r.stop(), sleep(STOP_GRACE_MS).then(() => r.kill())]);
      } catch (err) {
        log(`teardown: ${r.name}: ${(err as Error).message}`);
        r.kill();
      }
    }
  }
}
