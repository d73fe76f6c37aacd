/**
 * `flotilla events -f` against a fake manager serving an SSE response: it prints each event (JSON
 * lines with --json, rows otherwise), resumes with Last-Event-ID when the stream drops, stops on
 * the manager's 204 or on SIGINT with exit 0, and exits 3 when the manager cannot be reached.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import type { EventView } from '../../src/protocol/api.js';
import { closedPort, EVENTS, withFake, type CannedAnswer } from './fake-manager.js';
import { runCli, spawnCli } from './run-cli.js';

const STREAM = 'GET /api/v1/cluster/events/stream';

function sse(events: readonly EventView[]): string {
  return ': connected\n\n' + events.map((e) => `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(': heartbeat\n\n');
}

const streamOf = (events: readonly EventView[], keepOpen = false): CannedAnswer => ({ status: 200, body: sse(events), contentType: 'text/event-stream', keepOpen });
const NO_MORE: CannedAnswer = { status: 204, body: '', contentType: 'text/plain' };

const [JOINED, ELECTED] = EVENTS.events as [EventView, EventView];

describe('flotilla events -f', { concurrency: 4 }, () => {
  test('--json prints one line per event, resumes after a drop with Last-Event-ID, and exits 0 on 204', () =>
    withFake({ [STREAM]: [streamOf([JOINED]), streamOf([ELECTED]), NO_MORE] }, async (fake) => {
      const { code, stdout, stderr } = await runCli(['events', '-f', '--json', '--url', fake.url]);
      assert.equal(code, 0, stderr);
      const lines = stdout.trim().split('\n');
      assert.deepEqual(
        lines.map((l) => JSON.parse(l) as EventView),
        [JOINED, ELECTED],
      );
      assert.deepEqual(
        fake.requests.map((r) => r.lastEventId),
        [undefined, JOINED.id, ELECTED.id],
      );
      assert.match(stderr, /reconnecting/);
    }));

  test('prints a row per event; --type keeps only that type', () =>
    withFake({ [STREAM]: [streamOf([JOINED, ELECTED]), NO_MORE] }, async (fake) => {
      const { code, stdout, stderr } = await runCli(['events', '-f', '--type', 'leader_elected', '--url', fake.url]);
      assert.equal(code, 0, stderr);
      const [header, row, ...rest] = stdout.trim().split('\n');
      assert.match(header ?? '', /^TIME\s+TYPE\s+CONTAINER\s+EPOCH\s+DETAILS$/);
      assert.match(row ?? '', /^2023-11-14T22:13:20\.500Z\s+leader_elected\s+-\s+-\s+manager=mgr-a, term=4$/);
      assert.deepEqual(rest, []);
    }));

  test('Ctrl-C ends a stream that goes on, with exit 0', () =>
    withFake({ [STREAM]: streamOf([JOINED], true) }, async (fake) => {
      const child = spawnCli(['events', '-f', '--json', '--url', fake.url]);
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      while (!stdout.includes('\n')) {
        assert.equal(child.exitCode, null, stderr);
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill('SIGINT');
      const [code, signal] = await exited;
      assert.equal(signal, null, stderr);
      assert.equal(code, 0, stderr);
      assert.deepEqual(JSON.parse(stdout.trim()), JOINED);
    }));

  test('an unreachable manager is exit 3', async () => {
    const port = await closedPort();
    const { code, stdout, stderr } = await runCli(['events', '-f', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(code, 3);
    assert.match(stderr, /unreachable/);
    assert.equal(stdout, '');
  });

  test('something that is not an event stream is exit 1', () =>
    withFake({ [STREAM]: { status: 200, body: '<html>hello</html>' } }, async (fake) => {
      const html = await runCli(['events', '-f', '--url', fake.url]);
      assert.equal(html.code, 1);
      assert.match(html.stderr, /did not answer with an event stream/);
    }));

  test('a refusal (401) is exit 1 with the manager\'s message, and no retry', () =>
    withFake({ [STREAM]: { status: 401, body: { error: 'unauthorized', message: 'a bearer token is required', status_code: 401 } } }, async (fake) => {
      const { code, stdout, stderr } = await runCli(['events', '-f', '--url', fake.url]);
      assert.equal(code, 1);
      assert.match(stderr, /a bearer token is required \(HTTP 401; pass a token/);
      assert.equal(stdout, '');
      assert.equal(fake.requests.length, 1);
    }));

  test('--limit and --type are usage errors where they do not apply', async () => {
    const limit = await runCli(['events', '-f', '--limit', '5']);
    assert.equal(limit.code, 2);
    const type = await runCli(['events', '--type', 'container_down']);
    assert.equal(type.code, 2);
    const bad = await runCli(['events', '-f', '--type', 'Bad Type']);
    assert.equal(bad.code, 2);
  });
});
