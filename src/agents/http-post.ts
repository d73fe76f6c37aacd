/**
 * One JSON POST with a deadline, for the agents that call out over HTTP (`llm`, `http`). The turn's
 * cancellation signal and a per-call timeout are merged, so a stopping or moving agent lets go of
 * the call at once and a hung server cannot hold a turn (and the agent's mailbox) for ever.
 */
import { request } from 'undici';
import { describeUrl } from './text.js';

/** A reply larger than this is refused: it would end up in a message or in saved state. */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface PostJsonOptions {
  url: string;
  headers: Record<string, string>;
  body: unknown;
  timeoutMs: number;
  /** The turn's signal (`ctx.signal`). */
  signal: AbortSignal;
  /** Prefix of every error message, e.g. `llm/alice`. */
  who: string;
  maxResponseBytes?: number;
}

export interface PostJsonResult {
  status: number;
  text: string;
}

/** Network failure, timeout, cancellation or an oversized reply; `kind` tells which. */
export class PostError extends Error {
  override readonly name = 'PostError';
  constructor(
    readonly kind: 'timeout' | 'cancelled' | 'network' | 'too_large',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** POSTs `body` as JSON and reads the whole reply as text. Any status is returned, not thrown. */
export async function postJson(options: PostJsonOptions): Promise<PostJsonResult> {
  const { url, timeoutMs, signal, who, maxResponseBytes = MAX_RESPONSE_BYTES } = options;
  const target = `POST ${describeUrl(url)}`;
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = AbortSignal.any([signal, timeout]);
  try {
    const response = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
      body: JSON.stringify(options.body),
      signal: combined,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > maxResponseBytes) {
        response.body.destroy();
        throw new PostError('too_large', `${who}: ${target}: the response is larger than ${maxResponseBytes} bytes`);
      }
      chunks.push(buf);
    }
    return { status: response.statusCode, text: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    if (err instanceof PostError) throw err;
    // Which signal fired decides the wording: the turn's (the agent is stopping) or our deadline.
    if (signal.aborted) throw new PostError('cancelled', `${who}: ${target}: cancelled (the agent is stopping or moving)`, { cause: err });
    if (timeout.aborted) throw new PostError('timeout', `${who}: ${target}: no response within ${timeoutMs} ms (timeout_ms)`, { cause: err });
    const e = err as { code?: string; message?: string };
    const reason = e.code !== undefined ? `${e.code} ${e.message ?? ''}`.trim() : (e.message ?? String(err));
    throw new PostError('network', `${who}: ${target}: request failed: ${reason}`, { cause: err });
  }
}
