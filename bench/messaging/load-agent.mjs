/**
 * The `load` agent of the messaging benchmark (bench/messaging.bench.ts). A container serves it
 * through FLOTILLA_AGENT_MODULES, so it is plain JavaScript: the container runs compiled code and
 * imports this file as it is.
 *
 * One message is one load run: its one turn fires `requests` requests with `ctx.send` over
 * `inFlight` concurrent workers (a closed loop: each worker waits for its reply before it sends the
 * next) and replies with every request's latency. Worker w always calls `targets[w % targets.length]`,
 * so with at least as many targets as workers no target ever has two requests in flight: an agent
 * takes one turn at a time, and 64 requests queued on one echo agent would measure that queue, not
 * the messaging.
 *
 * Message: { targets: string[], requests, inFlight, payload, timeoutMs, maxMs }
 * Reply:   { samples: number[] (ms, in completion order), elapsedMs, errors, firstError }
 */
import { performance } from 'node:perf_hooks';
import { defineAgent } from 'flotilla/sdk';

/** Bounds on what one message may ask, so that a malformed message cannot run away. */
const MAX_REQUESTS = 1_000_000;
const MAX_IN_FLIGHT = 4_096;
const MAX_RUN_MS = 120_000;

function bounded(value, min, max, name) {
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`load: ${name} must be an integer in ${min}..${max}`);
  return value;
}

export default defineAgent({
  type: 'load',
  description: 'Benchmark driver: sends requests to other agents with a fixed number in flight and replies with their latencies.',
  async onMessage(message, ctx) {
    const targets = message?.targets;
    if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => typeof t === 'string')) throw new Error('load: targets must be a non-empty list of agent ids');
    const requests = bounded(message.requests, 1, MAX_REQUESTS, 'requests');
    const inFlight = bounded(message.inFlight, 1, MAX_IN_FLIGHT, 'inFlight');
    const timeoutMs = bounded(message.timeoutMs ?? 10_000, 1, MAX_RUN_MS, 'timeoutMs');
    const maxMs = bounded(message.maxMs ?? 30_000, 1, MAX_RUN_MS, 'maxMs');
    const payload = message.payload ?? null;

    const samples = [];
    let issued = 0;
    let errors = 0;
    let firstError = null;
    const started = performance.now();
    const deadline = started + maxMs;
    const worker = async (w) => {
      const target = targets[w % targets.length];
      while (issued < requests && performance.now() < deadline && !ctx.signal.aborted) {
        issued += 1;
        const t = performance.now();
        try {
          await ctx.send(target, payload, { timeoutMs });
          samples.push(Math.round((performance.now() - t) * 1_000) / 1_000);
        } catch (err) {
          errors += 1;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
    return { samples, elapsedMs: performance.now() - started, errors, firstError, truncated: issued < requests };
  },
});
