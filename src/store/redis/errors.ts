/**
 * Maps what ioredis throws to the store's errors: anything that means "Redis is not there or
 * not answering" becomes StoreUnavailableError (callers retry or self-fence on it); anything
 * else Redis refused becomes a plain StoreError (a bug or a misconfiguration, not an outage).
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
  const why = lastConnectionError && lastConnectionError.message !== message ? ` (last connection error: ${lastConnectionError.message})` : '';
  return new StoreUnavailableError(`Redis unavailable during ${operation}: ${message}${why}`, { cause: err });
}
