/**
 * `http`: each message is POSTed as JSON to `config.url` and the JSON response is the reply, so
 * an agent can be written in any language (docs/agents.md has a Python one). The endpoint holds
 * its own state, if any: Flotilla's effectively-once guarantee covers agent state it saves, not
 * side effects elsewhere, so every request carries the message id for the endpoint to dedupe a
 * redelivered message (`x-flotilla-message-id`).
 */
import type { JsonValue } from '../sdk/index.js';
import { defineAgent } from '../sdk/index.js';
import { parseHttpConfig, type HeaderValue } from './http-config.js';
import { postJson } from './http-post.js';
import { describeUrl, redact, snippet } from './text.js';

/** Headers every request carries, so the endpoint knows who calls and can dedupe. */
export const HEADER_AGENT = 'x-flotilla-agent';
export const HEADER_MESSAGE_ID = 'x-flotilla-message-id';
export const HEADER_FROM = 'x-flotilla-from';

/** The headers to send, and the values that came from the environment (secrets, kept out of errors). */
function resolveHeaders(who: string, headers: Record<string, HeaderValue>): { values: Record<string, string>; secrets: string[] } {
  const values: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if ('literal' in value) {
      values[name] = value.literal;
      continue;
    }
    // Read at each call: a rotated secret is picked up without redeploying.
    const fromEnv = process.env[value.env];
    if (fromEnv === undefined || fromEnv === '') throw new Error(`${who}: header ${name} comes from the environment variable ${value.env}, which is not set on this container`);
    values[name] = fromEnv;
    secrets.push(fromEnv);
  }
  return { values, secrets };
}

export const httpAgent = defineAgent<null, Record<string, unknown>, unknown, JsonValue>({
  type: 'http',
  description: 'POSTs each message as JSON to a URL; the JSON response is the reply (an agent in any language).',
  async onMessage(message, ctx) {
    const settings = parseHttpConfig(ctx.config);
    const { values, secrets } = resolveHeaders(ctx.id, settings.headers);
    const headers = {
      ...values,
      [HEADER_AGENT]: ctx.id,
      [HEADER_MESSAGE_ID]: ctx.message.id,
      [HEADER_FROM]: ctx.message.from,
    };
    const { status, text } = await postJson({ url: settings.url, headers, body: message ?? null, timeoutMs: settings.timeoutMs, signal: ctx.signal, who: ctx.id });
    const target = `POST ${describeUrl(settings.url)}`;
    if (status < 200 || status > 299) {
      // An endpoint may echo the request's headers in its error page: keep env secrets out.
      throw new Error(`${ctx.id}: ${target} answered HTTP ${status}: ${text.trim() === '' ? '(empty body)' : snippet(redact(text, secrets))}`);
    }
    // 204 and friends: a reply of null, not an error.
    if (text.trim() === '') return null;
    try {
      return JSON.parse(text) as JsonValue;
    } catch {
      throw new Error(`${ctx.id}: ${target} answered HTTP ${status} with a body that is not JSON: ${snippet(redact(text, secrets))}`);
    }
  },
});
