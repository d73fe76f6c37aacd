/**
 * Prometheus `/metrics` on the manager and on a container (both in-process, one MemoryStore, as
 * `flotilla dev` runs them), scraped over real HTTP: the text parses, every sample has HELP and
 * TYPE, and the counters move by exactly what flowed through the API.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { MemoryStore } from '../../src/store/index.js';
import { Manager } from '../../src/manager/manager.js';
import { managerConfigFromEnv } from '../../src/manager/config.js';
import { AgentContainer } from '../../src/container/container.js';
import { containerConfigFromEnv } from '../../src/container/config.js';
import { BUILTIN_AGENTS } from '../../src/agents/index.js';
import { defineAgent } from '../../src/sdk/index.js';
import { createLogger } from '../../src/common/logger.js';
import { http, waitFor } from '../helpers/processes.js';

const log = createLogger({ test: 'metrics' }, 'silent');

/** Always throws: every message it gets fails (the message, not the agent). */
const boomAgent = defineAgent({
  type: 'boom',
  onMessage() {
    throw new Error('boom');
  },
});

/** Holds each turn until the test opens the gate (or the agent stops): messages queue up behind it. */
let openGate: () => void = () => undefined;
let gate = Promise.resolve();
const gatedAgent = defineAgent({
  type: 'gated',
  async onMessage(_message, ctx) {
    await Promise.race([gate, new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))]);
    return 'through';
  },
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  contentType: string;
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The Prometheus text format (0.0.4), strictly: any line it does not know fails the test. */
function parse(text: string, contentType: string): Scrape {
  const scrape: Scrape = { contentType, help: new Map(), type: new Map(), samples: [] };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? scrape.help : scrape.type).set(meta[2]!, meta[3]!);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const raw = m[2] ?? '';
    for (const l of raw.matchAll(LABEL)) labels[l[1]!] = l[2]!;
    assert.equal(raw.replace(LABEL, '').replace(/,/g, ''), '', `bad labels in ${line}`);
    // Go's ParseFloat, which Prometheus uses, takes NaN and Inf in any case (prom-client writes `Nan`).
    const raw3 = m[3]!.toLowerCase();
    const value = raw3 === '+inf' || raw3 === 'inf' ? Infinity : raw3 === '-inf' ? -Infinity : raw3 === 'nan' ? NaN : Number(m[3]);
    assert.ok(raw3 === 'nan' || !Number.isNaN(value), `bad value in ${line}`);
    scrape.samples.push({ name: m[1]!, labels, value });
  }
  // Every sample belongs to a family with HELP and TYPE (histograms: _bucket, _sum, _count).
  for (const s of scrape.samples) {
    const family = scrape.type.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(scrape.type.has(family), `no TYPE for ${s.name}`);
    assert.ok(scrape.help.has(family), `no HELP for ${s.name}`);
  }
  return scrape;
}

async function scrape(url: string): Promise<Scrape> {
  const res = await request(`${url}/metrics`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200, text);
  return parse(text, String(res.headers['content-type']));
}

/** The value of one series; 0 when absent (a counter not yet incremented has no series). */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const hit = s.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);
  return hit?.value ?? 0;
}

describe('metrics', () => {
  const store = new MemoryStore();
  let manager: Manager;
  let container: AgentContainer;
  let managerUrl: string;
  let containerUrl: string;

  before(async () => {
    manager = new Manager({ store, config: managerConfigFromEnv({ CLUSTER_PORT: '0', FLOTILLA_BIND_ADDRESS: '127.0.0.1' }), log });
    await manager.start();
    managerUrl = `http://127.0.0.1:${manager.port}`;
    const config = containerConfigFromEnv({
      CENTRAL_MANAGER_URL: managerUrl,
      CONTAINER_NAME: 'metrics-box',
      EXTERNAL_IP: '127.0.0.1',
      FLOTILLA_BIND_ADDRESS: '127.0.0.1',
      AGENT_PORT: '0',
    });
    container = new AgentContainer({ config, log, store, agentTypes: [...BUILTIN_AGENTS, boomAgent, gatedAgent] });
    await container.start();
    await container.joined();
    containerUrl = `http://127.0.0.1:${container.port}`;
  });
  after(async () => {
    await container.stop();
    await manager.stop();
    await store.close();
  });

  test('both roles serve the Prometheus text format with conventional names', async () => {
    const m = await scrape(managerUrl);
    const c = await scrape(containerUrl);
    for (const s of [m, c]) {
      assert.match(s.contentType, /^text\/plain; version=0\.0\.4/);
      assert.ok(s.type.has('process_cpu_user_seconds_total'), 'default process metrics');
      for (const [name, type] of s.type) {
        if (!name.startsWith('flotilla_')) continue;
        if (type === 'counter') assert.match(name, /_total$/, name);
        else assert.doesNotMatch(name, /_total$/, name);
        if (type === 'histogram') assert.match(name, /_seconds$/, name);
      }
    }
    assert.equal(m.type.get('flotilla_containers'), 'gauge');
    assert.equal(m.type.get('flotilla_agents'), 'gauge');
    assert.equal(m.type.get('flotilla_failovers_total'), 'counter');
    assert.equal(m.type.get('flotilla_leader'), 'gauge');
    assert.equal(m.type.get('flotilla_store_rtt_seconds'), 'gauge');
    assert.equal(value(m, 'flotilla_store_up'), 1);
    assert.ok(value(m, 'flotilla_store_rtt_seconds') >= 0);
    assert.equal(c.type.get('flotilla_messages_handled_total'), 'counter');
    assert.equal(c.type.get('flotilla_message_handling_seconds'), 'histogram');
    assert.equal(c.type.get('flotilla_messages_sent_total'), 'counter');
    assert.equal(c.type.get('flotilla_hosted_agents'), 'gauge');
    assert.equal(c.type.get('flotilla_message_wait_seconds'), 'histogram');
    assert.equal(c.type.get('flotilla_lease_renewals_total'), 'counter');
    assert.equal(c.type.get('flotilla_lease_misses_total'), 'counter');
    // The leader is elected within a step of the leader lease; the container renews every second.
    await waitFor('the manager to lead', async () => value(await scrape(managerUrl), 'flotilla_leader') === 1);
    await waitFor('a lease renewal', async () => value(await scrape(containerUrl), 'flotilla_lease_renewals_total') >= 1);
  });

  test('counters move by exactly the messages that flowed', async () => {
    const ECHOES = 5;
    const FAILS = 2;
    const deploy = async (agent_type: string, name: string): Promise<void> => {
      const res = await http('POST', `${managerUrl}/api/v1/cluster/agents/deploy`, { agent_type, name });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    await deploy('echo', 'm1');
    await deploy('boom', 'b1');
    await waitFor('both agents hosted', () => container.runtime?.hostedCount === 2);

    const m0 = await scrape(managerUrl);
    const c0 = await scrape(containerUrl);
    assert.equal(value(c0, 'flotilla_hosted_agents'), 2);
    const ok0 = value(c0, 'flotilla_messages_handled_total', { agent_type: 'echo', outcome: 'ok' });
    const count0 = value(c0, 'flotilla_message_handling_seconds_count', { agent_type: 'echo' });

    for (let i = 0; i < ECHOES; i++) {
      const res = await http<{ status: string }>('POST', `${managerUrl}/api/v1/agents/echo/m1/messages`, { message: { i } });
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'completed');
    }
    for (let i = 0; i < FAILS; i++) {
      const res = await http<{ status: string }>('POST', `${managerUrl}/api/v1/agents/boom/b1/messages`, { message: { i } });
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'failed');
    }

    const c1 = await scrape(containerUrl);
    assert.equal(value(c1, 'flotilla_messages_handled_total', { agent_type: 'echo', outcome: 'ok' }) - ok0, ECHOES);
    assert.equal(value(c1, 'flotilla_messages_handled_total', { agent_type: 'echo', outcome: 'failed' }), 0);
    assert.equal(value(c1, 'flotilla_messages_handled_total', { agent_type: 'boom', outcome: 'failed' }), FAILS);
    assert.equal(value(c1, 'flotilla_messages_handled_total', { agent_type: 'boom', outcome: 'ok' }), 0);
    assert.equal(value(c1, 'flotilla_message_handling_seconds_count', { agent_type: 'echo' }) - count0, ECHOES);
    assert.equal(value(c1, 'flotilla_message_handling_seconds_count', { agent_type: 'boom' }), FAILS);
    assert.equal(value(c1, 'flotilla_message_handling_seconds_bucket', { agent_type: 'echo', le: '+Inf' }), value(c1, 'flotilla_message_handling_seconds_count', { agent_type: 'echo' }));
    assert.ok(value(c1, 'flotilla_message_handling_seconds_sum', { agent_type: 'echo' }) > 0);
    // No per-agent series: the agent's name is nowhere in the labels.
    assert.ok(c1.samples.every((s) => !Object.values(s.labels).some((v) => v.includes('m1'))));

    // The manager's cached view may be up to 5 s old; the deploys moved its version, so it is fresh.
    const m1 = await scrape(managerUrl);
    assert.equal(value(m1, 'flotilla_containers', { state: 'active' }), 1);
    assert.equal(value(m1, 'flotilla_containers', { state: 'down' }), 0);
    const agentsNow = m1.samples.filter((s) => s.name === 'flotilla_agents').reduce((n, s) => n + s.value, 0);
    assert.equal(agentsNow, 2);
    assert.equal(value(m1, 'flotilla_failovers_total'), value(m0, 'flotilla_failovers_total'), 'nothing failed over');
  });

  test('agents that send count as sent', async () => {
    // An echo agent's turn does not send; one message through the store from a hosted agent's
    // runtime does: AgentRuntime.send is what ctx.send calls.
    const before = value(await scrape(containerUrl), 'flotilla_messages_sent_total', { kind: 'request' });
    const reply = await container.runtime!.send('boom/b1', 'metrics-send-1', 'echo/m1', { hi: true }, 5_000);
    assert.equal((reply as { count: number }).count > 0, true);
    const after = value(await scrape(containerUrl), 'flotilla_messages_sent_total', { kind: 'request' });
    assert.equal(after - before, 1);
  });

  test('FLOTILLA_METRICS=off serves no /metrics', async () => {
    const s = new MemoryStore();
    const m = new Manager({ store: s, config: managerConfigFromEnv({ CLUSTER_PORT: '0', FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_METRICS: 'off' }), log });
    await m.start();
    try {
      const res = await http('GET', `http://127.0.0.1:${m.port}/metrics`);
      assert.equal(res.status, 404);
    } finally {
      await m.stop();
      await s.close();
    }
  });

  test('messages queued behind a slow turn: their time in the mailbox is measured', async () => {
    const res = await http('POST', `${managerUrl}/api/v1/cluster/agents/deploy`, { agent_type: 'gated', name: 'g1' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await waitFor('the gated agent hosted', () => container.runtime?.agents().includes('gated/g1'));
    gate = new Promise<void>((resolve) => (openGate = resolve));
    const waits0 = value(await scrape(containerUrl), 'flotilla_message_wait_seconds_count', { agent_type: 'gated' });
    // One turn held at the gate, three behind it; `tell` returns at once (accepted).
    for (let i = 0; i < 4; i++) {
      const sent = await http('POST', `${managerUrl}/api/v1/agents/gated/g1/messages`, { message: { i }, kind: 'tell' });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    openGate();
    await waitFor('all four handled', async () => value(await scrape(containerUrl), 'flotilla_message_wait_seconds_count', { agent_type: 'gated' }) - waits0 === 4);
    const after = await scrape(containerUrl);
    // The three behind the held turn waited at least the 300 ms it was held.
    assert.ok(value(after, 'flotilla_message_wait_seconds_sum', { agent_type: 'gated' }) >= 0.9, `waited ${value(after, 'flotilla_message_wait_seconds_sum', { agent_type: 'gated' })} s in all`);
    assert.ok(value(after, 'flotilla_message_wait_seconds_bucket', { agent_type: 'gated', le: '0.1' }) - waits0 <= 1, 'at most the first was quick');
  });
});
