/**
 * The cluster CA's routes: its certificate (open, like /health: a joining container reads it
 * without trusting it and checks it against its join token's fingerprint), and a container's
 * certificate renewal (its own token and, with TLS on, its current client certificate).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CertificateBody, CertificateResponse, ClusterCaResponse, ContainerIdParams } from '../../protocol/api.js';
import { PATHS } from '../../protocol/paths.js';
import type { ManagerContext } from '../context.js';
import { HttpError, NotFoundError } from '../errors.js';
import { certFingerprint } from '../../tls/cert-info.js';

/** The certificate fields of an answer, for the container `id` at `host`; 400 on a bad CSR, 409 without a CA. */
export function certificateSigner(ctx: ManagerContext) {
  return async (id: string, host: string, csr: string) => {
    if (ctx.certificates === null || ctx.certificates.caCertPem() === null) {
      throw new HttpError(409, 'no_cluster_ca', 'this manager has no cluster CA to sign certificates with: run `flotilla ca init` on its key directory, or give the container its own FLOTILLA_TLS_CERT/KEY/CA', 'csr');
    }
    // The X.509 code is loaded only when a certificate is asked for.
    const { InvalidCsrError } = await import('../../tls/x509.js');
    try {
      const issued = await ctx.certificates.signContainer(id, host, csr);
      ctx.log.info({ container: id, serial: issued.serial, notAfter: issued.not_after }, 'issued a container certificate');
      return {
        certificate: issued.certificate,
        ca_certificate: issued.ca_certificate,
        ca_certificates: issued.ca_certificates,
        certificate_chain: issued.certificate_chain,
        certificate_serial: issued.serial, certificate_expires_at: issued.not_after };
    } catch (err) {
      if (err instanceof InvalidCsrError) throw new HttpError(400, 'invalid_csr', err.message, 'csr', { cause: err });
      throw err;
    }
  };
}

export const certificateRoutes: FastifyPluginAsyncTypebox<ManagerContext> = async (app, ctx) => {
  const sign = certificateSigner(ctx);

  app.get(
    PATHS.clusterCa,
    { config: { access: 'public' }, schema: { summary: "The cluster CA's certificate and its fingerprint (check it against the join token before trusting it)", tags: ['tls'], response: { 200: ClusterCaResponse } } },
    async () => {
      const own = ctx.tls?.ownCaPem ?? null;
      if (own !== null) return { ca_certificate: own, fingerprint: certFingerprint(own), ca_certificates: [own] };
      const trust = ctx.certificates?.trust() ?? null;
      if (trust === null) throw new HttpError(404, 'no_cluster_ca', 'this manager has no cluster CA (flotilla ca init) and no FLOTILLA_TLS_CA');
      return { ca_certificate: trust.caPem, fingerprint: certFingerprint(trust.caPem), ca_certificates: trust.bundle, ...(trust.rotation === null ? {} : { rotation: trust.rotation }) };
    },
  );

  app.post(
    PATHS.containerAction(':id', 'certificate'),
    {
      config: { access: 'container' },
      schema: { summary: "Renew a container's certificate (a new CSR; its own token and current certificate)", tags: ['tls'], params: ContainerIdParams, body: CertificateBody, response: { 200: CertificateResponse } },
    },
    async (req) => {
      const record = await ctx.store.getContainer(req.params.id);
      if (record === null) throw new NotFoundError('container', req.params.id);
      return { success: true as const, container_id: record.id, ...(await sign(record.id, record.hostAddress, req.body.csr)) };
    },
  );
};
