/**
 * A reply entry's body (`ReplyBody` JSON, written by the agent's runtime) as the API shows it.
 * Decision: a handler error is not an HTTP error. The API call did its work (the message was
 * delivered and handled), so it answers 200 with `status: 'failed'` and the agent's `error`
 * (`handler_error`, `expired`, `unknown_type`); HTTP errors are kept for what the API itself
 * refused or could not do (400, 404, 503, and 504 when no reply came in time).
 */
import type { MessageOutcome } from '../protocol/messages-api.js';

/** The `error.code` of a reply whose body is not a ReplyBody. */
export const INVALID_REPLY = 'invalid_reply';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function outcomeOfReply(messageId: string, agentId: string, text: string): MessageOutcome {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const base = { message_id: messageId, agent_id: agentId };
  const container = isObject(body) && typeof body.container_id === 'string' ? { container_id: body.container_id } : {};
  if (isObject(body) && body.ok === true) {
    return { ...base, status: 'completed', result: body.result === undefined ? null : body.result, ...container };
  }
  if (isObject(body) && body.ok === false && isObject(body.error)) {
    const { code, message } = body.error;
    return {
      ...base,
      status: 'failed',
      error: { code: typeof code === 'string' ? code : 'error', message: typeof message === 'string' ? message : JSON.stringify(message ?? null) },
      ...container,
    };
  }
  return { ...base, status: 'failed', error: { code: INVALID_REPLY, message: `the agent's reply is not a valid reply body: ${text.slice(0, 200)}` } };
}
