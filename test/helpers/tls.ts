/**
 * TLS for tests: clients that trust a given CA (and show a given certificate), calls through
 * them as curl --cacert/--cert would make them, and what a TLS server serves right now.
 */
import { connect } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { certificateInfo, type CertificateInfo } from '../../src/tls/index.js';
import { http, type HttpResult } from './processes.js';

const HTTPS_CALL_TIMEOUT_MS = 10_000;

export function tlsClient(caPem: string, own?: { certPem: string; keyPem: string }): Agent {
  return new Agent({ connect: { ca: caPem, ...(own === undefined ? {} : { cert: own.certPem, key: own.keyPem }) } });
}

/** `http` of processes.ts through `dispatcher` (10 s: a handshake on a loaded machine is slower). */
export function httpsCall<T = Record<string, unknown>>(dispatcher: Dispatcher, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> {
  return http<T>(method, url, body, headers, { dispatcher, timeoutMs: HTTPS_CALL_TIMEOUT_MS });
}

/** The certificate a TLS server at 127.0.0.1:port serves now (verified against `caPem`). */
export function servedCertificate(port: number, caPem: string): Promise<CertificateInfo & { issuer: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: caPem, timeout: 5_000 }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert === undefined) return reject(new Error('no certificate'));
      resolve({ ...certificateInfo(cert), issuer: cert.issuer });
    });
    socket.once('error', reject);
    socket.once('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
  });
}

/**
 * What a user sets for a container that joins an https manager with a join token, here on
 * 127.0.0.1 at `port` (with latency probes every second, so the tests see peers' pings soon).
 */
export function tlsContainerEnv(name: string, port: number, o: { managerUrl: string; joinToken: string }): Record<string, string> {
  return {
    CENTRAL_MANAGER_URL: o.managerUrl,
    CONTAINER_NAME: name,
    EXTERNAL_IP: '127.0.0.1',
    FLOTILLA_EXTERNAL_IP_CHECK: 'off',
    AGENT_PORT: String(port),
    FLOTILLA_JOIN_TOKEN: o.joinToken,
    FLOTILLA_LATENCY_INTERVAL_MS: '1000',
  };
}
