/**
 * The cluster's view of an agent container, as the store keeps it (camelCase domain types) and as
 * the API shows it (snake_case, the field names users already script against).
 */

/** Liveness, decided by the lease: `active` while renewed, `down` once the lease lapsed. */
export type ContainerState = 'active' | 'down';
/** Whether the scheduler may place new agents there (Swarm calls this availability). */
export type Availability = 'schedulable' | 'cordoned' | 'draining';

export const CONTAINER_STATES: readonly ContainerState[] = ['active', 'down'];
export const AVAILABILITIES: readonly Availability[] = ['schedulable', 'cordoned', 'draining'];

/** Declared resources of a container. Unknown numeric keys are kept (e.g. `tpu`). */
export interface Resources {
  cpu_cores?: number;
  memory_mb?: number;
  gpus?: number;
  max_agents?: number;
  [key: string]: number | undefined;
}

/** What a container sends when it joins. `name` is also its id. */
export interface ContainerRegistration {
  name: string;
  hostAddress: string;
  apiPort: number;
  capabilities: string[];
  labels: Record<string, string>;
  resources: Resources;
  metadata: Record<string, unknown>;
  /** Agent types this container can run (filled in by the agents issue; empty until then). */
  agentTypes: string[];
  leaseTimeoutMs: number;
  leaseIntervalMs: number;
}

export interface ContainerRecord {
  id: string;
  name: string;
  hostAddress: string;
  apiPort: number;
  capabilities: string[];
  labels: Record<string, string>;
  resources: Resources;
  metadata: Record<string, unknown>;
  agentTypes: string[];
  state: ContainerState;
  availability: Availability;
  /** Grows with every registration of this name; the fencing token of this incarnation. */
  epoch: number;
  leaseTimeoutMs: number;
  leaseIntervalMs: number;
  /** Epoch milliseconds, from the store's clock (Redis TIME), not the container's. */
  registeredAtMs: number;
  lastRenewalMs: number;
  downAtMs: number | null;
}
