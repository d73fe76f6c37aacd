/**
 * Who is on the other end of a TLS connection: a client certificate that the cluster CA issued
 * (the server verified it in the handshake: `authorized`), and the names in it. The servers ask
 * for a client certificate but do not make the handshake fail without one (`rejectUnauthorized:
 * false`), so that people (CLI, dashboard) still reach the manager with bearer tokens, and so a
 * refusal is a JSON answer that says why rather than a reset connection.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { certificateInfo } from './cert-info.js';

export type PeerProblem = { code: 'client_certificate_required' | 'client_certificate_invalid'; message: string } | null;

function tlsSocket(socket: Socket): TLSSocket | null {
  return (socket as Partial<TLSSocket>).encrypted === true ? (socket as TLSSocket) : null;
}

/** Null when the connection carries a client certificate from the cluster CA; else what is wrong. */
export function clusterPeerProblem(socket: Socket): PeerProblem {
  const tls = tlsSocket(socket);
  if (tls === null) return { code: 'client_certificate_required', message: 'this call needs TLS with a client certificate from the cluster CA' };
  const peer = tls.getPeerCertificate();
  if (peer === null || Object.keys(peer).length === 0) {
    return { code: 'client_certificate_required', message: 'no client certificate: this call needs one from the cluster CA' };
  }
  if (!tls.authorized) {
    return { code: 'client_certificate_invalid', message: `the client certificate is not from the cluster CA (${String(tls.authorizationError ?? 'not trusted')})` };
  }
  return null;
}

/** The common name and subjectAltNames of the verified client certificate (after clusterPeerProblem said null). */
export function peerNames(socket: Socket): string[] {
  const cert = tlsSocket(socket)?.getPeerX509Certificate();
  if (cert === undefined) return [];
  const info = certificateInfo(cert);
  return [...(info.commonName === undefined ? [] : [info.commonName]), ...info.names];
}
