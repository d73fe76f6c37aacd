/**
 * The core of the delay proxies (test/helpers/delay-proxy.ts on loopback, test/cluster/proxy in a
 * namespace): pass the chunks of one direction of a TCP connection on after a delay each, strictly
 * in order. One queue and one timer per direction: a timer per chunk can fire out of order (node
 * computes expiries from its cached loop time), which would reorder bytes and corrupt the stream.
 */
import type { Socket } from 'node:net';

export function delayedPipe(from: Socket, to: Socket, delayOf: () => number): void {
  const queue: { due: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let lastDue = 0;
  const drain = (): void => {
    timer = undefined;
    const now = Date.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      if (chunk === null) to.end();
      else if (!to.destroyed) to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(drain, queue[0]!.due - now);
  };
  // `null` is the end of the stream, passed on in its turn.
  const push = (chunk: Buffer | null): void => {
    // Dues never go down, so the head of the queue is always the next one due.
    lastDue = Math.max(lastDue, Date.now() + delayOf());
    queue.push({ due: lastDue, chunk });
    timer ??= setTimeout(drain, Math.max(0, lastDue - Date.now()));
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push(null));
  to.on('close', () => {
    clearTimeout(timer);
    queue.length = 0;
  });
}
