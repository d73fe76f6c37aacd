/**
 * Sending a message to an agent, and polling for its reply:
 *
 * - `POST /api/v1/agents/{type}/{name}/messages`: append to the agent's mailbox (accepted from
 *   then on), ring its owner, and by default wait for the reply on this manager's inbox:
 *   200 `completed`/`failed` (see message-outcome.ts), or 504 `reply_timeout` with the message id
 *   (still accepted; poll). `wait: false`: 202 at once; the reply goes to the message's own reply
 *   inbox (reply-inbox.ts). `kind: 'tell'`: no reply, 202. A repeated `message_id` appends
 *   nothing: its known outcome (200) or 202, with `duplicate: true`.
 * - `GET …/messages/{message_id}`: `pending`, `completed` or `failed`, from any manager; 404 when
 *   unknown or past REPLY_RETENTION_MS.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  AgentMessageParams,
  MESSAGE_PATHS,
  MessageOutcome,
  NoReplyBody,
  SendMessageBody,
} from '../../protocol/messages-api.js';
import { ErrorBody } from '../../protocol/api.js';
import { AgentParams } from '../../protocol/agents-api.js';
import { DEFAULT_SEND_TIMEOUT_MS } from '../../protocol/runtime.js';
import type { MailboxMessage } from '../../store/messaging.js';
import { acceptMessage, messageText, ringOwner } from '../delivery.js';
import { HttpError, NotFoundError, toErrorBody } from '../errors.js';
import type { MessagingContext } from '../messaging-context.js';
import { outcomeOfReply } from '../message-outcome.js';
import { ReplyReaderStoppedError } from '../replies.js';
import { lookupMessage, markAccepted, replyInbox } from '../reply-inbox.js';
import { newTraceparent, validTraceparent } from '../../observability/trace-context.js';

/** Aborts when the HTTP client goes away before we answered. */
function clientGone(reply: FastifyReply): { signal: AbortSignal; done(): void } {
  const controller = new AbortController();
  const onClose = (): void => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  reply.raw.on('close', onClose);
  return { signal: controller.signal, done: () => reply.raw.off('close', onClose) };
}

export const messageRoutes: FastifyPluginAsyncTypebox<MessagingContext> = async (app, ctx) => {
  const { store, replies, log, tracing } = ctx;
  const retentionMs = ctx.messaging.replyRetentionMs;

  /**
   * A retried message id: what is known of it, else 202; nothing appended again. `markTtlMs`: a
   * reply is to come, and an unknown one gets a `pending` marker that keeps its inbox this long.
   */
  async function duplicateAnswer(agentId: string, messageId: string, markTtlMs?: number): Promise<{ code: 200 | 202; body: MessageOutcome }> {
    const known = markTtlMs === undefined ? null : await lookupMessage(store, agentId, messageId);
    if (known !== null && known.status !== 'pending') return { code: 200, body: { ...known, duplicate: true } };
    // So that a poll says `pending` rather than 404 while the first try's reply is on its way.
    if (known === null && markTtlMs !== undefined) await markAccepted(store, messageId, agentId, markTtlMs);
    return { code: 202, body: { message_id: messageId, agent_id: agentId, status: 'accepted', duplicate: true } };
  }
  const answer = (reply: FastifyReply, a: { code: 200 | 202; body: MessageOutcome }): FastifyReply => reply.code(a.code).send(a.body);

  app.post(
    MESSAGE_PATHS.agentMessages(':type', ':name'),
    {
      config: { access: 'operate' },
      schema: {
        summary: 'Send a message to an agent (ask or tell, optionally wait for the reply)', tags: ['messages'],
        params: AgentParams,
        body: SendMessageBody,
        // No 503 schema: store_unavailable and shutting_down share the status with different bodies.
        response: { 200: MessageOutcome, 202: MessageOutcome, 504: NoReplyBody, '4xx': ErrorBody },
      },
    },
    async (req, reply) => {
      const agentId = `${req.params.type}/${req.params.name}`;
      const b = req.body;
      const body = messageText(b.message, 'message');
      const messageId = (b.message_id ?? randomUUID()).toLowerCase();
      const kind = b.kind ?? 'request';
      const timeoutMs = b.timeout_ms ?? DEFAULT_SEND_TIMEOUT_MS;
      // Every message carries a trace: the caller's, continued by our span, or a new one.
      const span = tracing.start('POST /api/v1/agents/{type}/{name}/messages', 'server', validTraceparent(req.headers.traceparent), { 'flotilla.agent_id': agentId, 'flotilla.message_id': messageId, 'flotilla.kind': kind });
      reply.raw.once('close', () => span.end(reply.statusCode >= 500 ? `answered ${reply.statusCode}` : undefined));
      const traceparent = span.traceparent ?? newTraceparent();
      const message: MailboxMessage = { messageId, kind, from: 'api', body, traceparent };
      const accepted = { message_id: messageId, agent_id: agentId, status: 'accepted' as const };

      if (kind === 'tell') {
        const { duplicate, owner } = await acceptMessage(store, agentId, message);
        await ringOwner(store, agentId, owner, log);
        return duplicate ? answer(reply, await duplicateAnswer(agentId, messageId)) : reply.code(202).send(accepted);
      }

      if (b.wait === false) {
        // Unless told, the turn may start as late as a reply could still be polled.
        const untilDeadlineMs = b.timeout_ms ?? retentionMs;
        // The marker first: it creates the reply inbox with its expiry before any reply can come,
        // and keeps it a full retention past the deadline (an `expired` reply comes after it).
        const markTtlMs = untilDeadlineMs + retentionMs;
        await markAccepted(store, messageId, agentId, markTtlMs);
        const { duplicate, owner } = await acceptMessage(store, agentId, { ...message, replyTo: replyInbox(messageId), deadlineMs: Date.now() + untilDeadlineMs });
        await ringOwner(store, agentId, owner, log);
        return duplicate ? answer(reply, await duplicateAnswer(agentId, messageId, markTtlMs)) : reply.code(202).send(accepted);
      }

      try {
        await replies.start();
      } catch (err) {
        if (err instanceof ReplyReaderStoppedError) throw new HttpError(503, 'shutting_down', 'this manager is stopping; nothing was sent, send again');
        throw err;
      }
      const deadlineMs = Date.now() + timeoutMs;
      const gone = clientGone(reply);
      const pending = replies.wait(messageId, timeoutMs, gone.signal);
      try {
        let duplicate: boolean;
        let owner: string | null;
        try {
          ({ duplicate, owner } = await acceptMessage(store, agentId, { ...message, replyTo: ctx.inbox, deadlineMs }));
        } catch (err) {
          pending.cancel();
          throw err;
        }
        await ringOwner(store, agentId, owner, log);
        // A retry while the first try waits on this manager: wait with it. Otherwise answer now.
        if (duplicate && replies.waitersFor(messageId) <= 1) {
          pending.cancel();
          return answer(reply, await duplicateAnswer(agentId, messageId, retentionMs));
        }
        const result = await pending.result;
        if (result.outcome === 'reply') {
          const outcome = outcomeOfReply(messageId, agentId, result.body);
          return reply.code(200).send(duplicate ? { ...outcome, duplicate: true } : outcome);
        }
        // No reply here: keep it pollable (the late reply is forwarded next to this marker).
        await markAccepted(store, messageId, agentId, retentionMs);
        const poll = MESSAGE_PATHS.agentMessage(req.params.type, req.params.name, messageId);
        if (result.outcome === 'shutdown') {
          return reply.code(503).send({
            ...toErrorBody(503, 'shutting_down', `accepted; this manager is stopping before the reply came; poll GET ${poll}`),
            message_id: messageId,
          });
        }
        return reply.code(504).send({
          ...toErrorBody(504, 'reply_timeout', `accepted; no reply within ${timeoutMs} ms; poll GET ${poll}`),
          message_id: messageId,
        });
      } finally {
        gone.done();
      }
    },
  );

  app.get(
    MESSAGE_PATHS.agentMessage(':type', ':name', ':message_id'),
    { config: { access: 'operate' }, schema: { summary: 'Poll the outcome of a message', tags: ['messages'], params: AgentMessageParams, response: { 200: MessageOutcome, '4xx': ErrorBody } } },
    async (req) => {
      const agentId = `${req.params.type}/${req.params.name}`;
      const messageId = req.params.message_id.toLowerCase();
      const [agent, outcome] = await Promise.all([store.getAgent(agentId), lookupMessage(store, agentId, messageId)]);
      if (agent === null) throw new NotFoundError('agent', agentId);
      if (outcome === null) {
        const why = `unknown, answered while its sender waited, or older than ${Math.round(retentionMs / 1_000)} s`;
        throw new HttpError(404, 'not_found', `message ${JSON.stringify(messageId)} to ${agentId} not found (${why})`);
      }
      return outcome;
    },
  );
};
