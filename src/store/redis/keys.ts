/**
 * Every Redis key the store uses, built in one place.
 *
 * Cluster-level keys share the hash tag `{c}` so that one script can touch them together on
 * Redis Cluster (they all live in one slot). Each fenced resource has its own tag `{r:<resource>}`:
 * its fence and its data sit in one slot, and different resources spread over the cluster.
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
  /** Sorted set: manager id -> presence deadline (epoch ms). */
  readonly managerDeadlines: string;
  /** Prefix of the container record hashes, for scripts that find records by id. */
  readonly containerPrefix: string;
  /** Prefix of the manager presence hashes. */
  readonly managerPrefix: string;

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
    this.managerDeadlines = `${cluster}manager-deadlines`;
    this.containerPrefix = `${cluster}container:`;
    this.managerPrefix = `${cluster}manager:`;
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
}
