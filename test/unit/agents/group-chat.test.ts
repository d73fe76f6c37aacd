import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { groupChatAgent, type GroupChatState } from '../../../src/agents/index.js';
import { parseSelection } from '../../../src/agents/group-chat-selector.js';
import { SUMMARY_MAX_CHARS } from '../../../src/agents/group-chat.js';
import type { SendOptions } from '../../../src/sdk/index.js';
import { captureLogger, fakeContext, freshContext, runTurn, type SendFn } from '../../helpers/agent-context.js';

const MEMBERS = ['writer/alice', 'critic/bob', 'editor/carol'];

interface Sent {
  to: string;
  message: { content: string; from: string };
  options: SendOptions | undefined;
}

/** A fake `send`: members answer with `answer(to, n)` (n: that member's nth turn); every call recorded. */
function fakeSend(answer: (to: string, n: number, message: Sent['message']) => unknown = (to, n) => ({ content: `${to} #${n}` })) {
  const sent: Sent[] = [];
  const counts = new Map<string, number>();
  const send: SendFn = (to, message, options) => {
    sent.push({ to, message: message as Sent['message'], options });
    const n = (counts.get(to) ?? 0) + 1;
    counts.set(to, n);
    return Promise.resolve(answer(to, n, message as Sent['message']));
  };
  return { send, sent };
}

async function chat(config: Record<string, unknown>, send: SendFn, log?: ReturnType<typeof captureLogger>['log']) {
  return freshContext(groupChatAgent, { id: 'group-chat/team', config, send, from: 'user/me', ...(log === undefined ? {} : { log }) });
}

describe('group-chat agent: round robin', () => {
  test('members speak in config order, each shown the transcript so far, until max_turns', async () => {
    const { send, sent } = fakeSend();
    const ctx = await chat({ members: MEMBERS, max_turns: 4 }, send);
    const result = await runTurn(groupChatAgent, ctx, 'write a haiku');
    assert.deepEqual(sent.map((s) => s.to), ['writer/alice', 'critic/bob', 'editor/carol', 'writer/alice']);
    assert.equal(result.turns, 4);
    assert.equal(result.stopped_by, 'max_turns');
    assert.deepEqual(result.transcript, [
      { speaker: 'user/me', content: 'write a haiku' },
      { speaker: 'writer/alice', content: 'writer/alice #1' },
      { speaker: 'critic/bob', content: 'critic/bob #1' },
      { speaker: 'editor/carol', content: 'editor/carol #1' },
      { speaker: 'writer/alice', content: 'writer/alice #2' },
    ]);
    assert.deepEqual(sent[0]?.message, { content: 'user/me: write a haiku', from: 'user/me' });
    assert.deepEqual(sent[1]?.message, { content: 'user/me: write a haiku\n\nwriter/alice: writer/alice #1', from: 'writer/alice' });
    assert.equal(sent[0]?.options?.timeoutMs, undefined);
  });

  test('max_turns defaults to 10; { content } is a task too; non-text replies become JSON', async () => {
    const { send, sent } = fakeSend((to, n) => ({ echo: to, count: n }));
    const result = await runTurn(groupChatAgent, await chat({ members: MEMBERS.slice(0, 2) }, send), { content: 'go' });
    assert.equal(sent.length, 10);
    assert.equal(result.turns, 10);
    assert.equal(result.transcript[1]?.content, '{"echo":"writer/alice","count":1}');
  });

  test('stops when a reply contains the termination word', async () => {
    const { send, sent } = fakeSend((to, n) => (to === 'critic/bob' ? 'Looks good. TERMINATE' : `draft ${n}`));
    const ctx = await chat({ members: MEMBERS, termination: 'TERMINATE' }, send);
    const result = await runTurn(groupChatAgent, ctx, 'task');
    assert.equal(sent.length, 2);
    assert.equal(result.turns, 2);
    assert.equal(result.stopped_by, 'termination');
    assert.equal((ctx.state as GroupChatState).last?.last_speaker, 'critic/bob');
  });

  test('context "last_message" sends only the last message; member_timeout_ms is passed on', async () => {
    const { send, sent } = fakeSend();
    await runTurn(groupChatAgent, await chat({ members: MEMBERS, max_turns: 2, context: 'last_message', member_timeout_ms: 120_000 }, send), 'task');
    assert.deepEqual(sent[1]?.message, { content: 'writer/alice #1', from: 'writer/alice' });
    assert.equal(sent[1]?.options?.timeoutMs, 120_000);
  });

  test('keeps a bounded summary of the last task in state, and counts tasks', async () => {
    const long = 'y'.repeat(10_000);
    const { send } = fakeSend(() => long);
    const ctx = await chat({ members: MEMBERS, max_turns: 3 }, send);
    await runTurn(groupChatAgent, ctx, 'x'.repeat(10_000));
    await runTurn(groupChatAgent, ctx, 'again');
    const state = ctx.state as GroupChatState;
    assert.equal(state.tasks, 2);
    assert.equal(state.last?.task, 'again');
    assert.equal(state.last?.turns, 3);
    assert.equal(state.last?.stopped_by, 'max_turns');
    assert.ok((state.last?.last_content.length ?? 0) <= SUMMARY_MAX_CHARS + 1);
    assert.ok(JSON.stringify(state).length < 2 * SUMMARY_MAX_CHARS + 300);
  });

  test('a member that fails fails the task, naming the member and turn; state untouched', async () => {
    const { send } = fakeSend((to) => {
      if (to === 'critic/bob') throw new Error('no reply from critic/bob within 30000 ms');
      return 'ok';
    });
    const ctx = await chat({ members: MEMBERS }, send);
    await assert.rejects(Promise.resolve(groupChatAgent.onMessage('task', ctx)), /group-chat\/team: turn 2: critic\/bob failed: no reply from critic\/bob within 30000 ms/);
    assert.deepEqual(ctx.state, { tasks: 0, last: null });
  });

  test('stops between turns when ctx.signal aborts', async () => {
    const { send, sent } = fakeSend();
    const ctx = await chat({ members: MEMBERS }, (to, m, o) => {
      ctx.controller.abort();
      return send(to, m, o);
    });
    await assert.rejects(Promise.resolve(groupChatAgent.onMessage('task', ctx)), { name: 'AbortError' });
    assert.equal(sent.length, 1);
  });
});

describe('group-chat agent: selector', () => {
  test('asks the selector before each turn and follows its (loosely worded) answers', async () => {
    const picks = ['critic/bob', 'The next speaker should be **writer/alice**.', '3', ' "Bob" '];
    const { send, sent } = fakeSend((to, n) => (to === 'llm/selector' ? { content: picks[n - 1] } : `${to} says ${n}`));
    const result = await runTurn(groupChatAgent, await chat({ members: MEMBERS, selector: 'llm/selector', max_turns: 4 }, send), 'task');
    assert.deepEqual(
      result.transcript.map((e) => e.speaker),
      ['user/me', 'critic/bob', 'writer/alice', 'editor/carol', 'critic/bob'],
    );
    const prompt = sent.find((s) => s.to === 'llm/selector')?.message.content ?? '';
    assert.match(prompt, /1\. writer\/alice\n2\. critic\/bob\n3\. editor\/carol/);
    assert.match(prompt, /user\/me: task/);
    assert.match(prompt, /Reply with only the id of the member/);
  });

  test('falls back to round robin, with a log line, on an unclear answer or a failed selector', async () => {
    const { log, lines } = captureLogger();
    const { send } = fakeSend((to, n) => {
      if (to !== 'llm/selector') return 'fine';
      if (n === 1) return { content: 'I think writer/alice or critic/bob' };
      if (n === 2) throw new Error('selector is down');
      return { content: 'editor/carol' };
    });
    const result = await runTurn(groupChatAgent, await chat({ members: MEMBERS, mode: 'selector', selector: 'llm/selector', max_turns: 3 }, send, log), 'task');
    // Unclear → first in rotation; failed → next after alice; then the selector's own pick.
    assert.deepEqual(result.transcript.map((e) => e.speaker).slice(1), ['writer/alice', 'critic/bob', 'editor/carol']);
    const warnings = lines.filter((l) => l.level === 40).map((l) => l.msg);
    assert.deepEqual(warnings, [
      'selector answer names no single member; round robin picks writer/alice',
      'selector llm/selector failed; round robin picks critic/bob',
    ]);
  });

  test('parseSelection: ids, names, numbers, decoration; undefined when unclear', () => {
    const members = ['writer/alice', 'critic/bob', 'reviewer/alice'];
    const cases: [string, string | undefined][] = [
      ['critic/bob', 'critic/bob'],
      ['  `Critic/Bob`. ', 'critic/bob'],
      ['bob', 'critic/bob'],
      ['Next: bob, definitely.', 'critic/bob'],
      ['2', 'critic/bob'],
      ['writer/alice should go', 'writer/alice'],
      ['alice', undefined], // two members are called alice
      ['writer/alice then critic/bob', undefined],
      ['7', undefined],
      ['', undefined],
      ['nobody', undefined],
      ['bobby', undefined],
    ];
    for (const [answer, expected] of cases) assert.equal(parseSelection(answer, members), expected, JSON.stringify(answer));
  });
});

describe('group-chat agent: config', () => {
  test('bad config is refused with a message naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /group-chat agent config: "members" must be a list of 1 to 100 agent ids/],
      [{ members: [] }, /"members" must be a list/],
      [{ members: ['alice'] }, /"members\[0\]" must be an agent id \(type\/name/],
      [{ members: ['a/b', 'a/b'] }, /"members" lists a\/b twice/],
      [{ members: ['a/b', 'group-chat/team'] }, /group-chat\/team cannot be its own member or selector/],
      [{ members: ['a/b'], mode: 'selector' }, /mode "selector" needs "selector"/],
      [{ members: ['a/b'], mode: 'random' }, /"mode" must be one of "round_robin", "selector"/],
      [{ members: ['a/b'], max_turns: 0 }, /"max_turns" must be a whole number from 1 to 1000/],
      [{ members: ['a/b'], termination: '' }, /"termination" must be a non-empty string/],
      [{ members: ['a/b'], context: 'all' }, /"context" must be one of "transcript", "last_message"/],
    ];
    for (const [config, expected] of cases) {
      await assert.rejects(Promise.resolve(groupChatAgent.onMessage('task', fakeContext({ id: 'group-chat/team', config }))), expected);
    }
    await assert.rejects(Promise.resolve(groupChatAgent.onMessage(5, fakeContext({ id: 'group-chat/team', config: { members: ['a/b'] } }))), /a task is a string or \{ content: string \}; got 5/);
  });
});
