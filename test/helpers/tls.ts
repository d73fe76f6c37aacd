/**
 * TLS for tests: clients that trust a given CA (and show a given certificate), calls through
 * them as curl --cacert/--cert would make them, and what a TLS server serves right now.
 */
import { connect } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { certificateInfo, type CertificateInfo } from '../../src/tls/index.js';
import type { HttpResult } from './processes.js';

export function tlsClient(caPem: string, own?: { certPem: string; keyPem: string }): Agent {
  return new Agent({ connect: { ca: caPem, ...(own === undefined ? {} : { cert: own.certPem, key: own.keyPem }) } });
}

export async function httpsCall<T = Record<string, unknown>>(dispatcher: Dispatcher, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> {
  const res = await request(url, {
    dispatcher,
    method: method as 'GET',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.statusCode, body: parsed as T };
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
