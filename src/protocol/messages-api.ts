/**
 * The wire format of the messaging API: sending to an agent (and polling for its reply), topics
 * and their subscribers, and the control message to a container. TypeBox schemas (validated by
 * the manager) and the types derived from them; paths in MESSAGE_PATHS.
 */
import { Type, type Static } from '@sinclair/typebox';
import { SafeName } from './api.js';
import { API_PREFIX } from './paths.js';

/** Upper bound on one message (or control payload) as JSON text, so a mailbox entry stays small. */
export const MESSAGE_MAX_BYTES = 262_144;
/** The longest a `POST …/messages` may wait for a reply. */
export const MAX_SEND_TIMEOUT_MS = 300_000;
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

const seg = (id: string): string => (id.startsWith(':') ? id : encodeURIComponent(id));

export const MESSAGE_PATHS = {
  /** Called with `:type`, `:name` for the route pattern, or with an agent's parts. */
  agentMessages: (type: string, name: string) => `${API_PREFIX}/agents/${seg(type)}/${seg(name)}/messages`,
  agentMessage: (type: string, name: string, messageId: string) => `${API_PREFIX}/agents/${seg(type)}/${seg(name)}/messages/${seg(messageId)}`,
  topicMessages: (topic: string) => `${API_PREFIX}/topics/${seg(topic)}/messages`,
  topicSubscribers: (topic: string) => `${API_PREFIX}/topics/${seg(topic)}/subscribers`,
  topicSubscriber: (topic: string, type: string, name: string) => `${API_PREFIX}/topics/${seg(topic)}/subscribers/${seg(type)}/${seg(name)}`,
  communication: `${API_PREFIX}/cluster/communication/message`,
} as const;

export const MessageId = Type.String({ pattern: UUID_PATTERN, maxLength: 36 });
/** `type/name` in a body, each part a safe name. */
export const AgentIdString = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', maxLength: 257 });

export const AgentMessageParams = Type.Object({ type: SafeName, name: SafeName, message_id: MessageId });
export const TopicParams = Type.Object({ topic: SafeName });
export const TopicSubscriberParams = Type.Object({ topic: SafeName, type: SafeName, name: SafeName });

export const SendMessageBody = Type.Object(
  {
    /** Any JSON; at most MESSAGE_MAX_BYTES as text. */
    message: Type.Unknown(),
    /** Chosen by the client so that a retry is recognised (lower-cased); generated if absent. */
    message_id: Type.Optional(MessageId),
    /** Wait for the reply (default true); false answers 202 at once, to poll. */
    wait: Type.Optional(Type.Boolean()),
    /**
     * How long to wait for the reply, and the request's deadline (default 30 s). With `wait: false`
     * only the deadline (default: the reply retention, 1 h): a turn starting later answers `expired`.
     */
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SEND_TIMEOUT_MS })),
    /** `request` (default) gets a reply; `tell` does not, and is answered 202. */
    kind: Type.Optional(Type.Union([Type.Literal('request'), Type.Literal('tell')])),
  },
  { additionalProperties: false },
);
export type SendMessageBody = Static<typeof SendMessageBody>;

export const MessageError = Type.Object({ code: Type.String(), message: Type.String() });
export type MessageError = Static<typeof MessageError>;

/**
 * What a message came to. `accepted`: in the mailbox, no reply asked for or waited for (202).
 * `pending`: accepted, no reply yet (polling). `completed`/`failed`: the agent's reply; `failed`
 * carries the handler's error (`handler_error`, `expired`, `unknown_type`, …).
 */
export const MessageStatus = Type.Union([Type.Literal('accepted'), Type.Literal('pending'), Type.Literal('completed'), Type.Literal('failed')]);
export type MessageStatus = Static<typeof MessageStatus>;

export const MessageOutcome = Type.Object({
  message_id: Type.String(),
  agent_id: Type.String(),
  status: MessageStatus,
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(MessageError),
  /** The container whose agent answered. */
  container_id: Type.Optional(Type.String()),
  /** This message id was accepted before: nothing was appended again. */
  duplicate: Type.Optional(Type.Boolean()),
});
export type MessageOutcome = Static<typeof MessageOutcome>;

/**
 * A waiting send that ends without the reply, the message staying accepted: 504 `reply_timeout`,
 * or 503 `shutting_down` (the manager stopped first). An error body with the message id to poll.
 */
export const NoReplyBody = Type.Object({
  error: Type.String(),
  message: Type.String(),
  message_id: Type.String(),
  status_code: Type.Integer(),
});
export type NoReplyBody = Static<typeof NoReplyBody>;

export const PublishBody = Type.Object(
  {
    message: Type.Unknown(),
    /** The publish's id; each subscriber's copy gets an id derived from it, so a retry adds nothing. */
    message_id: Type.Optional(MessageId),
  },
  { additionalProperties: false },
);
export type PublishBody = Static<typeof PublishBody>;

export const PublishResponse = Type.Object({
  message_id: Type.String(),
  topic: Type.String(),
  /** Agent ids that have the message in their mailbox (now, or from an earlier try). */
  delivered_to: Type.Array(Type.String()),
  count: Type.Integer(),
  /** How many of them already had it (a retried publish). */
  duplicates: Type.Integer(),
});
export type PublishResponse = Static<typeof PublishResponse>;

export const SubscribeBody = Type.Object({ agent_id: AgentIdString }, { additionalProperties: false });
export type SubscribeBody = Static<typeof SubscribeBody>;

export const SubscribersResponse = Type.Object({ topic: Type.String(), subscribers: Type.Array(Type.String()), count: Type.Integer() });
export type SubscribersResponse = Static<typeof SubscribersResponse>;

export const SubscriptionResponse = Type.Object({ success: Type.Literal(true), topic: Type.String(), agent_id: Type.String() });
export type SubscriptionResponse = Static<typeof SubscriptionResponse>;

export const CommunicationBody = Type.Object(
  {
    container_id: SafeName,
    /** What the container should do; the `ref` of the control entry. */
    message_type: SafeName,
    /** Any JSON (default `{}`); at most MESSAGE_MAX_BYTES as text. */
    payload: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type CommunicationBody = Static<typeof CommunicationBody>;

export const CommunicationResponse = Type.Object({
  success: Type.Literal(true),
  container_id: Type.String(),
  message_type: Type.String(),
  /** The control entry's id in the container's inbox. */
  entry_id: Type.String(),
});
export type CommunicationResponse = Static<typeof CommunicationResponse>;

/** The body of a control entry sent by `POST /cluster/communication/message` (no `op`). */
export interface OperatorControlBody {
  message_type: string;
  payload: unknown;
  from: 'api';
}
