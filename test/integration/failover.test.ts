/**
 * The agents issue's failover proof with real processes: a real redis-server, a manager and
 * three containers with the default lease settings; an `echo` agent (which counts the messages it
 * handled, in its state) on each container receives a steady stream; one container is killed with
 * SIGKILL mid-stream. Every accepted message must be applied exactly once (each counter equals the
 * number of messages accepted for it) and the moved agent must answer again. The time from the
 * kill to its first answer is printed (the target: within 3 s with default settings).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { FlotillaProcess, freePort, http, loopbackContainerEnv, waitFor, waitForHttp } from '../helpers/processes.js';
import { RedisStore, connectRedis } from '../../src/store/index.js';
import { startOpenAiStub } from '../helpers/openai-stub.js';
import { startSender as startLoadSender, type Sender } from '../helpers/message-load.js';

const CONTAINERS = [
  ['c1', '127.0.0.21'],
  ['c2', '127.0.0.22'],
  ['c3', '127.0.0.23'],
] as const;
const TRAFFIC_BEFORE_KILL_MS = 2_000;
const TRAFFIC_AFTER_RECOVERY_MS = 2_000;
/** A generous ceiling for the test on a loaded CI machine; the figure itself is printed. */
const ANSWER_AGAIN_CEILING_MS = 15_000;

describe('failover of agents under a steady message load', { timeout: 180_000 }, () => {
  let redis: RedisServer;
  let manager: FlotillaProcess;
  let url: string;
  const prefix = `fo${process.pid}:`;
  const containers = new Map<string, FlotillaProcess>();

  before(async () => {
    redis = await startRedisServer();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    manager = new FlotillaProcess('manager', ['manager'], { REDIS_URL: redis.url, CLUSTER_PORT: String(port), FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_PREFIX: prefix });
    await waitForHttp(`${url}/health`);
    for (const [name, ip] of CONTAINERS) {
      containers.set(
        name,
        new FlotillaProcess(name, ['container'], await loopbackContainerEnv(name, ip, { managerUrl: url, redisUrl: redis.url, prefix })),
      );
    }
    await waitFor('three containers serving echo', async () => {
      const list = await http<{ containers: { agent_types: string[] }[] }>('GET', `${url}/api/v1/cluster/containers`);
      return list.body.containers?.filter((c) => c.agent_types.includes('echo')).length === 3;
    }, 20_000);
  });

  after(async () => {
    await Promise.all([...containers.values()].map((c) => c.stop()));
    await manager?.stop();
    await redis?.stop();
  });

  const startSender = (agent: string): Sender => startLoadSender(agent, { urls: [url], message: { from: 'failover-test' } });

  test('kill -9 of a container mid-stream: nothing lost, nothing applied twice, the agent answers again', async () => {
    for (const [name] of CONTAINERS) {
      const res = await http<{ agents?: { agent_id: string; container_id: string }[] }>('POST', `${url}/api/v1/cluster/agents/deploy`, {
        agent_type: 'echo',
        name: `counter-${name}`,
        preferred_container: name,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.agents?.[0]?.container_id, name);
    }
    const senders = CONTAINERS.map(([name]) => startSender(`echo/counter-${name}`));
    await new Promise((r) => setTimeout(r, TRAFFIC_BEFORE_KILL_MS));
    const victim = senders[1]!;
    const answersBefore = victim.answers.length;
    assert.ok(answersBefore > 0, 'the victim agent answered before the kill');
    const killedAt = Date.now();
    containers.get('c2')!.kill9();
    const again = await waitFor('the moved agent answers again', () => victim.answers.find((a) => a.at > killedAt && a.container !== 'c2'), ANSWER_AGAIN_CEILING_MS, 20);
    const answeredAfterMs = again.at - killedAt;
    await new Promise((r) => setTimeout(r, TRAFFIC_AFTER_RECOVERY_MS));
    for (const s of senders) s.stopped = true;
    await Promise.all(senders.map((s) => s.done));

    // Every accepted message applied exactly once: each counter equals its accepted count.
    const store = new RedisStore({ redis: connectRedis(redis.url), prefix });
    try {
      for (const s of senders) {
        await waitFor(`${s.agent} drained`, async () => (await store.mailboxDepth(s.agent)) === 0, 20_000);
        const state = JSON.parse((await store.loadAgentState(s.agent)) ?? 'null') as { count: number } | null;
        assert.equal(state?.count, s.accepted.size, `${s.agent}: applied ${state?.count} of ${s.accepted.size} accepted`);
      }
      const moved = await store.getAgent('echo/counter-c2');
      assert.ok(moved?.containerId === 'c1' || moved?.containerId === 'c3', `moved to ${moved?.containerId}`);
      assert.equal(moved?.state, 'active');
    } finally {
      await store.close();
    }
    // Answers are in order: counts increase by one per completed message of the same agent.
    for (const s of senders) {
      const counts = s.answers.map((a) => a.count);
      assert.deepEqual(counts, [...counts].sort((a, b) => a - b), `${s.agent} answered in order`);
    }
    const total = senders.reduce((n, s) => n + s.accepted.size, 0);
    console.log(`# failover: moved agent answered again ${answeredAfterMs} ms after kill -9 (target 3000 ms); ${total} messages accepted, all applied exactly once`);
  });

  test('a live migration under load loses and reorders nothing', async () => {
    const deployed = await http<{ agents?: { container_id: string }[] }>('POST', `${url}/api/v1/cluster/agents/deploy`, {
      agent_type: 'echo',
      name: 'migrant',
      preferred_container: 'c1',
    });
    assert.equal(deployed.body.agents?.[0]?.container_id, 'c1');
    const sender = startSender('echo/migrant');
    await waitFor('traffic flowing', () => sender.answers.length >= 20, 10_000);
    const migrated = await http('POST', `${url}/api/v1/cluster/agents/echo/migrant/migrate`, { target_container_id: 'c3' });
    assert.equal(migrated.status, 200, JSON.stringify(migrated.body));
    await waitFor('answers from c3', () => sender.answers.some((a) => a.container === 'c3'), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    sender.stopped = true;
    await sender.done;
    const store = new RedisStore({ redis: connectRedis(redis.url), prefix });
    try {
      await waitFor('drained', async () => (await store.mailboxDepth('echo/migrant')) === 0, 20_000);
      const state = JSON.parse((await store.loadAgentState('echo/migrant')) ?? 'null') as { count: number } | null;
      assert.equal(state?.count, sender.accepted.size, 'every accepted message applied exactly once');
      assert.equal((await store.getAgent('echo/migrant'))?.containerId, 'c3');
    } finally {
      await store.close();
    }
    const counts = sender.answers.map((a) => a.count);
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i]! > counts[i - 1]!, `answers in order at ${i}: ${counts[i - 1]} then ${counts[i]}`);
    const firstOnC3 = sender.answers.findIndex((a) => a.container === 'c3');
    assert.ok(sender.answers.slice(firstOnC3).every((a) => a.container === 'c3'), 'after the hand-over only the new owner answers');
  });

  test('a group chat whose members sit on different hosts', async () => {
    for (const [name, where] of [['alice', 'c1'], ['bob', 'c3']] as const) {
      const res = await http<{ agents?: { container_id: string }[] }>('POST', `${url}/api/v1/cluster/agents/deploy`, { agent_type: 'echo', name, preferred_container: where });
      assert.equal(res.body.agents?.[0]?.container_id, where, JSON.stringify(res.body));
    }
    const chat = await http<{ agents?: { container_id: string }[] }>('POST', `${url}/api/v1/cluster/agents/deploy`, {
      agent_type: 'group-chat',
      name: 'standup',
      preferred_container: 'c1',
      agent_config: { members: ['echo/alice', 'echo/bob'], mode: 'round_robin', max_turns: 4 },
    });
    assert.equal(chat.status, 200, JSON.stringify(chat.body));
    const res = await http<{ status: string; result: { turns: number; stopped_by: string; transcript: { speaker: string }[] } }>(
      'POST', `${url}/api/v1/agents/group-chat/standup/messages`, { message: 'what did you do yesterday?', timeout_ms: 20_000 },
    );
    assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
    assert.equal(res.body.result.turns, 4);
    assert.equal(res.body.result.stopped_by, 'max_turns');
    // The first entry is the task itself (spoken by its sender, here the API).
    const speakers = res.body.result.transcript.slice(1).map((t) => t.speaker);
    assert.deepEqual(speakers, ['echo/alice', 'echo/bob', 'echo/alice', 'echo/bob'], JSON.stringify(res.body.result.transcript));
  });

  test('an llm agent keeps its conversation across turns and across a failover', async () => {
    const stub = await startOpenAiStub();
    try {
      const deployed = await http<{ agents?: { container_id: string }[] }>('POST', `${url}/api/v1/cluster/agents/deploy`, {
        agent_type: 'llm',
        name: 'chatty',
        preferred_container: 'c3',
        agent_config: { base_url: stub.baseUrl, model: 'stub-model', system_prompt: 'You are terse.' },
      });
      assert.equal(deployed.body.agents?.[0]?.container_id, 'c3', JSON.stringify(deployed.body));
      const say = async (text: string) => {
        const res = await http<{ status: string; result: { content: string }; container_id: string }>('POST', `${url}/api/v1/agents/llm/chatty/messages`, { message: text, timeout_ms: 15_000 });
        assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
        return res.body;
      };
      await say('first question');
      const second = await say('second question');
      // system + (user, assistant) + user = 4 messages reached the model: the conversation was kept.
      assert.equal(second.result.content, 'echo: second question (4)');
      containers.get('c3')!.kill9();
      // Accepted at once (the agent is between hosts); the answer is polled, from any manager.
      const accepted = await http<{ message_id: string; status: string }>('POST', `${url}/api/v1/agents/llm/chatty/messages`, { message: 'third question', wait: false });
      assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
      const third = await waitFor('an answer after the failover', async () => {
        const res = await http<{ status: string; result: { content: string }; container_id: string }>('GET', `${url}/api/v1/agents/llm/chatty/messages/${accepted.body.message_id}`);
        return res.status === 200 && res.body.status === 'completed' ? res.body : undefined;
      }, 30_000, 200);
      assert.notEqual(third.container_id, 'c3');
      // system + two exchanges + the new question: the conversation survived the move.
      assert.equal(third.result.content, 'echo: third question (6)');
      const last = stub.requests.at(-1)?.body as { messages: { role: string; content: string }[] };
      assert.deepEqual(last.messages.filter((m) => m.role === 'user').map((m) => m.content), ['first question', 'second question', 'third question']);
    } finally {
      await stub.close();
    }
  });
});
