/**
 * A TCP proxy on loopback that holds every chunk for a settable delay (both directions, order
 * kept), to slow one process's link to Redis or to a peer. The kernel here has no netem; this is
 * the slowed link. Changing `delayMs` applies to chunks that arrive from then on.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { delayedPipe } from './ordered-delay.js';

export interface DelayProxy {
  readonly port: number;
  readonly url: string;
  delayMs: number;
  close(): Promise<void>;
}

/** Listens on `host` (loopback) and forwards to `targetHost:targetPort`. */
export async function startDelayProxy(targetHost: string, targetPort: number, host = '127.0.0.1'): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const state = { delayMs: 0 };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    delayedPipe(client, upstream, () => state.delayMs);
    delayedPipe(upstream, client, () => state.delayMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    url: `redis://${host}:${port}`,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
