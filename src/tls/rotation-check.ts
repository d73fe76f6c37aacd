/**
 * Before `flotilla ca rotate --finish` drops the previous CA: does every active container serve a
 * certificate of the current CA? The manager does not record which CA issued each container's
 * certificate, so this asks the manager for the active containers and looks at the certificate
 * each one serves (a TLS handshake to its registered address; no client certificate is needed to
 * see the server's). A container still on the previous CA, or one that cannot be reached, is
 * listed: dropping the CA would cut it off from the manager and its peers until it rejoins.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import { Agent, request } from 'undici';
import type { ContainerList } from '../protocol/api.js';
import { PATHS } from '../protocol/paths.js';

/** How long one call (the manager's list, one container's handshake) may take. */
export const ROTATION_CHECK_TIMEOUT_MS = 5_000;

/** The check could not be made (the manager did not answer as expected). */
export class RotationCheckError extends Error {
  override readonly name = 'RotationCheckError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface ContainerCaFinding {
  container_id: string;
  address: string;
  /** `current`: serves a certificate of the current CA; `previous`: of the CA being dropped; `unknown`: could not tell. */
  ca: 'current' | 'previous' | 'unknown';
  detail: string;
}

function servedLeaf(host: string, port: number, trustPem: string, timeoutMs: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ca: trustPem, ...(isIP(host) === 0 ? { servername: host } : {}), timeout: timeoutMs }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert === undefined) reject(new Error('no certificate served'));
      else resolve(cert);
    });
    socket.once('error', reject);
    socket.once('timeout', () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)));
  });
}

/** Every active container of the manager at `managerUrl`, and which CA its served certificate is of. */
export async function checkContainersCa(o: { managerUrl: string; token: string; currentCaPem: string; previousCaPem: string; timeoutMs?: number }): Promise<ContainerCaFinding[]> {
  const timeoutMs = o.timeoutMs ?? ROTATION_CHECK_TIMEOUT_MS;
  const trust = o.currentCaPem + o.previousCaPem;
  const agent = new Agent({ connect: { ca: trust } });
  let list: ContainerList;
  try {
    const res = await request(`${o.managerUrl.replace(/\/+$/, '')}${PATHS.containers}`, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${o.token}` },
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET ${PATHS.containers} answered ${res.statusCode}: ${text.slice(0, 200)}`);
    list = JSON.parse(text) as ContainerList;
  } catch (cause) {
    throw new RotationCheckError(`cannot list the containers at ${o.managerUrl}: ${(cause as Error).message}`, { cause });
  } finally {
    void agent.close().catch(() => undefined);
  }
  const current = new X509Certificate(o.currentCaPem).publicKey;
  const previous = new X509Certificate(o.previousCaPem).publicKey;
  return Promise.all(
    list.containers
      .filter((c) => c.state === 'active')
      .map(async (c): Promise<ContainerCaFinding> => {
        const address = `${c.host_address}:${c.api_port}`;
        try {
          const leaf = await servedLeaf(c.host_address, c.api_port, trust, timeoutMs);
          if (leaf.verify(current)) return { container_id: c.container_id, address, ca: 'current', detail: `serves certificate ${leaf.serialNumber} of the current CA` };
          if (leaf.verify(previous)) return { container_id: c.container_id, address, ca: 'previous', detail: `still serves certificate ${leaf.serialNumber} of the previous CA` };
          return { container_id: c.container_id, address, ca: 'unknown', detail: `serves certificate ${leaf.serialNumber} of neither CA` };
        } catch (err) {
          return { container_id: c.container_id, address, ca: 'unknown', detail: `cannot see its certificate: ${(err as Error).message}` };
        }
      }),
  );
}
