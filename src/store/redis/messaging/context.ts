/**
 * What the messaging modules share with RedisStore: its connection, its keys, and its wrappers
 * that map ioredis errors to store errors.
 */
import type { Redis } from 'ioredis';
import type { ScriptName } from '../commands.js';
import type { RedisKeys } from '../keys.js';

export interface RedisContext {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  /** Runs `fn`, turning what it throws into StoreError / StoreUnavailableError. */
  call<T>(operation: string, fn: () => Promise<T>): Promise<T>;
  /** Runs one of the store's Lua scripts (errors mapped as by `call`). */
  script(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown>;
}

/** Throws what MULTI/pipeline replies carry as errors (exec() resolves even when a command failed). */
export function throwFailed(replies: [Error | null, unknown][] | null): unknown[] {
  if (replies === null) throw new Error('transaction aborted');
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
