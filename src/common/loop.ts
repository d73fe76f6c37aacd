import { sleep } from './backoff.js';
import type { Logger } from './logger.js';

/**
 * A background loop that runs `step` every `intervalMs` until stopped. Steps never overlap; a
 * failing step is logged and the loop goes on. `wake()` cuts the current wait short (a step in
 * flight is followed by another at once). `stop()` aborts the wait and resolves once the step in
 * flight has finished, so SIGTERM handlers can await a clean end.
 */
export class PeriodicTask {
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  /** Ends the wait in progress, or the next one if a step is running: wake() and stop() fire it. */
  private nap = new AbortController();

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly step: (signal: AbortSignal) => Promise<void>,
    private readonly log: Logger,
  ) {}

  start(): this {
    if (this.running === null) this.running = this.run();
    return this;
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Run the next step now instead of after the interval. */
  wake(): void {
    this.nap.abort();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.nap.abort();
    await this.running;
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        await this.step(signal);
      } catch (err) {
        if (!signal.aborted) this.log.warn({ err, task: this.name }, `${this.name} step failed`);
      }
      await sleep(Math.max(0, this.intervalMs - (Date.now() - started)), this.nap.signal);
      if (!signal.aborted) this.nap = new AbortController();
    }
  }
}
