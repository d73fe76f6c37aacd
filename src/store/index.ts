/**
 * The store module's public face: the ClusterStore interface, its errors and limits, both
 * implementations, the Redis connection helpers and `createStore`, which picks one by config.
 */
import { MemoryStore } from './memory/memory-store.js';
import { connectRedis, waitForRedis } from './redis/connection.js';
import { RedisStore } from './redis/redis-store.js';
import type { ClusterStore } from './store.js';

export {
  EVENTS_MAX_LENGTH,
  EXPIRE_BATCH_LIMIT,
  StoreError,
  StoreUnavailableError,
  type ClusterStore,
  type EventQuery,
  type Fence,
  type FenceFailure,
  type FencedWriteResult,
  type LeadershipResult,
  type ManagerInfo,
  type ManagerPresence,
  type RemoveResult,
  type RenewFailure,
  type RenewResult,
} from './store.js';
export { RESOURCE_MAX_LENGTH } from './validate.js';
export { MemoryStore, type MemoryStoreOptions } from './memory/memory-store.js';
export { RedisStore, type RedisStoreOptions } from './redis/redis-store.js';
export { DEFAULT_KEY_PREFIX } from './redis/keys.js';
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  connectRedis,
  parseRedisUrl,
  waitForRedis,
  type ConnectRedisOptions,
} from './redis/connection.js';

/** How long createStore waits for Redis to answer before giving up. */
export const DEFAULT_STORE_READY_TIMEOUT_MS = 10_000;

export interface CreateStoreOptions {
  /** `redis://` or `rediss://`; without one (or empty) the store is in memory. */
  redisUrl?: string;
  prefix?: string;
  /** Client name for CLIENT LIST (e.g. `flotilla-manager`). */
  name?: string;
  tlsCaFile?: string;
  readyTimeoutMs?: number;
}

/** The store for this process: Redis when a URL is given (and it answers), memory otherwise. */
export async function createStore(options: CreateStoreOptions = {}): Promise<ClusterStore> {
  if (options.redisUrl === undefined || options.redisUrl === '') return new MemoryStore();
  const redis = connectRedis(options.redisUrl, { name: options.name, tlsCaFile: options.tlsCaFile });
  try {
    await waitForRedis(redis, options.readyTimeoutMs ?? DEFAULT_STORE_READY_TIMEOUT_MS);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return new RedisStore({ redis, prefix: options.prefix });
}
