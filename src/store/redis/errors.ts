/**
 * Maps what ioredis throws to the store's errors: anything that means "Redis is not there or
 * not answering" (connection errors, timeouts, LOADING/READONLY replies) becomes
 * StoreUnavailableError, which callers retry or self-fence on; what Redis refused, and our own
 * bugs, become a plain StoreError.
 */
import { StoreError, StoreUnavailableError } from '../store.js';

/** Replies that mean Redis is up but cannot serve right now (loading, failover, busy script). */
const UNAVAILABLE_REPLIES = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY)\b/;

export function toStoreError(operation: string, err: unknown, lastConnectionError?: Error): StoreError {
  if (err instanceof StoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const isReply = err instanceof Error && err.name === 'ReplyError';
  if (isReply && !UNAVAILABLE_REPLIES.test(message)) {
    return new StoreError(`Redis refused ${operation}: ${message}`, { cause: err });
  }
  // A bug on our side is not an outage: callers must not retry it forever.
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError || err instanceof ReferenceError) {
    return new StoreError(`${operation} failed: ${message}`, { cause: err });
  }
  // The connection error (e.g. ECONNREFUSED) says more than the client's "max retries" message.
  const last = lastConnectionError?.message;
  const detail = last !== undefined && last !== message ? `${last}; ${message}` : message;
  return new StoreUnavailableError(`Redis unavailable during ${operation}: ${detail}`, { cause: err });
}
