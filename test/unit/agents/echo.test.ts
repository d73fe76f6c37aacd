import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { echoAgent } from '../../../src/agents/index.js';
import { fakeContext, freshContext, runTurn } from '../../helpers/agent-context.js';

describe('echo agent', () => {
  test('echoes each message and counts it in state', async () => {
    const ctx = await freshContext(echoAgent);
    assert.deepEqual(ctx.state, { count: 0 });
    assert.deepEqual(await runTurn(echoAgent, ctx, 'hi'), { echo: 'hi', count: 1 });
    assert.deepEqual(await runTurn(echoAgent, ctx, { a: [1, 2] }), { echo: { a: [1, 2] }, count: 2 });
    assert.deepEqual(await runTurn(echoAgent, ctx, null), { echo: null, count: 3 });
    assert.deepEqual(ctx.state, { count: 3 });
  });

  test('continues from saved state, and starts at 0 from a missing one', async () => {
    assert.deepEqual(await echoAgent.onMessage('x', fakeContext({ state: { count: 41 } })), { echo: 'x', count: 42 });
    assert.deepEqual(await echoAgent.onMessage('x', fakeContext<never>({ state: null as never })), { echo: 'x', count: 1 });
  });
});
