import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpAgent } from '../../../src/agents/index.js';
import { fakeContext } from '../../helpers/agent-context.js';

/** What the endpoint does next: a status and a body, optionally after a delay. */
let answer: { status: number; body: string; delayMs?: number } = { status: 200, body: '' };
const seen: { path: string; headers: IncomingMessage['headers']; body: string }[] = [];
let server: Server;
let url: string;

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      const reply = (): void => {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body);
      };
      if (answer.delayMs === undefined) reply();
      else {
        const timer = setTimeout(reply, answer.delayMs);
        res.on('close', () => clearTimeout(timer));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/agent`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen.length = 0;
  answer = { status: 200, body: '' };
});

const ctxFor = (config: Record<string, unknown>) => fakeContext<null>({ id: 'http/py', config, from: 'llm/alice' });

describe('http agent', () => {
  test('POSTs the message as JSON and replies with the JSON response', async () => {
    answer = { status: 200, body: '{"reply":"hello, world","n":3}' };
    const ctx = ctxFor({ url, headers: { 'x-team': 'blue' } });
    assert.deepEqual(await httpAgent.onMessage({ text: 'hello' }, ctx), { reply: 'hello, world', n: 3 });
    const req = seen[0];
    assert.ok(req);
    assert.equal(req.path, '/agent');
    assert.deepEqual(JSON.parse(req.body), { text: 'hello' });
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-team'], 'blue');
    // Who calls and which message, so the endpoint can dedupe a redelivery.
    assert.equal(req.headers['x-flotilla-agent'], 'http/py');
    assert.equal(req.headers['x-flotilla-from'], 'llm/alice');
    assert.equal(req.headers['x-flotilla-message-id'], ctx.message.id);
  });

  test('takes header values from the environment, and says which variable is missing', async () => {
    process.env.FLOTILLA_TEST_HTTP_SECRET = 'secret-token-42';
    answer = { status: 200, body: 'true' };
    assert.equal(await httpAgent.onMessage('x', ctxFor({ url, headers: { authorization: { env: 'FLOTILLA_TEST_HTTP_SECRET' } } })), true);
    assert.equal(seen[0]?.headers.authorization, 'secret-token-42');

    delete process.env.FLOTILLA_TEST_HTTP_SECRET;
    await assert.rejects(
      Promise.resolve(httpAgent.onMessage('x', ctxFor({ url, headers: { authorization: { env: 'FLOTILLA_TEST_HTTP_SECRET' } } }))),
      /http\/py: header authorization comes from the environment variable FLOTILLA_TEST_HTTP_SECRET, which is not set/,
    );
  });

  test('a non-2xx answer throws with the status and a snippet, env secrets redacted', async () => {
    process.env.FLOTILLA_TEST_HTTP_SECRET = 'secret-token-42';
    answer = { status: 503, body: `overloaded; you sent secret-token-42 ${'x'.repeat(1_000)}` };
    await assert.rejects(Promise.resolve(httpAgent.onMessage('x', ctxFor({ url, headers: { authorization: { env: 'FLOTILLA_TEST_HTTP_SECRET' } } }))), (err: Error) => {
      assert.match(err.message, /^http\/py: POST http:\/\/127\.0\.0\.1:\d+\/agent answered HTTP 503: overloaded; you sent \*\*\* x+…$/);
      assert.ok(err.message.length < 500);
      return true;
    });
  });

  test('an empty body is a null reply; a body that is not JSON is an error', async () => {
    answer = { status: 204, body: '' };
    assert.equal(await httpAgent.onMessage('x', ctxFor({ url })), null);
    answer = { status: 200, body: 'plain text' };
    await assert.rejects(Promise.resolve(httpAgent.onMessage('x', ctxFor({ url }))), /answered HTTP 200 with a body that is not JSON: plain text/);
  });

  test('times out after timeout_ms', async () => {
    answer = { status: 200, body: '{}', delayMs: 5_000 };
    await assert.rejects(Promise.resolve(httpAgent.onMessage('x', ctxFor({ url, timeout_ms: 100 }))), /http\/py: POST .*\/agent: no response within 100 ms/);
  });

  test('checks its config with messages naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /http agent config: "url" is required/],
      [{ url: 'not a url' }, /"url" must be an http:\/\/ or https:\/\/ URL/],
      [{ url, headers: ['a'] }, /"headers" must be an object of name: value/],
      [{ url, headers: { 'bad header': 'x' } }, /"bad header" is not a header name/],
      [{ url, headers: { a: 5 } }, /the value of a must be a string or \{ "env": "VARIABLE_NAME" \}/],
      [{ url, headers: { a: { env: '1-bad' } } }, /is not an environment variable name/],
      [{ url, timeout_ms: 0 }, /"timeout_ms" must be a whole number from 1/],
    ];
    for (const [cfg, expected] of cases) await assert.rejects(Promise.resolve(httpAgent.onMessage('x', ctxFor(cfg))), expected);
    assert.equal(seen.length, 0);
  });
});
