/**
 * `llm`: a chat agent over any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM). The
 * conversation is the agent's state, so it is saved with each turn and survives failover and
 * migration; the system prompt comes from config on every call (not from state), so changing it
 * takes effect without losing the conversation.
 *
 * Messages: `"text"` or `{ content: "text" }` (a user turn), `{ reset: true }` (forget the
 * conversation). A failed call throws: the runtime reports the error to the sender and drops the
 * turn, so the conversation only ever holds exchanges that completed.
 */
import type { JsonValue } from '../sdk/index.js';
import { defineAgent } from '../sdk/index.js';
import { parseLlmConfig } from './llm-config.js';
import { chatCompletion, type ChatMessage } from './openai.js';
import { describeValue, messageContent } from './text.js';

export interface LlmState {
  messages: ChatMessage[];
}

export type LlmResult = { content: string; model: string; usage: JsonValue } | { reset: true; cleared: number };

/** The saved conversation, tolerating a missing or foreign-shaped state (then: a fresh start). */
function historyOf(state: unknown): ChatMessage[] {
  const messages = (state as Partial<LlmState> | null | undefined)?.messages;
  if (!Array.isArray(messages)) return [];
  return messages.filter(
    (m): m is ChatMessage =>
      typeof m === 'object' && m !== null && (m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string',
  );
}

/** The last `max` messages, starting on a user turn so the provider sees whole exchanges. */
export function trimHistory(messages: ChatMessage[], max: number): ChatMessage[] {
  if (messages.length <= max) return messages;
  const kept = max === 0 ? [] : messages.slice(-max);
  while (kept[0]?.role === 'assistant') kept.shift();
  return kept;
}

function isReset(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { reset?: unknown }).reset === true;
}

export const llmAgent = defineAgent<LlmState, Record<string, unknown>, unknown, LlmResult>({
  type: 'llm',
  description: 'Chat completions at any OpenAI-compatible base URL (OpenAI, Ollama, vLLM); the conversation is its state.',
  init: () => ({ messages: [] }),
  async onMessage(message, ctx) {
    const settings = parseLlmConfig(ctx.config);
    const history = historyOf(ctx.state);
    if (isReset(message)) {
      ctx.state = { messages: [] };
      return { reset: true, cleared: history.length };
    }
    const content = messageContent(message);
    if (content === undefined) {
      throw new Error(`${ctx.id}: a message is a string, { content: string } or { reset: true }; got ${describeValue(message)}`);
    }

    const user: ChatMessage = { role: 'user', content };
    const system: ChatMessage[] = settings.systemPrompt === undefined ? [] : [{ role: 'system', content: settings.systemPrompt }];
    // Read at each call, never stored: the key stays out of config, state and logs, and a rotated
    // key is picked up without redeploying.
    const apiKey = process.env[settings.apiKeyEnv]?.trim() || undefined;
    const result = await chatCompletion({
      baseUrl: settings.baseUrl,
      model: settings.model,
      messages: [...system, ...history, user],
      temperature: settings.temperature,
      maxTokens: settings.maxTokens,
      apiKey,
      apiKeyEnv: settings.apiKeyEnv,
      timeoutMs: settings.timeoutMs,
      signal: ctx.signal,
      who: ctx.id,
    });

    // Only now, with a whole exchange in hand, does the conversation change.
    ctx.state = { messages: trimHistory([...history, user, { role: 'assistant', content: result.content }], settings.maxHistory) };
    return result;
  },
});
