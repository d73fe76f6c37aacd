/**
 * The failure detector's liveness probe against real sockets on loopback: only silence (a
 * refused connection, no answer in time) counts as dead; any answer at all means alive.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { probeLiveness } from '../../src/manager/control/liveness-probe.js';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

async function withServer(server: Server, fn: (port: number) => Promise<void>): Promise<void> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  try {
    await fn(port);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('a process that answers /ping is alive, whatever the status', async () => {
  for (const status of [200, 401, 503]) {
    await withServer(createHttpServer((_req, res) => res.writeHead(status).end('{}')), async (port) => {
      assert.equal(await probeLiveness('127.0.0.1', port), 'answered', `status ${status}`);
    });
  }
});

test('a closed port (the process is gone) is silent', async () => {
  const server = createTcpServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  assert.equal(await probeLiveness('127.0.0.1', port), 'silent');
});

test('a port that accepts but never answers (a paused process) is silent within the timeout', async () => {
  await withServer(createTcpServer(() => {}), async (port) => {
    const started = Date.now();
    assert.equal(await probeLiveness('127.0.0.1', port, { timeoutMs: 300 }), 'silent');
    const took = Date.now() - started;
    assert.ok(took < 2_000, `bounded by the timeout (took ${took} ms)`);
  });
});

test('a peer that closes the connection at once (e.g. plain HTTP to a TLS port) answered: a process runs there', async () => {
  await withServer(createTcpServer((s) => s.destroy()), async (port) => {
    assert.equal(await probeLiveness('127.0.0.1', port), 'answered');
  });
});
