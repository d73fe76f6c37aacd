/**
 * What an agent author writes against: `defineAgent({ type, init?, onMessage, onStop? })`. The
 * runtime calls `onMessage` one message at a time, in order, with a context whose `state` was
 * loaded before the first turn and is saved (atomically with the message's acknowledgement) after
 * each turn that returns. A handler that throws fails that message only: the sender gets the error,
 * the state changes of that turn are discarded, and the agent goes on with the next message.
 */
import type { Logger } from 'pino';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface SendOptions {
  /** How long to wait for the reply (default 30 s). */
  timeoutMs?: number;
}

export interface AgentContext<State, Config> {
  /** `type/name`. */
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly config: Readonly<Config>;
  /** The agent's state: mutate it or replace it; it is saved when the turn ends without error. */
  state: State;
  readonly log: Logger;
  /** Aborted when the agent is stopped or moved mid-turn: pass it to fetch and friends. */
  readonly signal: AbortSignal;
  /** The message being handled: who sent it and its ids. */
  readonly message: { readonly id: string; readonly from: string; readonly topic?: string };
  /**
   * Where this turn runs: the container and the epoch of its registration (the agent's fence).
   * A turn's effects only count if this fence still holds when it commits, so tools that check
   * "never active on two hosts at once" record it with each turn.
   */
  readonly placement: { readonly containerId: string; readonly epoch: number };
  /** Request with reply: resolves with the other agent's result, rejects on error or timeout. */
  send<R = unknown>(to: string, message: unknown, options?: SendOptions): Promise<R>;
  /** Every agent subscribed to `topic` gets its own durable copy. */
  publish(topic: string, message: unknown): Promise<number>;
  /** Subscribe this agent to a topic (its copies arrive as messages with `message.topic` set). */
  subscribe(topic: string): Promise<void>;
  unsubscribe(topic: string): Promise<void>;
}

export interface InitContext<Config> {
  readonly id: string;
  readonly config: Readonly<Config>;
  readonly log: Logger;
}

export interface AgentDefinition<State = unknown, Config = Record<string, unknown>, Message = unknown, Result = unknown> {
  /** The type name agents are deployed by (a safe name, e.g. `llm`). */
  type: string;
  /** A short description of what the type does, for people reading the definition. */
  description?: string;
  /** The initial state of a new agent (not called when saved state exists). */
  init?(ctx: InitContext<Config>): State | Promise<State>;
  onMessage(message: Message, ctx: AgentContext<State, Config>): Result | Promise<Result>;
  /** Called when the agent stops on this container (moved, deleted, shutdown). */
  onStop?(ctx: InitContext<Config>): void | Promise<void>;
}

/**
 * Any agent definition, whatever its state, config, message and result types: what registries
 * and loaders hold. (`any` because the type parameters appear in both input and output positions,
 * so no narrower type accepts every definition.)
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAgentDefinition = AgentDefinition<any, any, any, any>;
