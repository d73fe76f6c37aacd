import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { llmAgent, type LlmResult, type LlmState } from '../../../src/agents/index.js';
import { trimHistory } from '../../../src/agents/llm.js';
import { fakeContext, freshContext, runTurn } from '../../helpers/agent-context.js';
import { startOpenAiStub, type OpenAiStub } from '../../helpers/openai-stub.js';

// A variable of our own, so the test neither needs nor touches a real OPENAI_API_KEY.
const KEY_ENV = 'FLOTILLA_TEST_LLM_KEY';
const KEY = 'sk-test-0123456789abcdef';

let stub: OpenAiStub;
before(async () => {
  stub = await startOpenAiStub();
});
after(async () => {
  await stub.close();
});
beforeEach(() => {
  stub.requests.length = 0;
  stub.mode = { kind: 'ok' };
  process.env[KEY_ENV] = KEY;
});

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { base_url: stub.baseUrl, model: 'test-model', api_key_env: KEY_ENV, ...extra };
}

async function llmContext(extra: Record<string, unknown> = {}) {
  return freshContext(llmAgent, { id: 'llm/alice', config: config(extra) });
}

interface SentBody {
  model: string;
  messages: { role: string; content: string }[];
  temperature?: number;
  max_tokens?: number;
}
const sentBody = (i: number): SentBody => stub.requests[i]?.body as SentBody;

/** The reply text of a chat turn (not a reset). */
function text(result: LlmResult): string {
  assert.ok('content' in result, JSON.stringify(result));
  return result.content;
}

describe('llm agent', () => {
  test('keeps the conversation across turns: the second request carries the first exchange', async () => {
    const ctx = await llmContext({ system_prompt: 'Be brief.', temperature: 0.2, max_tokens: 64 });
    const first = await runTurn(llmAgent, ctx, 'hello');
    assert.deepEqual(first, { content: 'echo: hello (2)', model: 'test-model', usage: { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 } });
    const second = await runTurn(llmAgent, ctx, { content: 'again' });
    assert.deepEqual(second, { content: 'echo: again (4)', model: 'test-model', usage: { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 } });

    assert.equal(stub.requests.length, 2);
    assert.equal(stub.requests[1]?.path, '/v1/chat/completions');
    assert.deepEqual(sentBody(1).messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hello' },
      { role: 'assistant', content: 'echo: hello (2)' },
      { role: 'user', content: 'again' },
    ]);
    assert.equal(sentBody(1).model, 'test-model');
    assert.equal(sentBody(1).temperature, 0.2);
    assert.equal(sentBody(1).max_tokens, 64);
    // The system prompt comes from config each time; state holds only the exchanges.
    assert.deepEqual((ctx.state as LlmState).messages, [
      { role: 'user', content: 'hello' },
      { role: 'assistant', content: 'echo: hello (2)' },
      { role: 'user', content: 'again' },
      { role: 'assistant', content: 'echo: again (4)' },
    ]);
  });

  test('a saved conversation continues in a new context (as after a failover)', async () => {
    const first = await llmContext();
    await runTurn(llmAgent, first, 'one');
    const moved = fakeContext<LlmState>({ id: 'llm/alice', config: config(), state: JSON.parse(JSON.stringify(first.state)) as LlmState });
    assert.deepEqual(await runTurn(llmAgent, moved, 'two'), { content: 'echo: two (3)', model: 'test-model', usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } });
  });

  test('sends the key from the environment as a Bearer token, and none when the variable is unset', async () => {
    const ctx = await llmContext();
    await runTurn(llmAgent, ctx, 'hi');
    assert.equal(stub.requests[0]?.headers.authorization, `Bearer ${KEY}`);
    assert.ok(!JSON.stringify(ctx.state).includes(KEY));

    delete process.env[KEY_ENV];
    await runTurn(llmAgent, ctx, 'hi');
    assert.equal(stub.requests[1]?.headers.authorization, undefined);
  });

  test('an HTTP error names the status and the provider message, leaves state alone', async () => {
    const ctx = await llmContext();
    await runTurn(llmAgent, ctx, 'hello');
    const before = structuredClone(ctx.state);
    for (const status of [429, 500]) {
      stub.mode = { kind: 'error', status, message: `Rate limit reached for test-model (${status})` };
      // Directly on the handler: the agent itself must not have touched the state.
      await assert.rejects(
        Promise.resolve(llmAgent.onMessage('next', ctx)),
        (err: Error) => {
          assert.match(err.message, new RegExp(`^llm/alice: test-model at http://127\\.0\\.0\\.1:\\d+/v1 answered HTTP ${status}: Rate limit reached for test-model \\(${status}\\)$`));
          return true;
        },
      );
      assert.deepEqual(ctx.state, before);
    }
  });

  test('the API key never appears in an error, even when the provider echoes it', async () => {
    const ctx = await llmContext();
    stub.mode = { kind: 'error_echoing_key', status: 401 };
    await assert.rejects(Promise.resolve(llmAgent.onMessage('hi', ctx)), (err: Error) => {
      assert.match(err.message, /HTTP 401: Incorrect API key provided: Bearer \*\*\*/);
      assert.ok(!err.message.includes(KEY), err.message);
      assert.ok(!err.message.includes(KEY.slice(0, 12)), err.message);
      return true;
    });
  });

  test('a 401 without a key says which variable is unset', async () => {
    delete process.env[KEY_ENV];
    stub.mode = { kind: 'error', status: 401, message: 'You did not provide an API key.' };
    await assert.rejects(Promise.resolve(llmAgent.onMessage('hi', await llmContext())), new RegExp(`no API key was sent: ${KEY_ENV} is not set`));
  });

  test('times out after timeout_ms with a clear error, state untouched', async () => {
    const ctx = await llmContext({ timeout_ms: 100 });
    stub.mode = { kind: 'slow', ms: 5_000 };
    const started = Date.now();
    await assert.rejects(Promise.resolve(llmAgent.onMessage('hi', ctx)), /: llm\/alice: POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: no response within 100 ms \(timeout_ms\)$/);
    assert.ok(Date.now() - started < 2_000);
    assert.deepEqual(ctx.state, { messages: [] });
  });

  test('lets go at once when ctx.signal aborts (the agent stops or moves)', async () => {
    const ctx = await llmContext();
    stub.mode = { kind: 'slow', ms: 5_000 };
    const started = Date.now();
    setTimeout(() => ctx.controller.abort(), 50);
    await assert.rejects(Promise.resolve(llmAgent.onMessage('hi', ctx)), /cancelled \(the agent is stopping or moving\)/);
    assert.ok(Date.now() - started < 2_000);
  });

  test('malformed responses are errors that say what was wrong', async () => {
    const cases: [string, RegExp][] = [
      ['<html>bad gateway</html>', /malformed chat completion \(not JSON\): <html>bad gateway<\/html>/],
      ['{"choices":[]}', /malformed chat completion \(no choices\)/],
      ['{"choices":[{"message":{"content":null}}]}', /malformed chat completion \(choices\[0\]\.message\.content is not a string\)/],
    ];
    const ctx = await llmContext();
    for (const [body, expected] of cases) {
      stub.mode = { kind: 'malformed', body };
      await assert.rejects(Promise.resolve(llmAgent.onMessage('hi', ctx)), expected);
      assert.deepEqual(ctx.state, { messages: [] });
    }
  });

  test('a refused connection is an error naming the endpoint', async () => {
    const ctx = await freshContext(llmAgent, { id: 'llm/alice', config: { base_url: 'http://127.0.0.1:1/v1', model: 'm', api_key_env: KEY_ENV } });
    await assert.rejects(Promise.resolve(llmAgent.onMessage('hi', ctx)), /llm\/alice: POST http:\/\/127\.0\.0\.1:1\/v1\/chat\/completions: request failed: ECONNREFUSED/);
  });

  test('{ reset: true } forgets the conversation', async () => {
    const ctx = await llmContext();
    await runTurn(llmAgent, ctx, 'one');
    assert.deepEqual(await runTurn(llmAgent, ctx, { reset: true }), { reset: true, cleared: 2 });
    assert.deepEqual(ctx.state, { messages: [] });
    assert.equal(text(await runTurn(llmAgent, ctx, 'two')), 'echo: two (1)');
    assert.equal(stub.requests.length, 2, 'reset calls no model');
  });

  test('keeps at most max_history messages, dropping whole exchanges; 0 keeps none', async () => {
    const ctx = await llmContext({ max_history: 3 });
    for (const m of ['a', 'b', 'c']) await runTurn(llmAgent, ctx, m);
    // Trimmed to the last 3 after each turn, which would start on an assistant turn: that one goes
    // too. So 'c' was sent with one exchange before it (3 messages), and one exchange remains.
    assert.deepEqual((ctx.state as LlmState).messages, [
      { role: 'user', content: 'c' },
      { role: 'assistant', content: 'echo: c (3)' },
    ]);
    const stateless = await llmContext({ max_history: 0 });
    await runTurn(llmAgent, stateless, 'a');
    assert.equal(text(await runTurn(llmAgent, stateless, 'b')), 'echo: b (1)');
    assert.deepEqual(trimHistory([{ role: 'user', content: 'x' }], 5), [{ role: 'user', content: 'x' }]);
  });

  test('rejects messages of the wrong shape', async () => {
    await assert.rejects(Promise.resolve(llmAgent.onMessage(42, await llmContext())), /llm\/alice: a message is a string, \{ content: string \} or \{ reset: true \}; got 42/);
    assert.equal(stub.requests.length, 0);
  });

  test('checks its config on first use with messages naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /llm agent config: "model" is required/],
      [{ model: 'm', base_url: 'ftp://x' }, /"base_url" must be an http:\/\/ or https:\/\/ URL/],
      [{ model: 'm', temperature: 5 }, /"temperature" must be a number from 0 to 2, got 5/],
      [{ model: 'm', max_tokens: 1.5 }, /"max_tokens" must be a whole number/],
      [{ model: 'm', timeout_ms: 'soon' }, /"timeout_ms" must be a whole number/],
      [{ model: 'm', max_history: -1 }, /"max_history" must be a whole number from 0/],
      [{ model: 'm', system_prompt: 7 }, /"system_prompt" must be a string/],
    ];
    for (const [cfg, expected] of cases) {
      await assert.rejects(Promise.resolve(llmAgent.onMessage('hi', fakeContext({ id: 'llm/x', config: cfg, state: { messages: [] } }))), expected);
    }
    // A key pasted where the variable name goes is refused, and not repeated back.
    await assert.rejects(Promise.resolve(llmAgent.onMessage('hi', fakeContext({ id: 'llm/x', config: { model: 'm', api_key_env: 'sk-abc-123' } }))), (err: Error) => {
      assert.match(err.message, /"api_key_env" must be the NAME of an environment variable/);
      assert.ok(!err.message.includes('sk-abc-123'));
      return true;
    });
    assert.equal(stub.requests.length, 0);
  });
});
