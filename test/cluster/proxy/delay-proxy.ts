/**
 * A delay proxy for the latency scenario: this kernel has no netem qdisc, so one host's outgoing
 * TCP connections are redirected (iptables DNAT inside its namespace) to this process, which runs
 * in the same namespace and forwards each connection to its real destination, delaying every chunk
 * the host sends by `delayMs ± jitterMs` (like netem on the host's egress). Chunks keep their
 * order: a chunk never leaves before the one sent before it. Packet loss is real, from an iptables
 * `statistic` rule, not from here.
 *
 * Usage (one JSON argument): {"routes":[{"listen":"ip:port","to":"ip:port"}],"delayMs":100,
 * "jitterMs":20,"source":"ip"}. `source` is the address its own connections leave from, which the
 * DNAT rules exclude so the proxy's traffic is not redirected to itself.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { delayedPipe } from '../../helpers/ordered-delay.js';

interface Options {
  routes: { listen: string; to: string }[];
  delayMs: number;
  jitterMs: number;
  source: string;
}

function hostPort(spec: string): { host: string; port: number } {
  const i = spec.lastIndexOf(':');
  return { host: spec.slice(0, i), port: Number(spec.slice(i + 1)) };
}

/** Writes chunks from `from` to `to`, each no earlier than delay ± jitter after it arrived, in order. */
function delayed(from: Socket, to: Socket, options: Options): void {
  delayedPipe(from, to, () => options.delayMs + (Math.random() * 2 - 1) * options.jitterMs);
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
let connections = 0;
for (const route of options.routes) {
  const listen = hostPort(route.listen);
  const target = hostPort(route.to);
  const server = createServer((inbound) => {
    connections++;
    const outbound = createConnection({ ...target, localAddress: options.source });
    const close = (): void => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', close);
    outbound.on('error', close);
    inbound.on('close', close);
    outbound.on('close', close);
    delayed(inbound, outbound, options); // the host's egress: delayed
    outbound.pipe(inbound); // what comes back arrives as it comes (its delay is the sender's egress)
  });
  server.listen(listen.port, listen.host, () => console.log(`delay-proxy ${route.listen} -> ${route.to} (${options.delayMs} ± ${options.jitterMs} ms)`));
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    console.log(`delay-proxy: ${connections} connections proxied`);
    process.exit(0);
  });
}
