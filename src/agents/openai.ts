/**
 * OpenAI-compatible chat completions (`POST {base_url}/chat/completions`), as OpenAI, Ollama,
 * vLLM, LM Studio and most gateways serve them. Only the non-streaming subset the `llm` agent
 * needs: messages in, one choice's text out.
 */
import type { JsonValue } from '../sdk/index.js';
import { postJson } from './http-post.js';
import { describeUrl, redact, snippet } from './text.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  baseUrl: string;
  model: string;
  messages: ChatMessage[];
  temperature: number | undefined;
  maxTokens: number | undefined;
  apiKey: string | undefined;
  /** Named in a 401 hint when no key was sent. */
  apiKeyEnv: string;
  timeoutMs: number;
  signal: AbortSignal;
  who: string;
}

export interface ChatResult {
  content: string;
  model: string;
  /** The provider's token counts as it sent them (OpenAI: prompt/completion/total_tokens), or null. */
  usage: JsonValue;
}

export async function chatCompletion(req: ChatRequest): Promise<ChatResult> {
  const url = `${req.baseUrl}/chat/completions`;
  const body: Record<string, unknown> = { model: req.model, messages: req.messages, stream: false };
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens;
  const headers: Record<string, string> = {};
  // Local servers (Ollama, vLLM) need no key: send none rather than an empty Bearer.
  if (req.apiKey !== undefined) headers.authorization = `Bearer ${req.apiKey}`;

  try {
    const { status, text } = await postJson({ url, headers, body, timeoutMs: req.timeoutMs, signal: req.signal, who: req.who });
    // Redact before cutting snippets: a key cut in half by a snippet would no longer match.
    if (status < 200 || status > 299) throw new Error(httpErrorMessage(req, status, redact(text, [req.apiKey])));
    return parseChatResponse(req, text);
  } catch (err) {
    // Belt and braces: whatever produced the message (a provider echoing the Authorization
    // header, a proxy's error page), the key never leaves in an error.
    const e = err as Error;
    const clean = redact(e.message, [req.apiKey]);
    if (clean === e.message) throw err;
    throw new Error(clean);
  }
}

function httpErrorMessage(req: ChatRequest, status: number, text: string): string {
  let message = `${req.who}: ${req.model} at ${describeUrl(req.baseUrl)} answered HTTP ${status}: ${providerError(text)}`;
  if ((status === 401 || status === 403) && req.apiKey === undefined) message += ` (no API key was sent: ${req.apiKeyEnv} is not set)`;
  return message;
}

/** The provider's own error text: OpenAI `{error:{message}}`, Ollama `{error:"..."}`, else a snippet. */
function providerError(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown; detail?: unknown };
    const error = parsed.error;
    if (typeof error === 'string') return snippet(error);
    if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
      return snippet((error as { message: string }).message);
    }
    if (typeof parsed.message === 'string') return snippet(parsed.message);
    if (typeof parsed.detail === 'string') return snippet(parsed.detail);
  } catch {
    // not JSON: an HTML error page from a proxy, say
  }
  return text.trim() === '' ? '(empty body)' : snippet(text);
}

function parseChatResponse(req: ChatRequest, text: string): ChatResult {
  const malformed = (why: string): Error =>
    new Error(`${req.who}: ${req.model} at ${describeUrl(req.baseUrl)} sent a malformed chat completion (${why}): ${snippet(redact(text, [req.apiKey]), 200)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw malformed('not an object');
  const { choices, model, usage } = parsed as { choices?: unknown; model?: unknown; usage?: unknown };
  if (!Array.isArray(choices) || choices.length === 0) throw malformed('no choices');
  const message = (choices[0] as { message?: { content?: unknown } } | null)?.message;
  if (typeof message?.content !== 'string') throw malformed('choices[0].message.content is not a string');
  return {
    content: message.content,
    model: typeof model === 'string' ? model : req.model,
    usage: typeof usage === 'object' && usage !== null && !Array.isArray(usage) ? (usage as JsonValue) : null,
  };
}
