/**
 * Shipped logs and the latency matrix with real processes: a real redis-server, a manager and two
 * containers. Each container hosts a `chatty` agent that logs one line per message; one
 * `flotilla logs` call reads both containers' lines back in order, `-f` follows them, and a
 * traced message's line carries its trace id. The latency matrix has an entry for every pair and
 * reacts when one container's link to Redis is slowed (a delay proxy on its path). With an OTLP
 * endpoint set (a stand-in collector), a conversation that crosses both hosts is one trace whose
 * spans chain: the caller's span, the manager's, the relaying agent's turn, the answering agent's turn.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { FlotillaProcess, freePort, http, loopbackContainerEnv, waitFor, waitForHttp } from '../helpers/processes.js';
import { startDelayProxy, type DelayProxy } from '../helpers/delay-proxy.js';
import { runCli, spawnCli } from '../cli/run-cli.js';
import { startOtlpCollector, type OtlpCollector } from '../helpers/otlp-collector.js';
import type { LatencyMatrix, LogsPage, LogEntryView } from '../../src/protocol/observability-api.js';

const CHATTY = fileURLToPath(new URL('../fixtures/agents/chatty.mjs', import.meta.url));
const CONTAINERS = [
  ['obs-c1', '127.0.0.31'],
  ['obs-c2', '127.0.0.32'],
] as const;
const PROBE_INTERVAL_MS = 200;
const SLOW_MS = 60;

describe('shipped logs and the latency matrix', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let slowLink: DelayProxy;
  let collector: OtlpCollector;
  let manager: FlotillaProcess;
  let url: string;
  const prefix = `obs${process.pid}:`;
  const containers: FlotillaProcess[] = [];

  before(async () => {
    redis = await startRedisServer();
    slowLink = await startDelayProxy('127.0.0.1', redis.port);
    collector = await startOtlpCollector();
    // The SDK's standard knob: export every 200 ms instead of every 5 s.
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: '200' };
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    manager = new FlotillaProcess('manager', ['manager'], { REDIS_URL: redis.url, CLUSTER_PORT: String(port), FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_PREFIX: prefix, ...otel });
    await waitForHttp(`${url}/health`);
    for (const [i, [name, ip]] of CONTAINERS.entries()) {
      containers.push(
        new FlotillaProcess(name, ['container'], {
          // The second container reaches Redis through the delay proxy: its link can be slowed.
          ...(await loopbackContainerEnv(name, ip, { managerUrl: url, redisUrl: i === 1 ? slowLink.url : redis.url, prefix })),
          FLOTILLA_AGENT_MODULES: CHATTY,
          FLOTILLA_LATENCY_INTERVAL_MS: String(PROBE_INTERVAL_MS),
          ...otel,
        }),
      );
    }
    await waitFor('two containers serving chatty', async () => {
      const list = await http<{ containers: { agent_types: string[] }[] }>('GET', `${url}/api/v1/cluster/containers`);
      return list.body.containers?.filter((c) => c.agent_types.includes('chatty')).length === 2;
    }, 20_000);
    for (const [name] of CONTAINERS) {
      const res = await http('POST', `${url}/api/v1/cluster/agents/deploy`, { agent_type: 'chatty', name: `talker-${name}`, preferred_container: name });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  });

  after(async () => {
    await Promise.all(containers.map((c) => c.stop()));
    await manager?.stop();
    await slowLink?.close();
    await collector?.close();
    await redis?.stop();
  });

  async function say(agent: string, step: number, headers: Record<string, string> = {}): Promise<void> {
    const res = await http('POST', `${url}/api/v1/agents/${agent}/messages`, { message: { step }, timeout_ms: 10_000 }, headers);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  test('one `flotilla logs` call reads the lines of both containers, in the order they were logged', async () => {
    const agents = CONTAINERS.map(([name]) => `chatty/talker-${name}`);
    // Turns alternate between the two hosts, each waiting for the previous reply: a total order.
    const STEPS = 12;
    for (let step = 1; step <= STEPS; step++) await say(agents[step % 2]!, step);
    const steps = await waitFor('every step in the shipped log', async () => {
      const res = await runCli(['logs', '--json', '--limit', '1000', '--url', url]);
      assert.equal(res.code, 0, res.stderr);
      const page = JSON.parse(res.stdout) as LogsPage;
      const lines = page.entries.filter((e) => e.msg.startsWith('chatty step'));
      return lines.length === STEPS ? lines : undefined;
    }, 10_000, 200);
    assert.deepEqual(steps.map((e) => e.fields?.step), Array.from({ length: STEPS }, (_, i) => i + 1));
    assert.deepEqual(new Set(steps.map((e) => e.container_id)), new Set(CONTAINERS.map(([name]) => name)));
    for (const e of steps) assert.equal(e.agent_id, agents[Number(e.fields?.step) % 2], 'each line names the agent that logged it');

    // Filters: one agent's lines only, and a level above info leaves none of them.
    const one = JSON.parse((await runCli(['logs', '--json', '--agent', agents[0]!, '--url', url])).stdout) as LogsPage;
    assert.ok(one.entries.length >= STEPS / 2 && one.entries.every((e) => e.agent_id === agents[0]));
    const warn = JSON.parse((await runCli(['logs', '--json', '--level', 'warn', '--container', CONTAINERS[0][0], '--url', url])).stdout) as LogsPage;
    assert.ok(warn.entries.every((e) => e.level === 'warn' || e.level === 'error' || e.level === 'fatal'));
    assert.ok(!warn.entries.some((e) => e.msg.startsWith('chatty step')));

    // Human output: one line per entry, with where it came from.
    const human = await runCli(['logs', '--agent', agents[1]!, '--url', url]);
    assert.match(human.stdout, new RegExp(`INFO  \\[${CONTAINERS[1][0]} ${agents[1]!.replace('/', '\\/')}\\] chatty step 1\\b`));
  });

  test('a traced message: the line its handler logs carries the trace id', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await say(`chatty/talker-${CONTAINERS[0][0]}`, 100, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    const line = await waitFor('the traced line', async () => {
      const page = (await http<LogsPage>('GET', `${url}/api/v1/logs?agent=chatty/talker-${CONTAINERS[0][0]}&limit=50`)).body;
      return page.entries.find((e) => e.fields?.step === 100);
    }, 10_000, 200);
    assert.equal(line.trace_id, traceId);
  });

  test('`flotilla logs -f` prints new lines as they are shipped, and stops on Ctrl-C', async () => {
    const agent = `chatty/talker-${CONTAINERS[1][0]}`;
    const child = spawnCli(['logs', '-f', '--json', '--agent', agent, '--url', url]);
    const seen: LogEntryView[] = [];
    let buffered = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const l of lines) if (l.trim() !== '') seen.push(JSON.parse(l) as LogEntryView);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // The follow starts from now: send until a line of ours arrives (the stream may open late).
      let step = 200;
      await waitFor('a followed line', async () => {
        await say(agent, ++step);
        return seen.some((e) => Number(e.fields?.step) > 200);
      }, 15_000, 300);
      assert.ok(seen.every((e) => e.agent_id === agent), 'only the filtered agent');
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('the latency matrix has every pair, and shows a slowed link to Redis', async () => {
    const [c1, c2] = CONTAINERS.map(([name]) => name);
    const entry = (m: LatencyMatrix, from: string, to: string) => m.entries.find((e) => e.from === from && e.to === to);
    const measured = await waitFor('every pair measured', async () => {
      const m = (await http<LatencyMatrix>('GET', `${url}/api/v1/cluster/latency`)).body;
      return m.entries.length === 6 && m.entries.every((e) => e.samples > 0 && e.error === null) ? m : undefined;
    }, 15_000, 200);
    assert.deepEqual(measured.containers, [c1, c2]);
    for (const from of [c1!, c2!]) for (const to of ['redis', 'manager', from === c1 ? c2! : c1!]) assert.ok(entry(measured, from, to), `${from} -> ${to}`);
    assert.ok(entry(measured, c2!, 'redis')!.median_ms! < SLOW_MS / 2, 'before: the link is fast');

    slowLink.delayMs = SLOW_MS;
    const slowed = await waitFor('the slowed link in the matrix', async () => {
      const m = (await http<LatencyMatrix>('GET', `${url}/api/v1/cluster/latency`)).body;
      return (entry(m, c2!, 'redis')?.median_ms ?? 0) >= SLOW_MS ? m : undefined;
    }, 20_000, 200);
    // Both directions are held: a round trip takes at least twice the delay; the other host is not slowed.
    assert.ok(entry(slowed, c1!, 'redis')!.median_ms! < SLOW_MS / 2, `c1 -> redis stays fast: ${JSON.stringify(entry(slowed, c1!, 'redis'))}`);

    const table = await runCli(['latency', '--url', url]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /FROM \\ TO \(median ms\)\s+redis\s+manager\s+obs-c1\s+obs-c2/);
    assert.match(table.stdout, new RegExp(`^${c2}\\s+\\d{3}\\.\\d`, 'm'), 'c2 -> redis shows the delay');
    slowLink.delayMs = 0;
  });

  test('a conversation across two hosts is one trace, its spans chained from the caller to the last turn', async () => {
    const [c1, c2] = CONTAINERS.map(([name]) => name);
    const deployed = await http('POST', `${url}/api/v1/cluster/agents/deploy`, { agent_type: 'relay', name: 'hop', preferred_container: c1, agent_config: { to: `chatty/talker-${c2}` } });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const callerSpan = 'b7ad6b7169203331';
    const res = await http<{ result?: { relayed?: { step?: number } } }>('POST', `${url}/api/v1/agents/relay/hop/messages`, { message: { step: 300 }, timeout_ms: 10_000 }, { traceparent: `00-${traceId}-${callerSpan}-01` });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.result?.relayed?.step, 300);

    const chain = await waitFor('the three spans of the trace', () => {
      const ours = collector.spans.filter((s) => s.traceId === traceId);
      const api = ours.find((s) => s.service === 'flotilla-manager' && s.name.startsWith('POST /api/v1/agents'));
      const relay = ours.find((s) => s.name === 'turn relay');
      const chatty = ours.find((s) => s.name === 'turn chatty');
      return api && relay && chatty ? { api, relay, chatty } : undefined;
    }, 15_000, 200);
    assert.equal(chain.api.parentSpanId, callerSpan, "the manager's span continues the caller's");
    assert.equal(chain.relay.parentSpanId, chain.api.spanId, "the relay's turn is a child of the manager's span");
    assert.equal(chain.chatty.parentSpanId, chain.relay.spanId, "the answering turn is a child of the relay's turn");
    assert.equal(chain.relay.service, 'flotilla-container');
    assert.equal(chain.relay.attributes['flotilla.agent_id'], 'relay/hop');
    assert.equal(chain.chatty.attributes['flotilla.agent_id'], `chatty/talker-${c2}`);

    // The answering host's log line carries the same trace id.
    const line = await waitFor('the traced line on the second host', async () => {
      const page = (await http<LogsPage>('GET', `${url}/api/v1/logs?agent=chatty/talker-${c2}&limit=50`)).body;
      return page.entries.find((e) => e.fields?.step === 300);
    }, 10_000, 200);
    assert.equal(line.trace_id, traceId);
    assert.equal(line.container_id, c2);
  });

  test('a message sent without a traceparent still gets a trace (minted by the manager)', async () => {
    await say(`chatty/talker-${CONTAINERS[0][0]}`, 400);
    const line = await waitFor('the line of the untraced send', async () => {
      const page = (await http<LogsPage>('GET', `${url}/api/v1/logs?agent=chatty/talker-${CONTAINERS[0][0]}&limit=50`)).body;
      return page.entries.find((e) => e.fields?.step === 400);
    }, 10_000, 200);
    assert.match(line.trace_id ?? '', /^[0-9a-f]{32}$/);
    const api = await waitFor('its manager span', () => collector.spans.find((s) => s.traceId === line.trace_id && s.service === 'flotilla-manager'), 10_000, 200);
    assert.equal(api.parentSpanId, undefined, 'a new trace starts at the manager');
  });
});
