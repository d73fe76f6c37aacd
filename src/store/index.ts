/**
 * The store module's public face: the ClusterStore (control plane) and MessageStore (data plane)
 * interfaces, their errors and limits, both implementations (each implements both interfaces), the
 * Redis connection helpers and `createStore`, which picks one by config.
 */
import { MemoryStore } from './memory/memory-store.js';
import { checkRedisAtStart, connectRedis, StoreCredentialsError, waitForRedis } from './redis/connection.js';
import { RedisStore } from './redis/redis-store.js';
import type { MessageStore } from './messaging.js';
import type { ClusterStore } from './store.js';
import type { ObservabilityStore } from './observability.js';

export {
  EVENTS_MAX_LENGTH,
  EXPIRE_BATCH_LIMIT,
  StoreError,
  StoreUnavailableError,
  type ClusterStore,
  type EventQuery,
  type Fence,
  type FenceFailure,
  type LateContainer,
  type FencedWriteResult,
  type LeadershipResult,
  type ManagerInfo,
  type ManagerPresence,
  type RemoveResult,
  type RenewFailure,
  type RenewResult,
} from './store.js';
export {
  AGENT_STATES,
  INBOX_ENTRY_KINDS,
  INBOX_MAX_LENGTH,
  INBOX_READ_MAX,
  MAILBOX_READ_MAX,
  MESSAGE_DEDUP_TTL_MS,
  MESSAGE_KINDS,
  NO_ENTRY_ID,
  type AgentRecord,
  type AgentState,
  type AppendResult,
  type AssignAgentOptions,
  type CommitResult,
  type InboxEntry,
  type InboxEntryKind,
  type LastReply,
  type MailboxEntry,
  type MailboxMessage,
  type MessageKind,
  type MessageStore,
  type NewAgent,
  type PlacementSpec,
  type PushInboxOptions,
  type TurnCommit,
  type TurnReply,
} from './messaging.js';
export {
  LOG_LEVELS,
  LOG_LEVEL_VALUES,
  LOG_READ_MAX,
  LOG_SCAN_MAX,
  LOGS_MAX_LENGTH,
  isLogLevel,
  type LatencyReport,
  type LatencySample,
  type LogLevelName,
  type LogPage,
  type LogQuery,
  type LogRecord,
  type ObservabilityStore,
  type StoredLog,
} from './observability.js';
export { compareStreamIds, isStreamId } from './stream-id.js';
export { RESOURCE_MAX_LENGTH } from './validate.js';
export { MemoryStore, type MemoryStoreOptions } from './memory/memory-store.js';
export { RedisStore, type RedisStoreOptions } from './redis/redis-store.js';
export { DEFAULT_KEY_PREFIX } from './redis/keys.js';
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  connectRedis,
  parseRedisUrl,
  duplicateForBlocking,
  waitForRedis,
  checkRedisAtStart,
  STARTUP_CHECK_MS,
  StoreCredentialsError,
  type ConnectRedisOptions,
} from './redis/connection.js';

/** What a process gets from createStore: both halves of the store. */
export type Store = ClusterStore & MessageStore & ObservabilityStore;

export interface CreateStoreOptions {
  /** `redis://` or `rediss://`; without one (or empty) the store is in memory. */
  redisUrl?: string;
  prefix?: string;
  /** Client name for CLIENT LIST (e.g. `flotilla-manager`). */
  name?: string;
  tlsCaFile?: string;
  /** Wait this long for Redis to answer, and fail with StoreUnavailableError if it does not. */
  readyTimeoutMs?: number;
  /**
   * Called (once, in the background, within STARTUP_CHECK_MS of the start) when Redis refuses
   * the credentials or the TLS handshake fails: no retry can fix that, so a process says so and
   * exits. The start itself does not wait for the check; an unreachable Redis is still tolerated.
   */
  onCredentialsRefused?: (err: StoreCredentialsError) => void;
}

/**
 * The store for this process: Redis when a URL is given, memory otherwise. A malformed URL
 * throws StoreError at once. By default it does not wait for Redis: a process whose Redis is
 * down starts anyway, its calls fail fast with StoreUnavailableError (so it can report itself
 * not ready) and the connection recovers on its own when Redis comes up, with no crash loop.
 */
export async function createStore(options: CreateStoreOptions = {}): Promise<Store> {
  if (options.redisUrl === undefined || options.redisUrl === '') return new MemoryStore();
  const redis = connectRedis(options.redisUrl, { name: options.name, tlsCaFile: options.tlsCaFile });
  const store = new RedisStore({ redis, prefix: options.prefix });
  const refused = options.onCredentialsRefused;
  if (refused !== undefined) {
    checkRedisAtStart(redis, options.redisUrl).catch((err: unknown) => {
      if (err instanceof StoreCredentialsError) refused(err);
    });
  }
  if (options.readyTimeoutMs !== undefined) {
    try {
      await waitForRedis(redis, options.readyTimeoutMs);
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  return store;
}
