/**
 * Multi-host, part 1: the checks a person runs by hand (USERS-DEPLOYMENT-GUIDE "Testing
 * Multi-Host Deployment"), then agents spread over the agent hosts, talking across hosts. Every
 * call is made from the client host; every process runs in its own host's namespace.
 */
import { failureTracker } from './lib/failure-tracker.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './lib/cluster.js';
import { managerUrl } from './lib/env.js';
import { REDIS_PORT } from './lib/topology.js';
import type { AgentReading } from './driver/protocol.js';

describe('a cluster across hosts (network namespaces)', { timeout: 240_000 }, () => {
  let cluster: Cluster;
  const tracker = failureTracker();
  const guard = tracker.guard;

  before(async () => {
    cluster = await Cluster.start();
  });

  after(async () => {
    await cluster?.close(tracker.failed);
  });


  test('by hand: TCP reach to Redis, manager /health, register remote-agent, /status lists every host', guard(async () => {
    const { driver } = cluster;
    const reach = await driver.call<{ ok: boolean; error?: string }>({ op: 'tcp', host: cluster.redis.flotillaAddress, port: REDIS_PORT });
    assert.equal(reach.ok, true, `telnet ${cluster.redis.flotillaAddress} ${REDIS_PORT}: ${reach.error}`);
    const m1 = managerUrl(cluster.managers[0]!);
    for (const url of cluster.managerUrls) {
      const health = await driver.http<{ status: string }>('GET', `${url}/health`);
      assert.equal(health.status, 200);
      assert.equal(health.body.status, 'healthy');
    }
    // The guide's curl, with the client host standing in for the remote agent's machine, and the
    // join token a registration needs; a wrong one is refused.
    const register = (token: string) =>
      driver.http<{ success: boolean; container_id: string; epoch: number }>('POST', `${m1}/api/v1/cluster/containers/register`, {
        container_name: 'remote-agent',
        host_address: cluster.client.flotillaAddress,
      }, token);
    const refused = await register(cluster.auth.joinToken.replace(/.{8}$/, '00000000'));
    assert.equal(refused.status, 401, `a wrong join token is refused: ${JSON.stringify(refused.body)}`);
    const reg = await register(cluster.auth.joinToken);
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    assert.equal(reg.body.container_id, 'remote-agent');
    const status = await driver.http<{ cluster: { containers: { container_id: string; host_address: string }[] }; managers: { address: string }[] }>('GET', `${m1}/api/v1/cluster/status`);
    assert.equal(status.status, 200);
    const listed = new Map(status.body.cluster.containers.map((c) => [c.container_id, c.host_address]));
    for (const agent of cluster.agents) assert.equal(listed.get(agent.name), agent.flotillaAddress, `${agent.name} listed with its address`);
    assert.equal(listed.get('remote-agent'), cluster.client.flotillaAddress);
    for (const m of cluster.managers) assert.ok(status.body.managers.some((x) => x.address.includes(m.flotillaAddress)), `manager ${m.name} listed: ${JSON.stringify(status.body.managers)}`);
    const removed = await driver.http('DELETE', `${m1}/api/v1/cluster/containers/remote-agent?force=true`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
  }));

  test('agents on every agent host; messages, topic posts and a group chat across hosts; each applied exactly once', guard(async () => {
    const { driver } = cluster;
    const [m1, m2] = cluster.managerUrls as [string, string];
    const deployed = await driver.http<{ agents: { agent_id: string; container_id: string }[] }>('POST', `${m1}/api/v1/cluster/agents/deploy`, {
      agent_type: 'counter',
      name: 'c',
      replicas: 6,
      deployment_strategy: 'round_robin',
    });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const where = new Map(deployed.body.agents.map((a) => [a.agent_id, a.container_id]));
    for (const host of cluster.agents) assert.ok([...where.values()].filter((c) => c === host.name).length >= 1, `${host.name} holds agents: ${JSON.stringify([...where])}`);
    const expected = new Map([...where.keys()].map((id) => [id, 0]));
    const bump = (id: string, n = 1): void => void expected.set(id, (expected.get(id) ?? 0) + n);

    // Direct sends through either manager.
    for (const [i, id] of [...where.keys()].entries()) {
      const res = await driver.http<{ status: string; container_id: string; result: { count: number } }>('POST', `${i % 2 === 0 ? m1 : m2}/api/v1/agents/${id}/messages`, { message: { hello: i } });
      assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
      assert.equal(res.body.container_id, where.get(id));
      bump(id);
    }
    // Agent to agent across hosts: every pair of agents on different hosts.
    const ids = [...where.keys()];
    let crossed = 0;
    for (const from of ids) {
      for (const to of ids) {
        if (where.get(from) === where.get(to)) continue;
        const res = await driver.http<{ status: string; result: { forwarded: { container: string } } }>('POST', `${m2}/api/v1/agents/${from}/messages`, { message: { forward_to: to } });
        assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
        assert.equal(res.body.result.forwarded.container, where.get(to), 'the answer came from the other host');
        bump(from);
        bump(to);
        crossed++;
      }
    }
    // Topic posts: every agent subscribed, each post one copy each, on every host.
    for (const id of ids) {
      const sub = await driver.http('POST', `${m1}/api/v1/topics/news/subscribers`, { agent_id: id });
      assert.ok(sub.status === 200 || sub.status === 201, JSON.stringify(sub.body));
    }
    const POSTS = 3;
    for (let i = 0; i < POSTS; i++) {
      const post = await driver.http<{ count: number }>('POST', `${i % 2 === 0 ? m2 : m1}/api/v1/topics/news/messages`, { message: { post: i } });
      assert.equal(post.status, 200, JSON.stringify(post.body));
      assert.equal(post.body.count, ids.length);
      ids.forEach((id) => bump(id));
    }
    // A group chat on one host whose two members sit on two other hosts.
    const [alice, bob] = [ids.find((id) => where.get(id) === 'a1')!, ids.find((id) => where.get(id) === 'a2')!];
    const chat = await driver.http<{ agents: { container_id: string }[] }>('POST', `${m1}/api/v1/cluster/agents/deploy`, {
      agent_type: 'group-chat',
      name: 'standup',
      preferred_container: 'a3',
      agent_config: { members: [alice, bob], mode: 'round_robin', max_turns: 4 },
    });
    assert.equal(chat.body.agents[0]?.container_id, 'a3', JSON.stringify(chat.body));
    const talk = await driver.http<{ status: string; result: { turns: number; transcript: { speaker: string }[] } }>('POST', `${m2}/api/v1/agents/group-chat/standup/messages`, {
      message: 'status?',
      timeout_ms: 20_000,
    });
    assert.equal(talk.body.status, 'completed', JSON.stringify(talk.body));
    assert.deepEqual(talk.body.result.transcript.slice(1).map((t) => t.speaker), [alice, bob, alice, bob]);
    bump(alice, 2);
    bump(bob, 2);

    // Every effect exactly once, read from Redis by the client host.
    const readings = await driver.call<Record<string, AgentReading>>({ op: 'store.agents', redisUrl: cluster.redisUrl, agents: ids });
    for (const id of ids) {
      assert.equal(readings[id]?.state?.count, expected.get(id), `${id} applied ${readings[id]?.state?.count}, expected ${expected.get(id)}`);
      assert.equal(readings[id]?.depth, 0);
    }
    console.log(`# hosts: ${ids.length} counters on ${cluster.agents.length} hosts, ${crossed} cross-host sends, ${POSTS} topic posts, a 4-turn group chat over 3 hosts: every effect applied once`);
  }));
});
