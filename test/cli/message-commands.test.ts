/**
 * `flotilla agents send|poll` and `flotilla topics …`, run as real processes against a fake manager:
 * what they send, what they print, and the exit codes (1 refused or the agent failed, 2 usage,
 * 3 unreachable, 4 accepted but no reply in time).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ErrorBody } from '../../src/protocol/api.js';
import type { MessageOutcome, NoReplyBody, PublishResponse, SubscribersResponse, SubscriptionResponse } from '../../src/protocol/messages-api.js';
import { EXIT_NO_REPLY } from '../../src/cli/message-commands.js';
import { assertNoStackTrace, closedPort, withFake } from './fake-manager.js';
import { runCli } from './run-cli.js';

const SEND = '/api/v1/agents/echo/a/messages';
const ID = '3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f';

function outcome(overrides: Partial<MessageOutcome>): MessageOutcome {
  return { message_id: ID, agent_id: 'echo/a', status: 'completed', ...overrides };
}

describe('flotilla message commands', { concurrency: 4 }, () => {
  test('agents send posts the JSON message, waits, and prints a text result as-is', () =>
    withFake({ [`POST ${SEND}`]: { status: 200, body: outcome({ result: 'hi back', container_id: 'c1' }) } }, async (fake) => {
      const { code, stdout, stderr } = await runCli(['agents', 'send', 'echo/a', '{"text":"hi"}', '--url', fake.url, '--timeout', '5000']);
      assert.equal(code, 0, stderr);
      assert.equal(stdout, 'hi back\n');
      assert.deepEqual(JSON.parse(fake.requests[0]!.body), { message: { text: 'hi' }, wait: true, timeout_ms: 5000 });
    }));

  test('agents send sends text that is not JSON as a string, and prints an object result as JSON', () =>
    withFake({ [`POST ${SEND}`]: { status: 200, body: outcome({ result: { n: 1 } }) } }, async (fake) => {
      const { code, stdout } = await runCli(['agents', 'send', 'echo/a', 'hello world', '--url', fake.url, '--id', ID]);
      assert.equal(code, 0);
      assert.deepEqual(JSON.parse(stdout), { n: 1 });
      assert.deepEqual(JSON.parse(fake.requests[0]!.body), { message: 'hello world', wait: true, message_id: ID });
    }));

  test('agents send --no-wait prints the message id and how to poll; --json prints the answer', () =>
    withFake({ [`POST ${SEND}`]: { status: 202, body: outcome({ status: 'accepted' }) } }, async (fake) => {
      const human = await runCli(['agents', 'send', 'echo/a', '1', '--no-wait', '--url', fake.url]);
      assert.equal(human.code, 0);
      assert.match(human.stdout, new RegExp(`^accepted: message ${ID} to echo/a; poll: flotilla agents poll echo/a ${ID}\\n$`));
      assert.equal(JSON.parse(fake.requests[0]!.body).wait, false);
      const json = await runCli(['agents', 'send', 'echo/a', '1', '--no-wait', '--json', '--url', fake.url]);
      assert.deepEqual(JSON.parse(json.stdout), outcome({ status: 'accepted' }));
    }));

  test('agents send exits 4 when no reply came in time, saying the message was accepted', () => {
    const timeout: NoReplyBody = { error: 'reply_timeout', message: 'accepted; no reply within 300 ms; poll GET …', message_id: ID, status_code: 504 };
    return withFake({ [`POST ${SEND}`]: { status: 504, body: timeout } }, async (fake) => {
      const { code, stdout, stderr } = await runCli(['agents', 'send', 'echo/a', '1', '--timeout', '300', '--url', fake.url]);
      assert.equal(code, EXIT_NO_REPLY);
      assert.equal(stdout, '');
      assert.match(stderr, new RegExp(`no reply came in time; message ${ID} was accepted and stays in echo/a's mailbox; poll: flotilla agents poll echo/a ${ID}`));
      assertNoStackTrace(stderr);
      const json = await runCli(['agents', 'send', 'echo/a', '1', '--json', '--url', fake.url]);
      assert.equal(json.code, EXIT_NO_REPLY);
      assert.deepEqual(JSON.parse(json.stdout), timeout);
    });
  });

  test('agents send exits 1 with the agent\'s error when its handler failed', () =>
    withFake({ [`POST ${SEND}`]: { status: 200, body: outcome({ status: 'failed', error: { code: 'handler_error', message: 'it broke' } }) } }, async (fake) => {
      const { code, stdout, stderr } = await runCli(['agents', 'send', 'echo/a', '1', '--url', fake.url]);
      assert.equal(code, 1);
      assert.equal(stdout, '');
      assert.equal(stderr, 'error: echo/a failed (handler_error): it broke\n');
    }));

  test('agents send: an unknown agent exits 1 with the manager\'s message; bad arguments exit 2; no manager exits 3', async () => {
    const notFound: ErrorBody = { error: 'not_found', message: 'agent "echo/a" not found', status_code: 404 };
    await withFake({ [`POST ${SEND}`]: { status: 404, body: notFound } }, async (fake) => {
      const { code, stderr } = await runCli(['agents', 'send', 'echo/a', '1', '--url', fake.url]);
      assert.equal(code, 1);
      assert.equal(stderr, 'error: agent "echo/a" not found (HTTP 404)\n');
    });
    for (const args of [
      ['agents', 'send', 'no-slash', '1'],
      ['agents', 'send', 'echo/a', '1', '--timeout', '0'],
      ['agents', 'send', 'echo/a', '1', '--timeout', '300001'],
      ['agents', 'send', 'echo/a', '1', '--id', 'nope'],
      ['agents', 'send', 'echo/a'],
      ['topics', 'publish', 'a{b}', '1'],
    ]) {
      const { code, stderr } = await runCli([...args, '--url', 'http://127.0.0.1:9']);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assertNoStackTrace(stderr);
    }
    const { code, stderr } = await runCli(['agents', 'send', 'echo/a', '1', '--url', `http://127.0.0.1:${await closedPort()}`]);
    assert.equal(code, 3);
    assert.match(stderr, /unreachable/);
  });

  test('agents poll shows a pending message and how to poll again', () =>
    withFake({ [`GET ${SEND}/${ID}`]: { status: 200, body: outcome({ status: 'pending' }) } }, async (fake) => {
      const { code, stdout } = await runCli(['agents', 'poll', 'echo/a', ID, '--url', fake.url]);
      assert.equal(code, 0);
      assert.match(stdout, /^pending: message /);
    }));

  test('topics publish, subscribe and subscribers send what they should and say what happened', () => {
    const published: PublishResponse = { message_id: ID, topic: 'news', delivered_to: ['echo/a', 'echo/b'], count: 2, duplicates: 0 };
    const subscribed: SubscriptionResponse = { success: true, topic: 'news', agent_id: 'echo/a' };
    const list: SubscribersResponse = { topic: 'news', subscribers: ['echo/a', 'echo/b'], count: 2 };
    return withFake(
      {
        'POST /api/v1/topics/news/messages': { status: 200, body: published },
        'POST /api/v1/topics/news/subscribers': { status: 200, body: subscribed },
        'GET /api/v1/topics/news/subscribers': { status: 200, body: list },
        'DELETE /api/v1/topics/news/subscribers/echo/a': { status: 200, body: subscribed },
      },
      async (fake) => {
        const pub = await runCli(['topics', 'publish', 'news', '{"headline":"x"}', '--id', ID, '--url', fake.url]);
        assert.equal(pub.code, 0, pub.stderr);
        assert.equal(pub.stdout, `published ${ID} to 2 subscribers: echo/a, echo/b\n`);
        assert.deepEqual(JSON.parse(fake.requests[0]!.body), { message: { headline: 'x' }, message_id: ID });
        const sub = await runCli(['topics', 'subscribe', 'news', 'echo/a', '--url', fake.url]);
        assert.equal(sub.stdout, 'echo/a is subscribed to news\n');
        assert.deepEqual(JSON.parse(fake.requests[1]!.body), { agent_id: 'echo/a' });
        const ls = await runCli(['topics', 'subscribers', 'news', '--url', fake.url]);
        assert.equal(ls.stdout, 'echo/a\necho/b\n');
        const unsub = await runCli(['topics', 'unsubscribe', 'news', 'echo/a', '--json', '--url', fake.url]);
        assert.deepEqual(JSON.parse(unsub.stdout), subscribed);
        assert.deepEqual(
          fake.requests.map((r) => `${r.method} ${r.url}`),
          [
            'POST /api/v1/topics/news/messages',
            'POST /api/v1/topics/news/subscribers',
            'GET /api/v1/topics/news/subscribers',
            'DELETE /api/v1/topics/news/subscribers/echo/a',
          ],
        );
      },
    );
  });
});
