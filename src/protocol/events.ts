/** Cluster events, kept in a capped log in the store (a Redis stream). */
export type ClusterEventType =
  | 'container_joined'
  | 'container_left'
  | 'container_down'
  | 'container_removed'
  | 'container_cordoned'
  | 'container_uncordoned'
  | 'container_draining'
  | 'leader_elected';

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
