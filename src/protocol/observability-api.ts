/** Wire shapes of the shipped logs (`GET /api/v1/logs`) and the latency matrix (`GET /api/v1/cluster/latency`). */
import { Type, type Static } from '@sinclair/typebox';
import { AGENT_ID_PATTERN, NAME_PATTERN } from './names.js';

const StreamId = Type.String({ pattern: '^\\d+-\\d+$', maxLength: 40 });
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

export const LogsQuery = Type.Object(
  {
    agent: Type.Optional(Type.String({ pattern: AGENT_ID_PATTERN, description: 'only lines of this agent (`type/name`)' })),
    container: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'only lines of this container' })),
    level: Type.Optional(Type.Union(LEVELS.map((l) => Type.Literal(l)), { description: 'only lines at this level or above' })),
    after: Type.Optional(Type.Unsafe<string>({ ...StreamId, description: 'lines after this cursor (a previous `next`), oldest first; without it, the newest lines' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000, default: 100 })),
    follow: Type.Optional(Type.Boolean({ default: false, description: 'keep the response open and send new lines as Server-Sent Events' })),
  },
  { additionalProperties: false },
);
export type LogsQuery = Static<typeof LogsQuery>;

export const LogEntryView = Type.Object({
  id: Type.String({ description: 'the cursor of this line' }),
  time: Type.String(),
  level: Type.String(),
  container_id: Type.Union([Type.String(), Type.Null()]),
  agent_id: Type.Union([Type.String(), Type.Null()]),
  trace_id: Type.Union([Type.String(), Type.Null()]),
  msg: Type.String(),
  fields: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type LogEntryView = Static<typeof LogEntryView>;

export const LogsPage = Type.Object({
  entries: Type.Array(LogEntryView),
  next: Type.Union([Type.String(), Type.Null()], { description: 'pass as `after` to read on' }),
});
export type LogsPage = Static<typeof LogsPage>;

const Ms = Type.Union([Type.Number(), Type.Null()]);
export const LatencyEntryView = Type.Object({
  from: Type.String({ description: 'the measuring container' }),
  to: Type.String({ description: '`redis`, `manager`, or a container id' }),
  median_ms: Ms,
  last_ms: Ms,
  max_ms: Ms,
  samples: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  measured_at: Type.Union([Type.String(), Type.Null()]),
});
export type LatencyEntryView = Static<typeof LatencyEntryView>;

export const LatencyMatrix = Type.Object({
  generated_at: Type.String(),
  containers: Type.Array(Type.String()),
  entries: Type.Array(LatencyEntryView),
});
export type LatencyMatrix = Static<typeof LatencyMatrix>;

/** `POST /api/v1/cluster/probe`: can the manager reach `http://host:port/ping`? (`flotilla doctor`'s reach-back check.) */
export const ProbeBody = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:_-]+$', description: 'an IP address or host name' }),
    port: Type.Integer({ minimum: 1, maximum: 65_535 }),
  },
  { additionalProperties: false },
);
export type ProbeBody = Static<typeof ProbeBody>;

export const ProbeResult = Type.Object({
  reachable: Type.Boolean({ description: 'an HTTP answer came back' }),
  url: Type.String(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  rtt_ms: Type.Union([Type.Number(), Type.Null()]),
  flotilla: Type.Boolean({ description: 'the answer is a Flotilla /ping (`pong: true`)' }),
  /** Echoed from the answer, so a caller that served the /ping can tell it reached that server. */
  nonce: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
});
export type ProbeResult = Static<typeof ProbeResult>;
