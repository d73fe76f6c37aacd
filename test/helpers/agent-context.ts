/**
 * A hand-made AgentContext for calling an agent definition's onMessage directly, without a
 * runtime or a store: `send` is a function the test supplies, the state is a plain object, the
 * signal belongs to an AbortController the test holds, the logger is silent (or captured).
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { AgentContext, AgentDefinition, SendOptions } from '../../src/sdk/index.js';

export type SendFn = (to: string, message: unknown, options?: SendOptions) => unknown;

export interface FakeContextOptions<State, Config> {
  /** `type/name`; default `test/agent`. */
  id?: string;
  config?: Config;
  state?: State;
  /** What `ctx.send` does; by default it fails (the agent under test should not send). */
  send?: SendFn;
  /** The sender of the message; default `test/sender`. */
  from?: string;
  log?: Logger;
}

export interface FakeContext<State, Config> extends AgentContext<State, Config> {
  readonly controller: AbortController;
  /** Every publish, in order. */
  readonly published: { topic: string; message: unknown }[];
  readonly subscriptions: Set<string>;
}

export function fakeContext<State, Config = Record<string, unknown>>(options: FakeContextOptions<State, Config> = {}): FakeContext<State, Config> {
  const id = options.id ?? 'test/agent';
  const slash = id.indexOf('/');
  const controller = new AbortController();
  const published: { topic: string; message: unknown }[] = [];
  const subscriptions = new Set<string>();
  const send = options.send ?? ((to: string) => Promise.reject(new Error(`unexpected send to ${to}`)));
  return {
    id,
    type: id.slice(0, slash),
    name: id.slice(slash + 1),
    config: (options.config ?? {}) as Config,
    state: options.state as State,
    log: options.log ?? pino({ level: 'silent' }),
    signal: controller.signal,
    message: { id: randomUUID(), from: options.from ?? 'test/sender' },
    placement: { containerId: 'test-container', epoch: 1 },
    controller,
    published,
    subscriptions,
    async send<R>(to: string, message: unknown, sendOptions?: SendOptions): Promise<R> {
      return (await send(to, message, sendOptions)) as R;
    },
    publish(topic: string, message: unknown): Promise<number> {
      published.push({ topic, message });
      return Promise.resolve(1);
    },
    subscribe(topic: string): Promise<void> {
      subscriptions.add(topic);
      return Promise.resolve();
    },
    unsubscribe(topic: string): Promise<void> {
      subscriptions.delete(topic);
      return Promise.resolve();
    },
  };
}

/** A context whose state is what the definition's init gives a new agent. */
export async function freshContext<State, Config>(
  definition: AgentDefinition<State, Config, never, unknown>,
  options: Omit<FakeContextOptions<State, Config>, 'state'> = {},
): Promise<FakeContext<State, Config>> {
  const ctx = fakeContext<State, Config>(options);
  if (definition.init !== undefined) ctx.state = await definition.init({ id: ctx.id, config: ctx.config, log: ctx.log });
  return ctx;
}

/**
 * One turn as the runtime runs it: the handler works on a fresh copy of the committed state; the
 * copy is committed (through JSON, as the store saves it) only if the handler returns.
 */
export async function runTurn<State, Config, Message, Result>(
  definition: AgentDefinition<State, Config, Message, Result>,
  ctx: FakeContext<State, Config>,
  message: Message,
): Promise<Result> {
  const committed = JSON.stringify(ctx.state ?? null);
  ctx.state = JSON.parse(committed) as State;
  try {
    const result = await definition.onMessage(message, ctx);
    ctx.state = JSON.parse(JSON.stringify(ctx.state ?? null)) as State;
    return result;
  } catch (err) {
    ctx.state = JSON.parse(committed) as State;
    throw err;
  }
}

/** A pino logger whose lines (parsed) the test can read. */
export function captureLogger(): { log: Logger; lines: { level: number; msg: string; [key: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}
