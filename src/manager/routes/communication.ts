/**
 * `POST /api/v1/cluster/communication/message`: the seed system's control message to a
 * container. It becomes a `control` entry in the container's inbox with `ref` = `message_type`
 * and a body `{message_type, payload, from: 'api'}`. That body has no `op`, so a runtime never
 * takes it for the control plane's own `activate`/`deactivate` (whose `ref` is an agent id); today
 * runtimes log such messages and do nothing else.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorBody } from '../../protocol/api.js';
import { CommunicationBody, CommunicationResponse, MESSAGE_PATHS, type OperatorControlBody } from '../../protocol/messages-api.js';
import { containerInbox } from '../../protocol/runtime.js';
import type { ManagerContext } from '../context.js';
import { messageText } from '../delivery.js';
import { ConflictError, NotFoundError } from '../errors.js';

export const communicationRoutes: FastifyPluginAsyncTypebox<ManagerContext> = async (app, ctx) => {
  app.post(
    MESSAGE_PATHS.communication,
    { config: { access: 'operate' }, schema: { summary: 'Send a control message to a container', tags: ['cluster'], body: CommunicationBody, response: { 200: CommunicationResponse, '4xx': ErrorBody } } },
    async (req) => {
      const { container_id: containerId, message_type: messageType } = req.body;
      const control: OperatorControlBody = { message_type: messageType, payload: req.body.payload ?? {}, from: 'api' };
      const body = messageText(control, 'payload');
      const container = await ctx.store.getContainer(containerId);
      if (container === null) throw new NotFoundError('container', containerId);
      if (container.state === 'down') {
        throw new ConflictError('container_down', `container ${JSON.stringify(containerId)} is down; it would not read the message until it rejoins`);
      }
      const entryId = await ctx.store.pushInbox(containerInbox(containerId), { kind: 'control', ref: messageType, body });
      req.log.info({ container: containerId, messageType }, 'control message sent to a container');
      return { success: true as const, container_id: containerId, message_type: messageType, entry_id: entryId };
    },
  );
};
