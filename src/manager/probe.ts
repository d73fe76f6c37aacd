/**
 * The manager's reach-back probe: `GET http://host:port/ping` from the manager, so that an agent
 * host can learn whether the manager reaches it at the address it advertises (`flotilla doctor`).
 *
 * Deliberately narrow, so it is no general request forwarder: a GET of the fixed path `/ping`,
 * no redirects followed, a short timeout, at most PROBE_BODY_MAX bytes read, and only whether the
 * answer is a Flotilla ping (and its nonce) is reported back, never the body.
 *
 * With TLS on it is `https://` and shows the manager's certificate (containers answer only
 * clients of the cluster CA); it does not check the server's certificate, since it reports
 * reachability only and `flotilla doctor`'s stand-in /ping has no certificate from the CA.
 */
import { performance } from 'node:perf_hooks';
import { request, type Dispatcher } from 'undici';
import type { ProbeResult } from '../protocol/observability-api.js';
import { describeNetworkError } from '../common/network.js';

export const PROBE_TIMEOUT_MS = 3_000;
export const PROBE_BODY_MAX = 4_096;
const NONCE_RE = /^[A-Za-z0-9_-]{1,64}$/;

function urlOf(host: string, port: number, scheme: 'http' | 'https'): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}/ping`;
}

export async function probePing(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS, tls?: { dispatcher: Dispatcher }): Promise<ProbeResult> {
  const url = urlOf(host, port, tls === undefined ? 'http' : 'https');
  const started = performance.now();
  try {
    const res = await request(url, { method: 'GET', ...(tls === undefined ? {} : { dispatcher: tls.dispatcher }), signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const rtt = Math.round((performance.now() - started) * 1_000) / 1_000;
    let text = '';
    for await (const chunk of res.body) {
      text += (chunk as Buffer).toString('utf8');
      if (text.length > PROBE_BODY_MAX) break;
    }
    res.body.destroy();
    let parsed: { pong?: unknown; nonce?: unknown } | null = null;
    try {
      parsed = JSON.parse(text) as { pong?: unknown; nonce?: unknown };
    } catch {
      parsed = null;
    }
    const nonce = typeof parsed?.nonce === 'string' && NONCE_RE.test(parsed.nonce) ? parsed.nonce : null;
    return { reachable: true, url, status_code: res.statusCode, rtt_ms: rtt, flotilla: res.statusCode === 200 && parsed?.pong === true, nonce, error: null };
  } catch (err) {
    return { reachable: false, url, status_code: null, rtt_ms: null, flotilla: false, nonce: null, error: describeNetworkError(err, timeoutMs) };
  }
}
