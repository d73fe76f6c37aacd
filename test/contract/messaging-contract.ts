/**
 * The scenarios every MessageStore must pass (agents, mailboxes, fenced turns, topics, inboxes),
 * run against each implementation so that they cannot drift. `peer` is a second client of the same
 * data: another connection for Redis, the same object for memory (one process is all it serves).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidNameError } from '../../src/protocol/names.js';
import {
  NO_ENTRY_ID,
  INBOX_MAX_LENGTH,
  INBOX_READ_MAX,
  MAILBOX_READ_MAX,
  StoreError,
  StoreUnavailableError,
  compareStreamIds,
  type Fence,
  type InboxEntry,
  type MailboxMessage,
  type MessageStore,
  type NewAgent,
  type Store,
} from '../../src/store/index.js';

export interface MessagingStoreOptions {
  messageDedupTtlMs?: number;
}

export type MakeMessagingStore = (options?: MessagingStoreOptions) => Promise<{ store: Store; peer: MessageStore; cleanup(): Promise<void> }>;

const TEST_TIMEOUT_MS = 20_000;
/** A blocking read that is woken must return well before its block ends. */
const LONG_BLOCK_MS = 3_000;
const WAKE_BOUND_MS = 1_500;
const SHORT_BLOCK_MS = 300;
/** What a call made during another's block may take at most. */
const UNDELAYED_BOUND_MS = 500;
/** Short enough to wait out in a test, long enough for a loaded machine to push and read within. */
const INBOX_TTL_MS = 600;

export function newAgent(id: string, overrides: Partial<NewAgent> = {}): NewAgent {
  const [type = '', name = ''] = id.split('/');
  return {
    id,
    type,
    name,
    config: { model: 'gpt', temperature: 0.2, tools: ['search', { name: 'calc', args: [1, null, true] }] },
    placement: { strategy: 'least_loaded', constraints: { labels: ['zone==a'] } },
    state: 'pending',
    ...overrides,
  };
}

export function message(overrides: Partial<MailboxMessage> = {}): MailboxMessage {
  return { messageId: randomUUID(), kind: 'tell', from: 'api', body: '{"text":"hi"}', ...overrides };
}

function assertIncreasing(ids: string[]): void {
  for (let i = 1; i < ids.length; i++) {
    assert.ok(compareStreamIds(ids[i - 1]!, ids[i]!) < 0, `ids must increase: ${ids[i - 1]} then ${ids[i]}`);
  }
}

async function elapsed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

export function describeMessagingContract(name: string, makeStore: MakeMessagingStore): void {
  describe(`MessageStore contract: ${name}`, { timeout: TEST_TIMEOUT_MS * 10 }, () => {
    let store: Store;
    let peer: MessageStore;
    let cleanup: () => Promise<void>;
    const c1: Fence = { owner: 'c1', epoch: 1 };

    beforeEach(async () => {
      ({ store, peer, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup();
    });

    /** An agent placed on c1 (epoch 1) with `count` messages; returns their entry ids. */
    async function placedWithMail(id: string, count: number): Promise<string[]> {
      assert.equal(await store.createAgent(newAgent(id, { containerId: c1.owner, epoch: c1.epoch, state: 'active' })), true);
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const appended = await store.appendMessage(id, message({ body: JSON.stringify({ n: i }) }));
        assert.ok(appended.ok);
        ids.push(appended.entryId);
      }
      return ids;
    }

    describe('agents', () => {
      it('creates a record stamped by the store, with no turns and the watermark at 0-0', async () => {
        const before = await store.now();
        assert.equal(await store.createAgent(newAgent('reviewer/alice')), true);
        const after = await store.now();
        const record = await store.getAgent('reviewer/alice');
        assert.ok(record);
        const { createdAtMs, updatedAtMs, ...rest } = record;
        assert.deepEqual(rest, {
          id: 'reviewer/alice',
          type: 'reviewer',
          name: 'alice',
          config: newAgent('x/y').config,
          placement: newAgent('x/y').placement,
          state: 'pending',
          containerId: null,
          epoch: 0,
          lastHandled: '0-0',
          turns: 0,
        });
        assert.ok(createdAtMs >= before && createdAtMs <= after);
        assert.equal(updatedAtMs, createdAtMs);
      });

      it('refuses a second agent with the same id and leaves the first untouched', async () => {
        await store.createAgent(newAgent('reviewer/alice'));
        const first = await store.getAgent('reviewer/alice');
        assert.equal(await store.createAgent(newAgent('reviewer/alice', { config: { other: true }, state: 'active' })), false);
        assert.deepEqual(await store.getAgent('reviewer/alice'), first);
        assert.equal((await store.listAgents()).length, 1);
      });

      it('returns null for an unknown agent and lists every agent sorted by id', async () => {
        assert.equal(await store.getAgent('reviewer/nobody'), null);
        assert.deepEqual(await store.listAgents(), []);
        for (const id of ['w/c', 'a/b', 'w/a']) await store.createAgent(newAgent(id));
        const all = await store.listAgents();
        assert.deepEqual(
          all.map((a) => a.id),
          ['a/b', 'w/a', 'w/c'],
        );
        for (const record of all) assert.deepEqual(await store.getAgent(record.id), record);
      });

      it('lists a page of the first agents by id, with the total', async () => {
        assert.deepEqual(await store.listAgentsPage(5), { agents: [], total: 0 });
        for (const id of ['w/c', 'a/b', 'w/a', 'm/x']) await store.createAgent(newAgent(id));
        const page = await store.listAgentsPage(2);
        assert.deepEqual(page.agents.map((a) => a.id), ['a/b', 'm/x']);
        assert.equal(page.total, 4);
        assert.deepEqual(page.agents[0], await store.getAgent('a/b'));
        assert.deepEqual((await store.listAgentsPage(10)).agents.map((a) => a.id), ['a/b', 'm/x', 'w/a', 'w/c']);
        await store.deleteAgent('a/b');
        assert.deepEqual((await store.listAgentsPage(2)).agents.map((a) => a.id), ['m/x', 'w/a']);
        await assert.rejects(store.listAgentsPage(0));
      });

      it('hands out copies: changing a returned record changes nothing stored', async () => {
        await store.createAgent(newAgent('reviewer/alice'));
        const record = await store.getAgent('reviewer/alice');
        assert.ok(record);
        record.config.model = 'changed';
        record.placement.constraints.labels?.push('changed');
        assert.deepEqual(await store.getAgent('reviewer/alice').then((r) => r?.config), newAgent('x/y').config);
      });

      it('rejects unsafe agent ids and mismatched parts without writing anything', async () => {
        for (const id of ['alice', 'a/b/c', 'a/{b}', '{a}/b', 'a b/c', '/b', 'a/', 'a/b:c', 'a/b\n']) {
          await assert.rejects(store.createAgent(newAgent(id)), InvalidNameError, id);
          await assert.rejects(store.getAgent(id), InvalidNameError, id);
          await assert.rejects(store.appendMessage(id, message()), InvalidNameError, id);
        }
        await assert.rejects(store.createAgent({ ...newAgent('a/b'), name: 'c' }), StoreError);
        await assert.rejects(store.createAgent(newAgent('a/b', { state: 'sleeping' as never })), StoreError);
        await assert.rejects(store.createAgent(newAgent('a/b', { containerId: 'c1' })), StoreError, 'placed without an epoch');
        await assert.rejects(store.createAgent(newAgent('a/b', { error: 'boom' })), StoreError, 'error without failed');
        assert.deepEqual(await store.listAgents(), []);
      });

      it('places an agent at creation, and lists it on its container', async () => {
        await store.createAgent(newAgent('w/a', { containerId: 'c1', epoch: 3, state: 'activating' }));
        await store.createAgent(newAgent('w/b'));
        const record = await store.getAgent('w/a');
        assert.equal(record?.containerId, 'c1');
        assert.equal(record?.epoch, 3);
        assert.deepEqual(await store.listAgentsOn('c1'), ['w/a']);
        assert.deepEqual(await store.listAgentsOn('c2'), []);
      });

      it('assignAgent sets fence and state together and moves the agent between containers', async () => {
        for (const id of ['w/b', 'w/a']) await store.createAgent(newAgent(id));
        const placed = await store.assignAgent('w/a', { owner: 'c1', epoch: 4 }, 'activating');
        assert.equal(placed?.containerId, 'c1');
        assert.equal(placed?.epoch, 4);
        assert.equal(placed?.state, 'activating');
        assert.deepEqual(await store.getAgent('w/a'), placed);
        await store.assignAgent('w/b', { owner: 'c1', epoch: 4 }, 'active');
        assert.deepEqual(await store.listAgentsOn('c1'), ['w/a', 'w/b']);

        await store.assignAgent('w/a', { owner: 'c2', epoch: 1 }, 'migrating');
        assert.deepEqual(await store.listAgentsOn('c1'), ['w/b']);
        assert.deepEqual(await store.listAgentsOn('c2'), ['w/a']);

        const unplaced = await store.assignAgent('w/a', null, 'pending');
        assert.equal(unplaced?.containerId, null);
        assert.equal(unplaced?.epoch, 0);
        assert.deepEqual(await store.listAgentsOn('c2'), []);
        assert.equal(await store.assignAgent('w/ghost', c1, 'active'), null);
        assert.deepEqual(await store.listAgentsOn('c1'), ['w/b']);
      });

      it('agentsOnVersion goes up whenever a fence moves onto or off a container, and only then', async () => {
        assert.equal(await store.agentsOnVersion('c1'), 0);
        const seen = async (): Promise<[number, number]> => [await store.agentsOnVersion('c1'), await store.agentsOnVersion('c2')];
        let [v1, v2] = await seen();
        const expect = async (what: string, c1Moves: boolean, c2Moves: boolean): Promise<void> => {
          const [n1, n2] = await seen();
          assert.equal(n1 > v1, c1Moves, `${what}: c1 ${v1} -> ${n1}`);
          assert.equal(n2 > v2, c2Moves, `${what}: c2 ${v2} -> ${n2}`);
          [v1, v2] = [n1, n2];
        };
        await store.createAgent(newAgent('w/a', { containerId: 'c1', epoch: 1 }));
        await expect('created on c1', true, false);
        await store.createAgent(newAgent('w/b'));
        await expect('created unplaced', false, false);
        await store.setAgentState('w/a', 'active', { fence: c1 });
        const posted = await store.appendMessage('w/a', message());
        assert.ok(posted.ok);
        await store.commitTurn('w/a', c1, { entryId: posted.entryId });
        await expect('state, messages and turns', false, false);
        await store.assignAgent('w/a', { owner: 'c1', epoch: 2 }, 'activating');
        await expect('re-fenced on c1 with a new epoch', true, false);
        await store.assignAgent('w/a', { owner: 'c2', epoch: 1 }, 'migrating');
        await expect('moved from c1 to c2', true, true);
        await store.assignAgent('w/b', c1, 'activating');
        await expect('placed on c1', true, false);
        await store.deleteAgent('w/a');
        await expect('deleted from c2', false, true);
        await store.assignAgent('w/b', null, 'pending');
        await expect('unplaced from c1', true, false);
      });

      it('setAgentState changes the lifecycle, fenced when asked, with an error only while failed', async () => {
        await store.createAgent(newAgent('w/a', { containerId: 'c1', epoch: 2, state: 'active' }));
        assert.equal(await store.setAgentState('w/a', 'failed', { fence: { owner: 'c1', epoch: 1 }, error: 'old epoch' }), false);
        assert.equal(await store.setAgentState('w/a', 'failed', { fence: { owner: 'c9', epoch: 2 }, error: 'other owner' }), false);
        assert.equal((await store.getAgent('w/a'))?.state, 'active');

        assert.equal(await store.setAgentState('w/a', 'failed', { fence: { owner: 'c1', epoch: 2 }, error: 'init threw' }), true);
        const failed = await store.getAgent('w/a');
        assert.equal(failed?.state, 'failed');
        assert.equal(failed?.error, 'init threw');
        assert.equal(failed?.containerId, 'c1', 'not moved');

        assert.equal(await store.setAgentState('w/a', 'active'), true);
        const active = await store.getAgent('w/a');
        assert.equal(active?.state, 'active');
        assert.equal(active?.error, undefined);
        assert.equal('error' in (active ?? {}), false);

        await assert.rejects(store.setAgentState('w/a', 'active', { error: 'not failed' }), StoreError);
        assert.equal(await store.setAgentState('w/ghost', 'stopped'), false);
      });

      it('deleteAgent removes the agent, its mailbox, state and reply, and its index entries', async () => {
        const [e1] = await placedWithMail('w/a', 2);
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e1!, state: '{"s":1}', reply: { inbox: 'm1', ref: 'r', body: '{}' } }), { ok: true });
        await store.subscribe('news', 'w/a');
        assert.equal(await store.deleteAgent('w/a'), true);
        assert.equal(await store.getAgent('w/a'), null);
        assert.deepEqual(await store.listAgents(), []);
        assert.deepEqual(await store.listAgentsOn('c1'), []);
        assert.deepEqual(await store.readMailbox('w/a', '0-0'), []);
        assert.equal(await store.mailboxDepth('w/a'), 0);
        assert.equal(await store.loadAgentState('w/a'), null);
        assert.equal(await store.lastReply('w/a'), null);
        assert.deepEqual(await store.appendMessage('w/a', message()), { ok: false, reason: 'no_agent' });
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: '99999999999999-0' }), { ok: false, reason: 'no_agent' });
        assert.equal(await store.deleteAgent('w/a'), false);
        // Subscriptions live elsewhere: the publisher unsubscribes an agent it finds gone.
        assert.deepEqual(await store.subscribers('news'), ['w/a']);

        assert.equal(await store.createAgent(newAgent('w/a')), true, 'the id can be used again');
        const fresh = await store.getAgent('w/a');
        assert.equal(fresh?.lastHandled, '0-0');
        assert.equal(fresh?.turns, 0);
      });
    });

    describe('mailboxes', () => {
      it('appends in order with increasing ids and keeps every field', async () => {
        await store.createAgent(newAgent('w/a'));
        const before = await store.now();
        const sent = [
          message({ kind: 'request', from: 'w/b', replyTo: 'c7', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', deadlineMs: before + 30_000 }),
          message({ kind: 'tell', from: 'api', body: '{"nested":{"a":[1,2]}}' }),
          message({ kind: 'topic', from: 'topic:news', topic: 'news' }),
        ];
        const ids: string[] = [];
        for (const m of sent) {
          const appended = await store.appendMessage('w/a', m);
          assert.ok(appended.ok && !appended.duplicate);
          ids.push(appended.entryId);
        }
        const after = await store.now();
        assertIncreasing(ids);
        const entries = await store.readMailbox('w/a', '0-0');
        assert.deepEqual(
          entries.map((e) => e.entryId),
          ids,
        );
        for (const [i, entry] of entries.entries()) {
          const { entryId: _id, acceptedAtMs, ...fields } = entry;
          assert.deepEqual(fields, sent[i]);
          assert.ok(acceptedAtMs >= before && acceptedAtMs <= after);
        }
        assert.equal(await store.mailboxDepth('w/a'), 3);
      });

      it('deduplicates by message id: the same id gets the first entry id and adds nothing', async () => {
        await store.createAgent(newAgent('w/a'));
        const m = message();
        const first = await store.appendMessage('w/a', m);
        const again = await peer.appendMessage('w/a', { ...m, body: '{"retry":true}' });
        assert.ok(first.ok && again.ok);
        assert.equal(first.duplicate, false);
        assert.equal(again.duplicate, true);
        assert.equal(again.entryId, first.entryId);
        assert.equal(await store.mailboxDepth('w/a'), 1);
        assert.equal((await store.readMailbox('w/a', '0-0'))[0]?.body, m.body);
        // Per agent: the same id to another agent is another message.
        await store.createAgent(newAgent('w/b'));
        assert.deepEqual(await store.appendMessage('w/b', m).then((r) => r.ok && r.duplicate), false);
      });

      it('still recognises a retry after its entry was handled and trimmed', async () => {
        await store.createAgent(newAgent('w/a', { containerId: 'c1', epoch: 1 }));
        const m = message();
        const first = await store.appendMessage('w/a', m);
        assert.ok(first.ok);
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: first.entryId }), { ok: true });
        assert.deepEqual(await store.appendMessage('w/a', m), { ok: true, entryId: first.entryId, duplicate: true, owner: 'c1' });
        assert.equal(await store.mailboxDepth('w/a'), 0);
      });

      it('reports the owner the message was appended under, so the sender can ring it', async () => {
        await store.createAgent(newAgent('w/a'));
        const unplaced = await store.appendMessage('w/a', message());
        assert.ok(unplaced.ok);
        assert.equal(unplaced.owner, null);
        await store.assignAgent('w/a', c1, 'active');
        const m = message();
        const placed = await store.appendMessage('w/a', m);
        assert.ok(placed.ok);
        assert.equal(placed.owner, 'c1');
        // A retry reports where the agent is now.
        await store.assignAgent('w/a', { owner: 'c2', epoch: 1 }, 'active');
        assert.deepEqual(await store.appendMessage('w/a', m), { ok: true, entryId: placed.entryId, duplicate: true, owner: 'c2' });
      });

      it('keeps message ids across deleteAgent until they expire', async () => {
        await store.createAgent(newAgent('w/a'));
        const m = message();
        const first = await store.appendMessage('w/a', m);
        await store.deleteAgent('w/a');
        await store.createAgent(newAgent('w/a'));
        assert.deepEqual(await store.appendMessage('w/a', m), { ...first, duplicate: true });
        assert.equal(await store.mailboxDepth('w/a'), 0);
      });

      it('forgets a message id after the dedup TTL', async () => {
        await cleanup();
        ({ store, peer, cleanup } = await makeStore({ messageDedupTtlMs: 200 }));
        await store.createAgent(newAgent('w/a'));
        const m = message();
        const first = await store.appendMessage('w/a', m);
        assert.ok(first.ok);
        assert.deepEqual(await store.appendMessage('w/a', m), { ...first, duplicate: true });
        await sleep(350);
        const later = await store.appendMessage('w/a', m);
        assert.ok(later.ok && first.ok);
        assert.equal(later.duplicate, false);
        assert.ok(compareStreamIds(later.entryId, first.entryId) > 0);
        assert.equal(await store.mailboxDepth('w/a'), 2);
      });

      it('refuses a message to an unknown agent and creates nothing', async () => {
        assert.deepEqual(await store.appendMessage('w/ghost', message()), { ok: false, reason: 'no_agent' });
        assert.equal(await store.getAgent('w/ghost'), null);
        assert.equal(await store.mailboxDepth('w/ghost'), 0);
        assert.deepEqual(await store.readMailbox('w/ghost', '0-0'), []);
      });

      it('rejects a malformed message', async () => {
        await store.createAgent(newAgent('w/a'));
        await assert.rejects(store.appendMessage('w/a', message({ messageId: 'a b' })), InvalidNameError);
        await assert.rejects(store.appendMessage('w/a', message({ kind: 'shout' as never })), StoreError);
        await assert.rejects(store.appendMessage('w/a', message({ replyTo: 'x{y}' })), InvalidNameError);
        await assert.rejects(store.appendMessage('w/a', message({ deadlineMs: 1.5 })), StoreError);
        await assert.rejects(store.appendMessage('w/a', message({ body: 5 as never })), StoreError);
        assert.equal(await store.mailboxDepth('w/a'), 0);
      });

      it('reads strictly after an entry id, oldest first, at most limit (capped at MAILBOX_READ_MAX)', async () => {
        await store.createAgent(newAgent('w/a'));
        const ids: string[] = [];
        for (let i = 0; i < MAILBOX_READ_MAX + 5; i++) {
          const r = await store.appendMessage('w/a', message({ body: String(i) }));
          assert.ok(r.ok);
          ids.push(r.entryId);
        }
        const ofRead = async (after: string, limit?: number): Promise<string[]> => (await store.readMailbox('w/a', after, limit)).map((e) => e.entryId);
        assert.deepEqual(await ofRead(ids[2]!, 3), ids.slice(3, 6));
        assert.deepEqual(await ofRead('0-0', 2), ids.slice(0, 2));
        assert.deepEqual(await ofRead(ids.at(-1)!), []);
        assert.deepEqual(await ofRead('0-0', 0), []);
        assert.equal((await ofRead('0-0')).length, MAILBOX_READ_MAX);
        assert.equal((await ofRead('0-0', 1_000)).length, MAILBOX_READ_MAX);
        assert.deepEqual(await ofRead(ids[MAILBOX_READ_MAX - 1]!), ids.slice(MAILBOX_READ_MAX));
        for (const bad of ['5', '01-0', 'a-b', '1-2-3', '']) await assert.rejects(store.readMailbox('w/a', bad), StoreError, bad);
        await assert.rejects(store.readMailbox('w/a', '0-0', -1), StoreError);
      });
    });

    describe('commitTurn', () => {
      it('advances the watermark, stores state and reply, counts the turn and trims the entry', async () => {
        const [e1, e2, e3] = await placedWithMail('w/a', 3);
        const reply = { inbox: 'c7', ref: 'req-1', body: '{"answer":42}' };
        const before = await store.now();
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e1!, state: '{"history":[1]}', reply }), { ok: true });
        const record = await store.getAgent('w/a');
        assert.equal(record?.lastHandled, e1);
        assert.equal(record?.turns, 1);
        assert.ok(record && record.updatedAtMs >= before);
        assert.equal(await store.loadAgentState('w/a'), '{"history":[1]}');
        assert.deepEqual(await store.lastReply('w/a'), { entryId: e1, ...reply });
        assert.equal(await store.mailboxDepth('w/a'), 2);
        assert.deepEqual(
          (await store.readMailbox('w/a', '0-0')).map((e) => e.entryId),
          [e2, e3],
          'the handled entry is trimmed',
        );

        // A turn without state leaves it; one without a reply forgets the previous reply.
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e2! }), { ok: true });
        assert.equal(await store.loadAgentState('w/a'), '{"history":[1]}');
        assert.equal(await store.lastReply('w/a'), null);
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e3!, state: '{"history":[1,3]}' }), { ok: true });
        assert.equal((await store.getAgent('w/a'))?.turns, 3);
        assert.equal(await store.mailboxDepth('w/a'), 0);
        assert.equal(await store.loadAgentState('w/a'), '{"history":[1,3]}');
      });

      it('refuses a redelivered entry as duplicate and writes nothing', async () => {
        const [e1, e2] = await placedWithMail('w/a', 2);
        await store.commitTurn('w/a', c1, { entryId: e1!, state: '"s1"', reply: { inbox: 'c7', ref: 'r1', body: '1' } });
        const before = await store.getAgent('w/a');
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e1!, state: '"again"', reply: { inbox: 'c7', ref: 'r1', body: '2' } }), {
          ok: false,
          reason: 'duplicate',
        });
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: '0-1' }), { ok: false, reason: 'duplicate' });
        assert.equal(await store.loadAgentState('w/a'), '"s1"');
        assert.equal((await store.lastReply('w/a'))?.body, '1');
        assert.deepEqual(await store.getAgent('w/a'), before);
        assert.deepEqual(
          (await store.readMailbox('w/a', '0-0')).map((e) => e.entryId),
          [e2],
        );
      });

      it('refuses to skip an entry, or to commit one that is not there, as out_of_order', async () => {
        const [e1, e2] = await placedWithMail('w/a', 2);
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e2!, state: '"skipped"' }), { ok: false, reason: 'out_of_order' });
        const [ms] = e2!.split('-');
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: `${Number(ms) + 1_000}-0` }), { ok: false, reason: 'out_of_order' });
        assert.equal(await store.loadAgentState('w/a'), null);
        assert.equal((await store.getAgent('w/a'))?.lastHandled, '0-0');
        assert.equal(await store.mailboxDepth('w/a'), 2);
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e1! }), { ok: true });
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e2! }), { ok: true });
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: `${Number(ms) + 1_000}-0` }), { ok: false, reason: 'out_of_order' }, 'empty mailbox');
      });

      it('refuses another owner as not_owner, and any owner of an unplaced agent', async () => {
        const [e1] = await placedWithMail('w/a', 1);
        assert.deepEqual(await store.commitTurn('w/a', { owner: 'c2', epoch: 1 }, { entryId: e1!, state: '"x"' }), { ok: false, reason: 'not_owner' });
        await store.assignAgent('w/a', null, 'pending');
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e1! }), { ok: false, reason: 'not_owner' });
        assert.equal(await store.loadAgentState('w/a'), null);
        assert.equal(await store.mailboxDepth('w/a'), 1);
      });

      it('refuses the old epoch after reassignment as stale_epoch, writing nothing; the new owner continues', async () => {
        const [e1, e2, e3] = await placedWithMail('w/a', 3);
        await store.commitTurn('w/a', c1, { entryId: e1!, state: '"s1"', reply: { inbox: 'c1', ref: 'r1', body: '"one"' } });
        // c1 was declared dead and re-registered (epoch 2); the control plane moved the agent to it.
        await store.assignAgent('w/a', { owner: 'c1', epoch: 2 }, 'active');
        const before = await store.getAgent('w/a');
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e2!, state: '"zombie"', reply: { inbox: 'c1', ref: 'r2', body: '"z"' } }), {
          ok: false,
          reason: 'stale_epoch',
        });
        assert.deepEqual(await store.commitTurn('w/a', { owner: 'c1', epoch: 3 }, { entryId: e2! }), { ok: false, reason: 'stale_epoch' }, 'newer too');
        assert.deepEqual(await store.getAgent('w/a'), before);
        assert.equal(await store.loadAgentState('w/a'), '"s1"');
        assert.deepEqual(await store.lastReply('w/a'), { entryId: e1, inbox: 'c1', ref: 'r1', body: '"one"' });
        assert.equal(await store.mailboxDepth('w/a'), 2);

        // Moved to another container: the old owner is not_owner, the new one carries on.
        await store.assignAgent('w/a', { owner: 'c2', epoch: 5 }, 'active');
        assert.deepEqual(await store.commitTurn('w/a', { owner: 'c1', epoch: 2 }, { entryId: e2! }), { ok: false, reason: 'not_owner' });
        const watermark = (await peer.getAgent('w/a'))?.lastHandled;
        assert.equal(watermark, e1);
        const [next] = await peer.readMailbox('w/a', watermark!, 1);
        assert.equal(next?.entryId, e2);
        assert.equal(await peer.loadAgentState('w/a'), '"s1"');
        assert.deepEqual(await peer.commitTurn('w/a', { owner: 'c2', epoch: 5 }, { entryId: e2!, state: '"s2"' }), { ok: true });
        assert.deepEqual(await peer.commitTurn('w/a', { owner: 'c2', epoch: 5 }, { entryId: e3! }), { ok: true });
        assert.equal((await store.getAgent('w/a'))?.turns, 3);
      });

      it('assignAgent with resetState clears state and last reply with the fence change, keeping mailbox and watermark', async () => {
        const [e1, e2, e3] = await placedWithMail('w/a', 3);
        await store.commitTurn('w/a', c1, { entryId: e1!, state: '"s1"', reply: { inbox: 'c1', ref: 'r1', body: '"one"' } });
        const c2: Fence = { owner: 'c2', epoch: 5 };
        const moved = await store.assignAgent('w/a', c2, 'activating', { resetState: true });
        assert.deepEqual([moved?.containerId, moved?.epoch, moved?.state, moved?.lastHandled, moved?.turns], ['c2', 5, 'activating', e1, 1]);
        assert.equal(await peer.loadAgentState('w/a'), null);
        assert.equal(await peer.lastReply('w/a'), null);
        assert.equal(await peer.mailboxDepth('w/a'), 2);
        assert.deepEqual(
          (await peer.readMailbox('w/a', e1!)).map((e) => e.entryId),
          [e2, e3],
        );

        // The old owner can never write state after the reset: the new fence refuses its commit.
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e2!, state: '"zombie"', reply: { inbox: 'c1', ref: 'r2', body: '"z"' } }), {
          ok: false,
          reason: 'not_owner',
        });
        assert.equal(await store.loadAgentState('w/a'), null);
        assert.equal(await store.lastReply('w/a'), null);

        // The new owner starts fresh from the next unhandled entry.
        assert.deepEqual(await peer.commitTurn('w/a', c2, { entryId: e2!, state: '"fresh"' }), { ok: true });
        assert.equal(await store.loadAgentState('w/a'), '"fresh"');

        // Without the option (and with it false) the state is kept; an unknown agent is null; a bad option is refused.
        await store.assignAgent('w/a', { owner: 'c2', epoch: 6 }, 'active', { resetState: false });
        await store.assignAgent('w/a', { owner: 'c2', epoch: 7 }, 'active');
        assert.equal(await store.loadAgentState('w/a'), '"fresh"');
        assert.equal(await store.assignAgent('w/ghost', c2, 'active', { resetState: true }), null);
        await assert.rejects(store.assignAgent('w/a', c2, 'active', { resetState: 'yes' as unknown as boolean }), StoreError);
        assert.equal((await store.getAgent('w/a'))?.epoch, 7);
      });

      it('assignAgent with resetState re-fences on the same container too: the old epoch is refused', async () => {
        const [e1, e2] = await placedWithMail('w/a', 2);
        await store.commitTurn('w/a', c1, { entryId: e1!, state: '"s1"' });
        await store.assignAgent('w/a', { owner: 'c1', epoch: 2 }, 'activating', { resetState: true });
        assert.deepEqual(await store.commitTurn('w/a', c1, { entryId: e2!, state: '"zombie"' }), { ok: false, reason: 'stale_epoch' });
        assert.equal(await store.loadAgentState('w/a'), null);
        assert.equal((await store.getAgent('w/a'))?.lastHandled, e1);
        assert.equal(await store.mailboxDepth('w/a'), 1);
      });

      it('lets exactly one of two containers racing on the same entry with the same fence commit', async () => {
        const ids = await placedWithMail('w/a', 5);
        for (const [i, entryId] of ids.entries()) {
          const results = await Promise.all([
            store.commitTurn('w/a', c1, { entryId, state: `"store-${i}"` }),
            peer.commitTurn('w/a', c1, { entryId, state: `"peer-${i}"` }),
            store.commitTurn('w/a', c1, { entryId, state: `"store2-${i}"` }),
            peer.commitTurn('w/a', c1, { entryId, state: `"peer2-${i}"` }),
          ]);
          assert.equal(results.filter((r) => r.ok).length, 1, JSON.stringify(results));
          assert.ok(results.every((r) => r.ok || r.reason === 'duplicate'));
        }
        const record = await store.getAgent('w/a');
        assert.equal(record?.turns, ids.length);
        assert.equal(record?.lastHandled, ids.at(-1));
        assert.equal(await store.mailboxDepth('w/a'), 0);
      });

      it('returns no_agent for an unknown agent and rejects malformed commits', async () => {
        assert.deepEqual(await store.commitTurn('w/ghost', c1, { entryId: '1-0' }), { ok: false, reason: 'no_agent' });
        await assert.rejects(store.commitTurn('w/ghost', c1, { entryId: '1' }), StoreError);
        await assert.rejects(store.commitTurn('w/ghost', { owner: 'c1', epoch: 0 }, { entryId: '1-0' }), StoreError);
        await assert.rejects(store.commitTurn('w/ghost', c1, { entryId: '1-0', reply: { inbox: 'a/b', ref: 'r', body: '' } }), InvalidNameError);
      });
    });

    describe('topics', () => {
      it('subscribes, lists sorted, unsubscribes, all idempotent', async () => {
        assert.deepEqual(await store.subscribers('news'), []);
        await store.subscribe('news', 'w/b');
        await store.subscribe('news', 'w/a');
        await peer.subscribe('news', 'w/a');
        await store.subscribe('sports', 'w/c');
        assert.deepEqual(await store.subscribers('news'), ['w/a', 'w/b']);
        assert.deepEqual(await peer.subscribers('sports'), ['w/c']);
        await store.unsubscribe('news', 'w/a');
        await store.unsubscribe('news', 'w/a');
        await store.unsubscribe('nothing', 'w/a');
        assert.deepEqual(await store.subscribers('news'), ['w/b']);
        await store.unsubscribe('news', 'w/b');
        assert.deepEqual(await store.subscribers('news'), []);
        await assert.rejects(store.subscribe('a{b}', 'w/a'), InvalidNameError);
        await assert.rejects(store.subscribe('news', 'wa'), InvalidNameError);
      });
    });

    describe('inboxes', () => {
      it('inboxTail is the newest entry id, where a reader of new entries only starts', async () => {
        assert.equal(await store.inboxTail('tail-box'), NO_ENTRY_ID);
        await store.pushInbox('tail-box', { kind: 'ring', ref: 'a/b', body: '{}' });
        const second = await store.pushInbox('tail-box', { kind: 'ring', ref: 'a/c', body: '{}' });
        assert.equal(await store.inboxTail('tail-box'), second);
        assert.deepEqual(await store.readInbox('tail-box', await store.inboxTail('tail-box'), 0), [], 'nothing after the tail');
        const third = await store.pushInbox('tail-box', { kind: 'ring', ref: 'a/d', body: '{}' });
        assert.deepEqual((await store.readInbox('tail-box', second, 0)).map((e) => e.entryId), [third]);
      });

      const ring = (ref: string): Omit<InboxEntry, 'entryId'> => ({ kind: 'ring', ref, body: '{}' });

      it('reads pushed entries in order, strictly after an id, at most limit', async () => {
        const ids: string[] = [];
        ids.push(await store.pushInbox('c1', { kind: 'reply', ref: 'req-1', body: '{"ok":true}' }));
        ids.push(await peer.pushInbox('c1', ring('w/a')));
        ids.push(await store.pushInbox('c1', { kind: 'control', ref: 'drain', body: '{"why":"test"}' }));
        assertIncreasing(ids);
        const all = await store.readInbox('c1', '0-0', 0);
        assert.deepEqual(all, [
          { entryId: ids[0], kind: 'reply', ref: 'req-1', body: '{"ok":true}' },
          { entryId: ids[1], kind: 'ring', ref: 'w/a', body: '{}' },
          { entryId: ids[2], kind: 'control', ref: 'drain', body: '{"why":"test"}' },
        ]);
        assert.deepEqual(await store.readInbox('c1', ids[0]!, 0, 1), [all[1]]);
        assert.deepEqual(await store.readInbox('c1', ids[2]!, 0), []);
        assert.deepEqual(await store.readInbox('c2', '0-0', 0), []);
        assert.deepEqual(await store.readInbox('c1', '0-0', 0, 0), []);
        await assert.rejects(store.pushInbox('a/b', ring('x')), InvalidNameError);
        await assert.rejects(store.pushInbox('c1', { kind: 'shout' as never, ref: 'x', body: '' }), StoreError);
        await assert.rejects(store.readInbox('c1', '0-0', -1), StoreError);
      });

      it('returns at once, without blocking, when entries are already there', async () => {
        const id = await store.pushInbox('c1', ring('w/a'));
        const { value, ms } = await elapsed(() => store.readInbox('c1', '0-0', LONG_BLOCK_MS));
        assert.deepEqual(
          value.map((e) => e.entryId),
          [id],
        );
        assert.ok(ms < WAKE_BOUND_MS, `took ${ms} ms`);
      });

      it('wakes a blocked read as soon as another client pushes, well before blockMs', async () => {
        const last = await store.pushInbox('c1', ring('old'));
        const read = elapsed(() => store.readInbox('c1', last, LONG_BLOCK_MS));
        await sleep(100);
        const pushed = await peer.pushInbox('c1', ring('w/a'));
        const { value, ms } = await read;
        assert.deepEqual(
          value.map((e) => [e.entryId, e.ref]),
          [[pushed, 'w/a']],
        );
        assert.ok(ms < WAKE_BOUND_MS, `woke after ${ms} ms`);
      });

      it('returns [] after blockMs when nothing comes, and not much later', async () => {
        await store.pushInbox('c2', ring('elsewhere'));
        const { value, ms } = await elapsed(() => store.readInbox('c1', '0-0', SHORT_BLOCK_MS));
        assert.deepEqual(value, []);
        assert.ok(ms >= SHORT_BLOCK_MS - 20 && ms < SHORT_BLOCK_MS + WAKE_BOUND_MS, `returned after ${ms} ms`);
      });

      it('does not delay other calls while a read is blocked, nor other blocked reads', async () => {
        await store.createAgent(newAgent('w/a'));
        const blocked = store.readInbox('c1', '0-0', LONG_BLOCK_MS);
        const other = elapsed(() => store.readInbox('c2', '0-0', LONG_BLOCK_MS));
        await sleep(50);
        const { ms } = await elapsed(async () => {
          await store.getAgent('w/a');
          await store.appendMessage('w/a', message());
          await store.pushInbox('c3', ring('x'));
          await store.readInbox('c3', '0-0', 0);
          await store.now();
        });
        assert.ok(ms < UNDELAYED_BOUND_MS, `other calls took ${ms} ms during a blocked read`);
        await store.pushInbox('c2', ring('for c2'));
        const second = await other;
        assert.equal(second.value.length, 1);
        assert.ok(second.ms < WAKE_BOUND_MS, `the second blocked read woke after ${second.ms} ms`);
        await store.pushInbox('c1', ring('for c1'));
        assert.equal((await blocked).length, 1);
      });

      it('keeps about the newest INBOX_MAX_LENGTH entries and drops older ones', { timeout: 60_000 }, async () => {
        const extra = 250;
        const total = INBOX_MAX_LENGTH + extra;
        const ids: string[] = [];
        for (let start = 0; start < total; start += 1_000) {
          const batch = Array.from({ length: Math.min(1_000, total - start) }, (_, i) => store.pushInbox('c1', ring(String(start + i))));
          ids.push(...(await Promise.all(batch)));
        }
        const kept: InboxEntry[] = [];
        let after = '0-0';
        for (;;) {
          const page = await store.readInbox('c1', after, 0, INBOX_READ_MAX);
          if (page.length === 0) break;
          kept.push(...page);
          after = page.at(-1)!.entryId;
        }
        assert.ok(kept.length >= INBOX_MAX_LENGTH && kept.length < total, `kept ${kept.length}`);
        assert.equal(kept.at(-1)?.entryId, ids.at(-1));
        assert.notEqual(kept[0]?.entryId, ids[0]);
        assert.equal(kept[0]?.ref, String(total - kept.length), 'the newest are kept, in order');
      });

      it('caps one read at INBOX_READ_MAX', async () => {
        await Promise.all(Array.from({ length: INBOX_READ_MAX + 10 }, (_, i) => store.pushInbox('c1', ring(String(i)))));
        assert.equal((await store.readInbox('c1', '0-0', 0, INBOX_READ_MAX * 2)).length, INBOX_READ_MAX);
        assert.equal((await store.readInbox('c1', '0-0', 0)).length, INBOX_READ_MAX);
      });

      it('expires an inbox ttlMs after a push with ttlMs; later plain pushes (anyone\'s) keep that expiry', async () => {
        const reply = { kind: 'reply' as const, ref: 'm-1', body: '{"ok":true}' };
        await store.pushInbox('reply.m-1', { kind: 'control', ref: 'accepted', body: '{}' }, { ttlMs: INBOX_TTL_MS });
        await sleep(INBOX_TTL_MS / 3);
        await peer.pushInbox('reply.m-1', reply);
        await store.pushInbox('forever', ring('x'));
        assert.deepEqual(
          (await store.readInbox('reply.m-1', '0-0', 0)).map((e) => e.kind),
          ['control', 'reply'],
        );
        await sleep(INBOX_TTL_MS);
        assert.deepEqual(await store.readInbox('reply.m-1', '0-0', 0), [], 'expired with everything in it');
        assert.equal((await peer.readInbox('forever', '0-0', 0)).length, 1, 'an inbox pushed without ttlMs does not expire');
        // A push to an expired inbox starts a new one, without the old expiry.
        const again = await peer.pushInbox('reply.m-1', reply);
        await sleep(INBOX_TTL_MS / 2);
        assert.deepEqual(
          (await store.readInbox('reply.m-1', '0-0', 0)).map((e) => e.entryId),
          [again],
        );
      });

      it('a push with ttlMs replaces the expiry, and a blocked read sees an inbox pushed with one', async () => {
        await store.pushInbox('m1', ring('a'), { ttlMs: INBOX_TTL_MS });
        await store.pushInbox('m1', ring('b'), { ttlMs: INBOX_TTL_MS * 20 });
        await sleep(INBOX_TTL_MS * 1.5);
        assert.equal((await store.readInbox('m1', '0-0', 0)).length, 2, 'the longer expiry replaced the shorter');
        const read = store.readInbox('m2', '0-0', LONG_BLOCK_MS);
        await sleep(50);
        await peer.pushInbox('m2', ring('c'), { ttlMs: INBOX_TTL_MS * 20 });
        assert.deepEqual(
          (await read).map((e) => e.ref),
          ['c'],
        );
      });

      it('rejects a ttlMs that is not a positive integer, writing nothing', async () => {
        for (const ttlMs of [0, -1, 1.5, Number.NaN]) {
          await assert.rejects(store.pushInbox('m3', ring('x'), { ttlMs }), StoreError, String(ttlMs));
        }
        assert.deepEqual(await store.readInbox('m3', '0-0', 0), []);
      });
    });

    describe('closing', () => {
      it('fails a blocked read and later calls with StoreUnavailableError', async () => {
        const blocked = store.readInbox('c1', '0-0', LONG_BLOCK_MS).then(
          () => null,
          (err: unknown) => err,
        );
        await sleep(50);
        const { value: failure, ms } = await elapsed(async () => {
          await store.close();
          return blocked;
        });
        assert.ok(failure instanceof StoreUnavailableError, String(failure));
        assert.ok(ms < WAKE_BOUND_MS, `the blocked read failed after ${ms} ms`);
        await assert.rejects(store.readInbox('c1', '0-0', 0), StoreUnavailableError);
        await assert.rejects(store.getAgent('w/a'), StoreUnavailableError);
      });
    });
  });
}
