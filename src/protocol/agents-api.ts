/**
 * The wire format of the agents part of the manager's API (deploy, inspect, move, delete agents;
 * cluster actions; the distribution of agents): TypeBox schemas and their types, snake_case.
 * An agent id is `type/name`; in paths it is two segments, `/agents/{type}/{name}`.
 */
import { Type, type Static } from '@sinclair/typebox';
// The scheduler's own list (a leaf module: importing it loads nothing else of the scheduler).
import { STRATEGIES, type Strategy } from '../scheduler/strategy.js';
import { MAX_LABEL_LENGTH, MAX_LIST_ITEMS, MAX_MAP_ENTRIES, SafeName } from './api.js';

/** Replicas one deploy may ask for. */
export const MAX_REPLICAS = 100;
/** An agent's config is stored with it and handed to its container: a few prompts, not a corpus. */
export const MAX_AGENT_CONFIG_BYTES = 65_536;
/** Moves one rebalance may make (each is a live migration). */
export const MAX_REBALANCE_MOVES = 1_000;
/** Agents one list answer carries at most, and by default. */
export const MAX_AGENTS_LISTED = 10_000;
export const DEFAULT_AGENTS_LISTED = 1_000;

const Amounts = Type.Record(Type.String({ minLength: 1, maxLength: MAX_LABEL_LENGTH }), Type.Number({ minimum: 0 }), { maxProperties: MAX_MAP_ENTRIES });
const Text = Type.String({ minLength: 1, maxLength: MAX_LABEL_LENGTH });

/** An enum rather than a union of literals, so a wrong value is told the allowed ones. */
export const StrategySchema = Type.Unsafe<Strategy>({ type: 'string', enum: [...STRATEGIES] });

export const ConstraintsSchema = Type.Object(
  {
    /** `node.role == worker`, `zone != b`, `gpu` (exists), `!gpu` (absent); all must hold. */
    labels: Type.Optional(Type.Array(Text, { maxItems: MAX_LIST_ITEMS })),
    capabilities: Type.Optional(Type.Array(Text, { maxItems: MAX_LIST_ITEMS })),
    /** What the container must have declared in total (e.g. `{"gpus": 1}`). */
    min_resources: Type.Optional(Amounts),
  },
  { additionalProperties: false },
);
export type ConstraintsSchema = Static<typeof ConstraintsSchema>;

export const DeployBody = Type.Object(
  {
    agent_type: SafeName,
    agent_config: Type.Optional(Type.Record(Type.String({ maxLength: MAX_LABEL_LENGTH }), Type.Unknown(), { maxProperties: 256 })),
    /** Default: 8 random hex digits. With replicas > 1 the agents are `name-1` … `name-n`. */
    name: Type.Optional(SafeName),
    replicas: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_REPLICAS, default: 1 })),
    deployment_strategy: Type.Optional(StrategySchema),
    constraints: Type.Optional(ConstraintsSchema),
    preferred_container: Type.Optional(SafeName),
    /** What the agent consumes of its container's declared resources (e.g. `{"memory_mb": 512}`). */
    resource_requirements: Type.Optional(Amounts),
  },
  { additionalProperties: false },
);
export type DeployBody = Static<typeof DeployBody>;

export const PlacedAgent = Type.Object({
  agent_id: Type.String(),
  container_id: Type.String(),
  host_address: Type.String(),
  state: Type.String(),
  /** Why the scheduler chose this container. */
  reason: Type.String(),
});
export type PlacedAgent = Static<typeof PlacedAgent>;

export const DeployResponse = Type.Object({
  success: Type.Literal(true),
  agents: Type.Array(PlacedAgent),
});
export type DeployResponse = Static<typeof DeployResponse>;

export const AgentParams = Type.Object({ type: SafeName, name: SafeName });
export type AgentParams = Static<typeof AgentParams>;

export const ListAgentsQuery = Type.Object(
  {
    /** Only the agents this container owns. */
    container_id: Type.Optional(SafeName),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_AGENTS_LISTED, default: DEFAULT_AGENTS_LISTED })),
  },
  { additionalProperties: false },
);
export type ListAgentsQuery = Static<typeof ListAgentsQuery>;

export const AgentView = Type.Object({
  agent_id: Type.String(),
  agent_type: Type.String(),
  agent_name: Type.String(),
  state: Type.String(),
  container_id: Type.Union([Type.String(), Type.Null()]),
  host_address: Type.Union([Type.String(), Type.Null()]),
  /** The owner's epoch the agent is fenced to (0 while unplaced). */
  epoch: Type.Integer(),
  turns: Type.Integer(),
  last_handled: Type.String(),
  /** Messages accepted and not yet handled. */
  mailbox_depth: Type.Integer(),
  created_at: Type.String(),
  updated_at: Type.String(),
  /** Why the agent is `failed`. */
  error: Type.Optional(Type.String()),
  /** Why no container can take it right now (it is pending, or stuck on a draining container). */
  placement_error: Type.Optional(Type.String()),
  deployment_strategy: Type.String(),
  constraints: ConstraintsSchema,
  preferred_container: Type.Optional(Type.String()),
  resource_requirements: Type.Optional(Type.Record(Type.String(), Type.Number())),
});
export type AgentView = Static<typeof AgentView>;

export const AgentDetail = Type.Composite([AgentView, Type.Object({ agent_config: Type.Record(Type.String(), Type.Unknown()) })]);
export type AgentDetail = Static<typeof AgentDetail>;

export const AgentList = Type.Object({
  agents: Type.Array(AgentView),
  /** All agents matching the query; `agents` holds the first `limit` of them by id. */
  total: Type.Integer(),
});
export type AgentList = Static<typeof AgentList>;

export const MigrateBody = Type.Object(
  {
    /** Default: wherever the agent's own strategy and constraints place it, away from its container. */
    target_container_id: Type.Optional(SafeName),
    /** false: start on the new container with a fresh state (the type's `init` runs again); the mailbox and watermark are kept. */
    preserve_state: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
export type MigrateBody = Static<typeof MigrateBody>;

export const MigrateResponse = Type.Object({
  success: Type.Literal(true),
  agent_id: Type.String(),
  from_container_id: Type.String(),
  container_id: Type.String(),
  host_address: Type.String(),
  state: Type.String(),
  reason: Type.String(),
  /** Whether the agent kept its state (false: it was reset). Optional only for older managers, which do not send it. */
  preserve_state: Type.Optional(Type.Boolean()),
});
export type MigrateResponse = Static<typeof MigrateResponse>;

export const DeleteAgentResponse = Type.Object({
  success: Type.Literal(true),
  agent_id: Type.String(),
  container_id: Type.Union([Type.String(), Type.Null()]),
});
export type DeleteAgentResponse = Static<typeof DeleteAgentResponse>;

export const CLUSTER_ACTIONS = ['rebalance', 'health_check'] as const;

export const ActionBody = Type.Object(
  {
    action: Type.Unsafe<(typeof CLUSTER_ACTIONS)[number]>({ type: 'string', enum: [...CLUSTER_ACTIONS] }),
    /** rebalance: `spread` evens out agents per host; anything else, the share of slots per container. */
    strategy: Type.Optional(StrategySchema),
    /** rebalance: at most this many moves (default: the scheduler's, 20). */
    max_moves: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_REBALANCE_MOVES })),
    /** rebalance: plan only, return the moves without making them. */
    dry_run: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);
export type ActionBody = Static<typeof ActionBody>;

export const MoveView = Type.Object({
  agent_id: Type.String(),
  from: Type.String(),
  to: Type.String(),
  reason: Type.String(),
  /** false in a dry run, and for an agent deleted before its move. */
  applied: Type.Boolean(),
});
export type MoveView = Static<typeof MoveView>;

export const RebalanceResponse = Type.Object({
  success: Type.Literal(true),
  action: Type.Literal('rebalance'),
  dry_run: Type.Boolean(),
  moves: Type.Array(MoveView),
  /** True when no further move would even things out. */
  converged: Type.Boolean(),
});
export type RebalanceResponse = Static<typeof RebalanceResponse>;

export const ContainerHealth = Type.Object({
  container_id: Type.String(),
  host_address: Type.String(),
  state: Type.String(),
  availability: Type.String(),
  epoch: Type.Integer(),
  alive: Type.Boolean(),
  last_heartbeat: Type.String(),
  agents: Type.Integer(),
});

export const OrphanedAgent = Type.Object({
  agent_id: Type.String(),
  container_id: Type.String(),
  /** `owner_down`, `owner_missing`, or `owner_restarted` (fenced to an older epoch). */
  reason: Type.String(),
});

export const HealthCheckResponse = Type.Object({
  success: Type.Literal(true),
  action: Type.Literal('health_check'),
  /** No container down and no agent orphaned or unplaced. */
  healthy: Type.Boolean(),
  containers: Type.Array(ContainerHealth),
  orphaned_agents: Type.Array(OrphanedAgent),
  /** Agents waiting for a container (pending or placing). */
  unplaced_agents: Type.Array(Type.String()),
});
export type HealthCheckResponse = Static<typeof HealthCheckResponse>;

export const ActionResponse = Type.Union([RebalanceResponse, HealthCheckResponse]);
export type ActionResponse = Static<typeof ActionResponse>;

export const Distribution = Type.Object({
  total_agents: Type.Integer(),
  unplaced_agents: Type.Integer(),
  /** Agents on active containers over the agent slots of active containers; null without slots. */
  load_ratio: Type.Union([Type.Number(), Type.Null()]),
  containers: Type.Array(
    Type.Object({
      container_id: Type.String(),
      host_address: Type.String(),
      state: Type.String(),
      availability: Type.String(),
      agents: Type.Integer(),
      max_agents: Type.Integer(),
      load_ratio: Type.Union([Type.Number(), Type.Null()]),
    }),
  ),
  hosts: Type.Array(Type.Object({ host_address: Type.String(), containers: Type.Integer(), agents: Type.Integer() })),
  types: Type.Record(Type.String(), Type.Integer()),
});
export type Distribution = Static<typeof Distribution>;
