/**
 * Topics: publishing gives every subscribed agent its own durable copy in its mailbox, and rings
 * each one's owner. Each copy's message id is derived from the publish's id, the topic and the
 * subscriber (`turnMessageId`, as an agent's own publish derives them), so a retried publish
 * appends nothing twice. A subscriber that no longer exists is unsubscribed.
 *
 * Subscriptions: `POST …/subscribers {agent_id}`, `DELETE …/subscribers/{type}/{name}` (both
 * idempotent), `GET …/subscribers`.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorBody } from '../../protocol/api.js';
import {
  MESSAGE_PATHS,
  PublishBody,
  PublishResponse,
  SubscribeBody,
  SubscribersResponse,
  SubscriptionResponse,
  TopicParams,
  TopicSubscriberParams,
} from '../../protocol/messages-api.js';
import { turnMessageId } from '../../runtime/message-ids.js';
import { messageText, ringOwner } from '../delivery.js';
import { NotFoundError } from '../errors.js';
import type { ManagerContext } from '../context.js';
import { newTraceparent, validTraceparent } from '../../observability/trace-context.js';

/** Subscribers appended to at once; the rest wait for a slot. */
const PUBLISH_CONCURRENCY = 32;

/** The id of `agentId`'s copy of a publish: deterministic, UUID-shaped. */
export function topicCopyId(publishId: string, topic: string, agentId: string): string {
  return turnMessageId(publishId, topic, 0, agentId);
}

export const topicRoutes: FastifyPluginAsyncTypebox<ManagerContext> = async (app, ctx) => {
  const { store, log, tracing } = ctx;

  app.post(
    MESSAGE_PATHS.topicMessages(':topic'),
    { config: { access: 'operate' }, schema: { summary: "Publish a message to a topic's subscribers", tags: ['messages'], params: TopicParams, body: PublishBody, response: { 200: PublishResponse, '4xx': ErrorBody } } },
    async (req, reply) => {
      const { topic } = req.params;
      const body = messageText(req.body.message, 'message');
      const publishId = (req.body.message_id ?? randomUUID()).toLowerCase();
      const span = tracing.start('POST /api/v1/topics/{topic}/messages', 'server', validTraceparent(req.headers.traceparent), { 'flotilla.topic': topic, 'flotilla.message_id': publishId });
      reply.raw.once('close', () => span.end(reply.statusCode >= 500 ? `answered ${reply.statusCode}` : undefined));
      const traceparent = span.traceparent ?? newTraceparent();
      const subscribers = await store.subscribers(topic);
      const delivered: string[] = [];
      let duplicates = 0;
      const deliver = async (agentId: string): Promise<void> => {
        const result = await store.appendMessage(agentId, {
          messageId: topicCopyId(publishId, topic, agentId),
          kind: 'topic',
          from: 'api',
          topic,
          body,
          traceparent,
        });
        if (!result.ok) {
          await store.unsubscribe(topic, agentId);
          log.info({ topic, agent: agentId }, 'unsubscribed an agent that no longer exists');
          return;
        }
        delivered.push(agentId);
        if (result.duplicate) duplicates += 1;
        // Rung on a retry too: the first try may have failed between its append and its ring.
        await ringOwner(store, agentId, result.owner, log);
      };
      for (let i = 0; i < subscribers.length; i += PUBLISH_CONCURRENCY) {
        await Promise.all(subscribers.slice(i, i + PUBLISH_CONCURRENCY).map(deliver));
      }
      delivered.sort();
      return { message_id: publishId, topic, delivered_to: delivered, count: delivered.length, duplicates };
    },
  );

  app.get(
    MESSAGE_PATHS.topicSubscribers(':topic'),
    { config: { access: 'read' }, schema: { summary: "List a topic's subscribers", tags: ['messages'], params: TopicParams, response: { 200: SubscribersResponse, '4xx': ErrorBody } } },
    async (req) => {
      const subscribers = await store.subscribers(req.params.topic);
      return { topic: req.params.topic, subscribers, count: subscribers.length };
    },
  );

  app.post(
    MESSAGE_PATHS.topicSubscribers(':topic'),
    { config: { access: 'operate' }, schema: { summary: 'Subscribe an agent to a topic', tags: ['messages'], params: TopicParams, body: SubscribeBody, response: { 200: SubscriptionResponse, '4xx': ErrorBody } } },
    async (req) => {
      const agentId = req.body.agent_id;
      if ((await store.getAgent(agentId)) === null) throw new NotFoundError('agent', agentId);
      await store.subscribe(req.params.topic, agentId);
      log.info({ topic: req.params.topic, agent: agentId }, 'subscribed');
      return { success: true as const, topic: req.params.topic, agent_id: agentId };
    },
  );

  app.delete(
    MESSAGE_PATHS.topicSubscriber(':topic', ':type', ':name'),
    { config: { access: 'operate' }, schema: { summary: 'Unsubscribe an agent from a topic', tags: ['messages'], params: TopicSubscriberParams, response: { 200: SubscriptionResponse, '4xx': ErrorBody } } },
    async (req) => {
      const agentId = `${req.params.type}/${req.params.name}`;
      await store.unsubscribe(req.params.topic, agentId);
      log.info({ topic: req.params.topic, agent: agentId }, 'unsubscribed');
      return { success: true as const, topic: req.params.topic, agent_id: agentId };
    },
  );
};
