import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  ContainerActionResponse,
  ContainerIdParams,
  ContainerList,
  ContainerView,
  DeleteContainerQuery,
  HeartbeatBody,
  HeartbeatResponse,
  ListContainersQuery,
  MAX_METADATA_BYTES,
  RegisterBody,
  RegisterResponse,
  toContainerView,
} from '../../protocol/api.js';
import type { Availability } from '../../protocol/container.js';
import { DEFAULT_AGENT_PORT, PATHS } from '../../protocol/paths.js';
import type { ManagerContext } from '../context.js';
import type { ApiAuthenticator } from '../../auth/index.js';
import { LIST_MAX_AGE_MS } from '../cluster-view.js';
import { ConflictError, HttpError, NotFoundError } from '../errors.js';
import { certificateSigner } from './certificates.js';

async function containerToken(auth: ApiAuthenticator, containerId: string): Promise<{ token: string; token_expires_at: string }> {
  const { token, expiresAt } = await auth.issueContainerToken(containerId);
  return { token, token_expires_at: expiresAt.toISOString() };
}

export const containerRoutes: FastifyPluginAsyncTypebox<ManagerContext> = async (app, ctx) => {
  const { store, config } = ctx;
  const certificates = certificateSigner(ctx);

  app.post(
    PATHS.register,
    { config: { access: 'join' }, schema: { summary: 'Register a container (returns its id, epoch, lease and its own token)', tags: ['containers'], body: RegisterBody, response: { 200: RegisterResponse } } },
    async (req) => {
      const b = req.body;
      // A container's own token re-registers that container only; a join token or an admin any.
      const caller = req.caller;
      if (caller?.kind === 'token' && caller.principal.role === 'container' && caller.principal.cid !== b.container_name) {
        throw new HttpError(403, 'forbidden', `this token acts for container ${JSON.stringify(caller.principal.cid)} only, not ${JSON.stringify(b.container_name)}`, 'container_name');
      }
      const leaseIntervalMs = b.lease_interval_ms ?? config.leaseIntervalMs;
      const leaseTimeoutMs = b.lease_timeout_ms ?? Math.max(config.leaseTimeoutMs, leaseIntervalMs * 2);
      if (leaseTimeoutMs <= leaseIntervalMs) {
        throw new HttpError(400, 'validation_failed', 'body: lease_timeout_ms must be greater than lease_interval_ms', 'lease_timeout_ms');
      }
      if (b.metadata !== undefined && Buffer.byteLength(JSON.stringify(b.metadata)) > MAX_METADATA_BYTES) {
        throw new HttpError(400, 'validation_failed', `body: metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON`, 'metadata');
      }
      // Signed before anything is written: a bad CSR leaves no registration behind.
      const issued = b.csr === undefined ? undefined : await certificates(b.container_name, b.host_address, b.csr);
      const record = await store.registerContainer({
        name: b.container_name,
        hostAddress: b.host_address,
        apiPort: b.api_port ?? DEFAULT_AGENT_PORT,
        capabilities: b.capabilities ?? [],
        labels: b.labels ?? {},
        resources: b.resources ?? {},
        metadata: b.metadata ?? {},
        agentTypes: b.agent_types ?? [],
        leaseIntervalMs,
        leaseTimeoutMs,
      });
      req.log.info({ container: record.id, epoch: record.epoch, host: record.hostAddress, via: caller?.kind === 'join' ? 'join token' : caller?.kind === 'token' ? caller.principal.sub : 'no auth' }, 'container registered');
      const credentials = ctx.auth === null ? {} : await containerToken(ctx.auth, record.id);
      return {
        success: true as const,
        container_id: record.id,
        epoch: record.epoch,
        lease: { interval_ms: leaseIntervalMs, timeout_ms: leaseTimeoutMs, heartbeat_path: PATHS.containerAction(record.id, 'heartbeat') },
        ...credentials,
        ...(ctx.auth === null ? {} : { cluster_fingerprint: ctx.auth.fingerprint() }),
        ...(issued === undefined ? {} : issued),
      };
    },
  );

  app.get(
    PATHS.containers,
    { config: { access: 'read' }, schema: { summary: 'List containers', tags: ['containers'], querystring: ListContainersQuery, response: { 200: ContainerList } } },
    async (req) => {
      const all = await ctx.view.containers(LIST_MAX_AGE_MS);
      const shown = req.query.include_inactive === true ? all : all.filter((c) => c.state === 'active');
      const containers = shown.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(toContainerView);
      return { containers, total: containers.length };
    },
  );

  app.get(
    PATHS.container(':id'),
    { config: { access: 'read' }, schema: { summary: 'One container', tags: ['containers'], params: ContainerIdParams, response: { 200: ContainerView } } },
    async (req) => {
      const record = await store.getContainer(req.params.id);
      if (record === null) throw new NotFoundError('container', req.params.id);
      return toContainerView(record);
    },
  );

  // The HTTP fallback of the lease for containers that cannot reach Redis themselves.
  app.post(
    PATHS.containerAction(':id', 'heartbeat'),
    { config: { access: 'container' }, schema: { summary: "Renew a container's lease", tags: ['containers'], params: ContainerIdParams, body: HeartbeatBody, response: { 200: HeartbeatResponse } } },
    async (req) => {
      const record = await store.getContainer(req.params.id);
      if (record === null) throw new NotFoundError('container', req.params.id);
      const result = await store.renewLease(req.params.id, req.body.epoch, record.leaseTimeoutMs);
      if (!result.ok) {
        // 409: the caller is a stale incarnation or was declared down; it must register again.
        throw new ConflictError(
          result.reason === 'down' ? 'container_down' : result.reason === 'stale_epoch' ? 'stale_epoch' : 'not_registered',
          `lease of ${JSON.stringify(req.params.id)} not renewed (${result.reason}); register again for a new epoch`,
        );
      }
      const caller = req.caller;
      const renew = ctx.auth !== null && caller?.kind === 'token' && caller.principal.role === 'container' && ctx.auth.needsRenewal(caller.principal);
      return {
        success: true as const,
        container_id: req.params.id,
        epoch: req.body.epoch,
        lease_expires_at: new Date(result.deadlineMs).toISOString(),
        ...(renew && ctx.auth !== null ? await containerToken(ctx.auth, req.params.id) : {}),
      };
    },
  );

  app.post(
    PATHS.containerAction(':id', 'deregister'),
    {
      config: { access: 'container' },
      schema: { summary: 'Deregister a container (by itself)', tags: ['containers'], params: ContainerIdParams, body: HeartbeatBody, response: { 200: Type.Object({ success: Type.Literal(true), container_id: Type.String() }) } },
    },
    async (req) => {
      if (await store.deregisterContainer(req.params.id, req.body.epoch)) {
        req.log.info({ container: req.params.id, epoch: req.body.epoch }, 'container deregistered');
        return { success: true as const, container_id: req.params.id };
      }
      if ((await store.getContainer(req.params.id)) === null) throw new NotFoundError('container', req.params.id);
      throw new ConflictError('stale_epoch', `epoch ${req.body.epoch} of ${JSON.stringify(req.params.id)} is not current; a newer registration exists`);
    },
  );

  app.delete(
    PATHS.container(':id'),
    {
      config: { access: 'operate' },
      schema: {
        summary: 'Remove a container (force to remove an active one)', tags: ['containers'],
        params: ContainerIdParams,
        querystring: DeleteContainerQuery,
        response: { 200: Type.Object({ success: Type.Literal(true), container_id: Type.String() }) },
      },
    },
    async (req) => {
      const result = await store.removeContainer(req.params.id, { force: req.query.force === true });
      if (!result.ok) {
        if (result.reason === 'not_found') throw new NotFoundError('container', req.params.id);
        throw new ConflictError(
          'container_active',
          `container ${JSON.stringify(req.params.id)} is active; stop it (it deregisters itself), drain it first, or pass ?force=true`,
        );
      }
      req.log.info({ container: req.params.id }, 'container removed');
      return { success: true as const, container_id: req.params.id };
    },
  );

  const AVAILABILITY_SUMMARY = {
    cordon: 'Cordon a container: no new agents are placed on it',
    uncordon: 'Uncordon a container: it is schedulable again',
    drain: 'Drain a container: its agents are moved elsewhere',
  } as const;
  const availabilityAction = (action: 'cordon' | 'uncordon' | 'drain', availability: Availability): void => {
    app.post(
      PATHS.containerAction(':id', action),
      {
        config: { access: 'operate' },
        // No body: `curl -X POST .../cordon` is the whole call.
        schema: { summary: AVAILABILITY_SUMMARY[action], tags: ['containers'], params: ContainerIdParams, response: { 200: ContainerActionResponse } },
      },
      async (req) => {
        const record = await store.setAvailability(req.params.id, availability);
        if (record === null) throw new NotFoundError('container', req.params.id);
        req.log.info({ container: record.id, availability }, `container ${action}`);
        return { success: true as const, container: toContainerView(record) };
      },
    );
  };
  availabilityAction('cordon', 'cordoned');
  availabilityAction('uncordon', 'schedulable');
  availabilityAction('drain', 'draining');
};
