/**
 * Every Redis key the store uses, built in one place.
 *
 * Cluster-level keys share the hash tag `{c}` so that one script can touch them together on
 * Redis Cluster (they all live in one slot). Each fenced resource has its own tag `{r:<resource>}`:
 * its fence and its data sit in one slot, and different resources spread over the cluster.
 *
 * Messaging: every key of one agent shares `{a:<agentId>}` (its hash, which holds the fence
 * `owner`/`epoch` and the watermark, its state, mailbox, last reply and message-id dedup keys), so
 * a turn commits in one single-slot script. A topic's subscribers share `{t:<topic>}`, an inbox
 * `{i:<inbox>}`. The agent indexes (all agents; agents per container) live in `{c}`: they are
 * derived data, written after the agent's own script, and the agent hash is the truth (see
 * redis/messaging/agents.ts for how a stale index is read and repaired).
 */
import { StoreError } from '../store.js';

export const DEFAULT_KEY_PREFIX = 'flotilla:';

export class RedisKeys {
  /** Set of container ids. */
  readonly containers: string;
  /** Hash: container name -> last epoch handed out (kept after removal, so epochs never go down). */
  readonly epochs: string;
  /** Sorted set: container id -> lease deadline (epoch ms). */
  readonly leases: string;
  /** Stream: the capped cluster event log. */
  readonly events: string;
  /** String with a PX expiry: the leader manager's id. */
  readonly leader: string;
  /** Counter: the leadership term. */
  readonly leaderTerm: string;
  /** String, same expiry as `leader`: the Redis session (CLIENT ID) the leader last renewed on. */
  readonly leaderSession: string;
  /** Sorted set: manager id -> presence deadline (epoch ms). */
  readonly managerDeadlines: string;
  /** Prefix of the container record hashes, for scripts that find records by id. */
  readonly containerPrefix: string;
  /** Prefix of the manager presence hashes. */
  readonly managerPrefix: string;
  /** Set of every agent id (derived from the agent hashes). */
  readonly agents: string;

  constructor(readonly prefix: string = DEFAULT_KEY_PREFIX) {
    // A brace in the prefix would move the hash tag and split keys that must share a slot.
    if (/[{}]/.test(prefix)) throw new StoreError(`key prefix ${JSON.stringify(prefix)} must not contain "{" or "}"`);
    const cluster = `${prefix}{c}:`;
    this.containers = `${cluster}containers`;
    this.epochs = `${cluster}epochs`;
    this.leases = `${cluster}leases`;
    this.events = `${cluster}events`;
    this.leader = `${cluster}leader`;
    this.leaderTerm = `${cluster}leader-term`;
    this.leaderSession = `${cluster}leader-session`;
    this.managerDeadlines = `${cluster}manager-deadlines`;
    this.containerPrefix = `${cluster}container:`;
    this.managerPrefix = `${cluster}manager:`;
    this.agents = `${cluster}agents`;
  }

  /** Hash: one container's record. */
  container(id: string): string {
    return `${this.containerPrefix}${id}`;
  }

  /** Hash: one manager's presence (also expires on its own). */
  manager(id: string): string {
    return `${this.managerPrefix}${id}`;
  }

  /** Hash `{owner, epoch}`: who may write `resource`. */
  fence(resource: string): string {
    return `${this.prefix}{r:${resource}}:fence`;
  }

  /** Hash: the fenced data of `resource`. */
  fenceData(resource: string): string {
    return `${this.prefix}{r:${resource}}:data`;
  }

  /** Set: ids of the agents whose owner is `containerId` (derived from the agent hashes). */
  agentsOn(containerId: string): string {
    return `${this.prefix}{c}:agents-on:${containerId}`;
  }

  /** Counter: bumped with every index write for `containerId` (see MessageStore.agentsOnVersion). */
  agentsOnVersion(containerId: string): string {
    return `${this.prefix}{c}:agents-on-version:${containerId}`;
  }

  /**
   * Hash: the agent record, `id type name config* placement* state owner epoch lastHandled turns
   * createdAtMs updatedAtMs [error]` (`*` = JSON; `owner` '' and `epoch` 0 while unplaced).
   */
  agent(agentId: string): string {
    return `${this.prefix}{a:${agentId}}:agent`;
  }

  /** String: the agent's own state (JSON text), written by commitTurn. */
  agentState(agentId: string): string {
    return `${this.prefix}{a:${agentId}}:state`;
  }

  /** Stream: the agent's mailbox; entries at or below the watermark are trimmed. */
  mailbox(agentId: string): string {
    return `${this.prefix}{a:${agentId}}:mailbox`;
  }

  /** Hash `{entryId, inbox, ref, body}`: the reply of the agent's last committed turn. */
  lastReply(agentId: string): string {
    return `${this.prefix}{a:${agentId}}:reply`;
  }

  /** String with a PX expiry: the mailbox entry id of an accepted message id. */
  dedup(agentId: string, messageId: string): string {
    return `${this.prefix}{a:${agentId}}:dedup:${messageId}`;
  }

  /** Set: the agent ids subscribed to `topic`. */
  topic(topic: string): string {
    return `${this.prefix}{t:${topic}}:subscribers`;
  }

  /** Stream: a container's or manager's inbox (replies, doorbells), capped ~INBOX_MAX_LENGTH. */
  inbox(inbox: string): string {
    return `${this.prefix}{i:${inbox}}:inbox`;
  }

  /** Stream: the shipped logs of every host, capped ~LOGS_MAX_LENGTH (its own slot: it is busy). */
  get logs(): string {
    return `${this.prefix}{l}:logs`;
  }

  /** String with a PX expiry: one container's latest latency report (JSON), in `{c}` so MGET works on Redis Cluster. */
  latency(containerId: string): string {
    return `${this.prefix}{c}:latency:${containerId}`;
  }
}
