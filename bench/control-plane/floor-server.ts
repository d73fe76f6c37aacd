/**
 * The latency floor: a bare Fastify app in its own process, with no store behind it. `/hello`
 * is the hello-world route; `/blob` returns a fixed body of the size of the manager's status
 * reply, to show what moving that many bytes costs without computing them. Prints nothing; sends
 * its port over IPC and exits when the benchmark's IPC channel closes.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
let blob = '{}';
app.get('/hello', async () => ({ hello: 'world' }));
app.get('/blob', async (_req, reply) => reply.type('application/json').send(blob));

process.on('message', (msg: { type: 'blob'; body: string } | { type: 'stop' }) => {
  if (msg.type === 'blob') {
    blob = msg.body;
    process.send?.({ type: 'blob-set', bytes: Buffer.byteLength(blob) });
  } else {
    void app.close().finally(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.send?.({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : 0 });
