/** Cluster events, kept in a capped log in the store (a Redis stream). */
export type ClusterEventType =
  | 'container_joined'
  | 'container_left'
  | 'container_down'
  | 'container_removed'
  | 'container_cordoned'
  | 'container_uncordoned'
  | 'container_draining'
  | 'leader_elected'
  /** An agent got its first container, or a pending one found room (data: agent_id, to, reason). */
  | 'agent_placed'
  /** Moved off a live container: migrate, drain, rebalance (data: agent_id, from, to, cause, reason). */
  | 'agent_moved'
  /** Moved because its owner is down, gone, or re-registered under a new epoch (data as agent_moved). */
  | 'agent_failed_over'
  /** No container can take it now; it stays pending (or on its draining container) and is retried (data: agent_id, error). */
  | 'agent_unplaceable'
  /** Removed through the API (data: agent_id, container_id). */
  | 'agent_deleted'
  /** An operator or admin action through the API (data: who, role, method, route, params, status, source). */
  | 'api_action'
  /** The manager found its key directory changed: keys rotated or retired, join token rotated (data: signing, verify_only, join_token_rotated, ca_changed, ca_rotation). */
  | 'keys_changed';

export interface ClusterEvent {
  /** Store-assigned, increasing (a Redis stream id such as `1700000000000-0`). */
  id: string;
  type: ClusterEventType;
  atMs: number;
  containerId?: string;
  epoch?: number;
  managerId?: string;
  /** Free-form details (e.g. host address, reason). */
  data: Record<string, unknown>;
}
