/**
 * The wire format of the manager's REST API: TypeBox schemas (validated by Fastify, published in
 * OpenAPI later) and the TypeScript types derived from them. Field names are snake_case, as users
 * already script them.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ContainerRecord } from './container.js';
import { NAME_PATTERN } from './names.js';

/** Bounds on what a container may declare, so a bad client cannot bloat the store. */
export const MAX_LIST_ITEMS = 64;
export const MAX_MAP_ENTRIES = 64;
export const MAX_LABEL_LENGTH = 253;
export const MAX_HOST_ADDRESS_LENGTH = 253;
export const MAX_METADATA_BYTES = 8_192;

export const SafeName = Type.String({ pattern: NAME_PATTERN, maxLength: 128 });
const Label = Type.String({ minLength: 1, maxLength: MAX_LABEL_LENGTH, pattern: '^[^\\x00-\\x1f]*$' });
const Ms = Type.Integer({ minimum: 100, maximum: 600_000 });

export const ResourcesSchema = Type.Object(
  {
    cpu_cores: Type.Optional(Type.Number({ minimum: 0 })),
    memory_mb: Type.Optional(Type.Number({ minimum: 0 })),
    gpus: Type.Optional(Type.Integer({ minimum: 0 })),
    max_agents: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: Type.Number({ minimum: 0 }), maxProperties: MAX_MAP_ENTRIES },
);

/** Longest CSR accepted: a P-256 request is ~500 bytes of PEM, an RSA-4096 one ~1,700. */
export const MAX_CSR_LENGTH = 8_192;
/** A PEM certificate signing request (PKCS#10); its private key stays with the container. */
export const CsrPem = Type.String({ minLength: 1, maxLength: MAX_CSR_LENGTH, pattern: '^-----BEGIN CERTIFICATE REQUEST-----[A-Za-z0-9+/=\\r\\n]+-----END CERTIFICATE REQUEST-----\\s*$' });

export const RegisterBody = Type.Object(
  {
    container_name: SafeName,
    host_address: Type.String({ minLength: 1, maxLength: MAX_HOST_ADDRESS_LENGTH, pattern: '^[A-Za-z0-9.:_\\[\\]-]+$' }),
    api_port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535 })),
    capabilities: Type.Optional(Type.Array(Label, { maxItems: MAX_LIST_ITEMS })),
    labels: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: MAX_LABEL_LENGTH }), Type.String({ maxLength: MAX_LABEL_LENGTH }), { maxProperties: MAX_MAP_ENTRIES })),
    resources: Type.Optional(ResourcesSchema),
    metadata: Type.Optional(Type.Record(Type.String({ maxLength: MAX_LABEL_LENGTH }), Type.Unknown(), { maxProperties: MAX_MAP_ENTRIES })),
    agent_types: Type.Optional(Type.Array(SafeName, { maxItems: MAX_LIST_ITEMS })),
    lease_interval_ms: Type.Optional(Ms),
    lease_timeout_ms: Type.Optional(Ms),
    /** TLS: the container's CSR; the answer carries its certificate from the cluster CA. */
    csr: Type.Optional(CsrPem),
  },
  { additionalProperties: false },
);
export type RegisterBody = Static<typeof RegisterBody>;

export const LeaseSettings = Type.Object({
  interval_ms: Type.Integer(),
  timeout_ms: Type.Integer(),
  /** Where the container renews: directly in Redis when it can, else over HTTP (heartbeat). */
  heartbeat_path: Type.String(),
});

/** A container's own API token, handed out at registration and renewed on heartbeats (absent when authentication is off). */
const ContainerTokenFields = {
  /** A JWT with role `container` and `cid` = this container's id: it may heartbeat, deregister and re-register itself only. */
  token: Type.Optional(Type.String()),
  token_expires_at: Type.Optional(Type.String()),
};

/** Every CA a member trusts, current first: two during a CA rotation (new, previous), else one. */
const CaBundle = Type.Array(Type.String(), { maxItems: 2 });
/** Certificates to present after the leaf: the cross certificate (new CA issued by the previous) during a rotation. */
const CertificateChain = Type.Array(Type.String(), { maxItems: 1 });

/** A certificate issued at registration (when the body had a CSR). */
const CertificateFields = {
  certificate: Type.Optional(Type.String()),
  ca_certificate: Type.Optional(Type.String()),
  ca_certificates: Type.Optional(CaBundle),
  certificate_chain: Type.Optional(CertificateChain),
  certificate_serial: Type.Optional(Type.String()),
  certificate_expires_at: Type.Optional(Type.String()),
};

export const RegisterResponse = Type.Object({
  success: Type.Literal(true),
  container_id: Type.String(),
  epoch: Type.Integer(),
  lease: LeaseSettings,
  ...ContainerTokenFields,
  /** The join token's fingerprint part: sha256 of the cluster CA certificate (DER), or of the identity key without a CA. */
  cluster_fingerprint: Type.Optional(Type.String()),
  ...CertificateFields,
});
export type RegisterResponse = Static<typeof RegisterResponse>;

export const CertificateBody = Type.Object({ csr: CsrPem }, { additionalProperties: false });
export type CertificateBody = Static<typeof CertificateBody>;

export const CertificateResponse = Type.Object({
  success: Type.Literal(true),
  container_id: Type.String(),
  certificate: Type.String(),
  ca_certificate: Type.String(),
  ca_certificates: Type.Optional(CaBundle),
  certificate_chain: Type.Optional(CertificateChain),
  certificate_serial: Type.String(),
  certificate_expires_at: Type.String(),
});
export type CertificateResponse = Static<typeof CertificateResponse>;

export const ClusterCaResponse = Type.Object({
  /** The CA certificate (PEM) that issued the manager's and the containers' certificates. */
  ca_certificate: Type.String(),
  /** sha256 of its DER, hex; a joining container checks it against its join token before trusting it. */
  fingerprint: Type.String(),
  /**
   * Every CA to trust, current first: during a CA rotation also the previous one (a join token
   * handed out before the rotation names it; the manager's chain verifies against it).
   */
  ca_certificates: Type.Optional(CaBundle),
  /** Present during a CA rotation (`flotilla ca rotate` until `--finish`). */
  rotation: Type.Optional(Type.Object({ previous_fingerprint: Type.String(), started_at: Type.String() })),
});
export type ClusterCaResponse = Static<typeof ClusterCaResponse>;

export const HeartbeatBody = Type.Object({ epoch: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
export type HeartbeatBody = Static<typeof HeartbeatBody>;

export const ContainerIdParams = Type.Object({ id: SafeName });
export type ContainerIdParams = Static<typeof ContainerIdParams>;

export const ListContainersQuery = Type.Object(
  { include_inactive: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);
export type ListContainersQuery = Static<typeof ListContainersQuery>;

export const DeleteContainerQuery = Type.Object(
  { force: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);
export type DeleteContainerQuery = Static<typeof DeleteContainerQuery>;

export const ContainerView = Type.Object({
  container_id: Type.String(),
  container_name: Type.String(),
  host_address: Type.String(),
  api_port: Type.Integer(),
  endpoint: Type.String(),
  state: Type.Union([Type.Literal('active'), Type.Literal('down')]),
  availability: Type.Union([Type.Literal('schedulable'), Type.Literal('cordoned'), Type.Literal('draining')]),
  epoch: Type.Integer(),
  capabilities: Type.Array(Type.String()),
  labels: Type.Record(Type.String(), Type.String()),
  resources: Type.Record(Type.String(), Type.Number()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  agent_types: Type.Array(Type.String()),
  lease_interval_ms: Type.Integer(),
  lease_timeout_ms: Type.Integer(),
  registered_at: Type.String(),
  last_heartbeat: Type.String(),
  down_at: Type.Union([Type.String(), Type.Null()]),
});
export type ContainerView = Static<typeof ContainerView>;

export function toContainerView(c: ContainerRecord): ContainerView {
  const resources: Record<string, number> = {};
  for (const [k, v] of Object.entries(c.resources)) if (typeof v === 'number') resources[k] = v;
  return {
    container_id: c.id,
    container_name: c.name,
    host_address: c.hostAddress,
    api_port: c.apiPort,
    endpoint: `http://${c.hostAddress.includes(':') ? `[${c.hostAddress}]` : c.hostAddress}:${c.apiPort}`,
    state: c.state,
    availability: c.availability,
    epoch: c.epoch,
    capabilities: c.capabilities,
    labels: c.labels,
    resources,
    metadata: c.metadata,
    agent_types: c.agentTypes,
    lease_interval_ms: c.leaseIntervalMs,
    lease_timeout_ms: c.leaseTimeoutMs,
    registered_at: new Date(c.registeredAtMs).toISOString(),
    last_heartbeat: new Date(c.lastRenewalMs).toISOString(),
    down_at: c.downAtMs === null ? null : new Date(c.downAtMs).toISOString(),
  };
}

export const ContainerList = Type.Object({
  containers: Type.Array(ContainerView),
  total: Type.Integer(),
});
export type ContainerList = Static<typeof ContainerList>;

export const ContainerActionResponse = Type.Object({
  success: Type.Literal(true),
  container: ContainerView,
});
export type ContainerActionResponse = Static<typeof ContainerActionResponse>;

export const HeartbeatResponse = Type.Object({
  success: Type.Literal(true),
  container_id: Type.String(),
  epoch: Type.Integer(),
  lease_expires_at: Type.String(),
  /** A new token when the caller's is in the last third of its life. */
  ...ContainerTokenFields,
});
export type HeartbeatResponse = Static<typeof HeartbeatResponse>;

export const HealthResponse = Type.Object({
  status: Type.String(),
  timestamp: Type.String(),
  version: Type.String(),
});

export const ReadyResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  timestamp: Type.String(),
  redis_rtt_ms: Type.Optional(Type.Number()),
  reason: Type.Optional(Type.String()),
});

export const ClusterStatus = Type.Object({
  status: Type.Union([Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('unavailable')]),
  timestamp: Type.String(),
  version: Type.String(),
  cluster: Type.Object({
    total_containers: Type.Integer(),
    active_containers: Type.Integer(),
    inactive_containers: Type.Integer(),
    down_containers: Type.Integer(),
    cordoned_containers: Type.Integer(),
    draining_containers: Type.Integer(),
    capacity: Type.Object({
      max_agents: Type.Integer(),
      cpu_cores: Type.Number(),
      memory_mb: Type.Number(),
      gpus: Type.Integer(),
    }),
    containers: Type.Array(
      Type.Object({
        container_id: Type.String(),
        host_address: Type.String(),
        state: Type.String(),
        availability: Type.String(),
        epoch: Type.Integer(),
      }),
    ),
  }),
  deployments: Type.Object({
    total_agents: Type.Integer(),
    agents_per_container: Type.Record(Type.String(), Type.Integer()),
  }),
  managers: Type.Array(
    Type.Object({ manager_id: Type.String(), address: Type.String(), leader: Type.Boolean(), last_seen: Type.String() }),
  ),
  leader: Type.Object({ manager_id: Type.Union([Type.String(), Type.Null()]), term: Type.Integer() }),
  store: Type.String(),
});
export type ClusterStatus = Static<typeof ClusterStatus>;

export const EventsQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ pattern: '^\\d+-\\d+$', maxLength: 40 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000, default: 100 })),
  },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof EventsQuery>;

/** An event id as the store gives it (`<ms>-<seq>`). */
const EventId = Type.String({ pattern: '^\\d+-\\d+$', maxLength: 40 });

/** `GET /cluster/events/stream`: start after this id (the `Last-Event-ID` header wins). */
export const EventStreamQuery = Type.Object({ after: Type.Optional(EventId) }, { additionalProperties: false });
export type EventStreamQuery = Static<typeof EventStreamQuery>;
export const EventStreamHeaders = Type.Object({ 'last-event-id': Type.Optional(EventId) });
export type EventStreamHeaders = Static<typeof EventStreamHeaders>;

export const EventView = Type.Object({
  id: Type.String(),
  type: Type.String(),
  timestamp: Type.String(),
  container_id: Type.Optional(Type.String()),
  epoch: Type.Optional(Type.Integer()),
  manager_id: Type.Optional(Type.String()),
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type EventView = Static<typeof EventView>;

/** Every 4xx/5xx body. `field` names the offending input when there is one. */
export const ErrorBody = Type.Object({
  error: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.String()),
  status_code: Type.Integer(),
});
export type ErrorBody = Static<typeof ErrorBody>;
