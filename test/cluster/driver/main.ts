/**
 * The client host's driver: runs inside the client namespace (`ip netns exec <client> node
 * --import tsx test/cluster/driver/main.ts`) and does, on the test's behalf, everything that talks
 * to the test hosts: TCP probes, HTTP calls to the managers, the steady message load, reads of
 * agent state in Redis. The test (in the root namespace) talks to it only over stdin/stdout, one
 * JSON request per line and one JSON answer per line, so the root namespace never sends a packet
 * to a test address.
 */
import { createInterface } from 'node:readline';
import { createConnection } from 'node:net';
import { readFileSync } from 'node:fs';
import { Agent, setGlobalDispatcher } from 'undici';
import { http } from '../../helpers/processes.js';
import { countExpired, startSender, type Sender } from '../../helpers/message-load.js';
import { RedisStore, connectRedis } from '../../../src/store/index.js';
import type { DriverRequest } from './protocol.js';

/** Bounds of the driver's own waits. */
const TCP_TIMEOUT_MS = 3_000;
const WAIT_POLL_MS = 20;

const senders = new Map<string, Sender>();

// A TLS cluster: every https call of the driver (the load included) trusts the cluster CA, and
// shows no client certificate, as a person's CLI or dashboard.
const CA_FILE = process.env.FLOTILLA_CA_FILE || undefined;
if (CA_FILE !== undefined) setGlobalDispatcher(new Agent({ connect: { ca: readFileSync(CA_FILE, 'utf8') } }));

function tcpProbe(host: string, port: number): Promise<{ ok: boolean; ms: number; error?: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (error?: string): void => {
      socket.destroy();
      resolve({ ok: error === undefined, ms: Date.now() - started, ...(error === undefined ? {} : { error }) });
    };
    socket.setTimeout(TCP_TIMEOUT_MS, () => done(`no answer within ${TCP_TIMEOUT_MS} ms`));
    socket.once('error', (err) => done(err.message));
    socket.once('connect', () => done());
  });
}

async function waitAnswer(agent: string, after: number, timeoutMs: number, notContainer?: string): Promise<number | null> {
  const sender = senders.get(agent);
  if (!sender) throw new Error(`no load on ${agent}`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const answer = sender.answers.find((a) => a.at > after && (notContainer === undefined || a.container !== notContainer));
    if (answer) return answer.at;
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
  return null;
}

async function readAgents(redisUrl: string, prefix: string | undefined, agents: string[]): Promise<unknown> {
  const store = new RedisStore({ redis: connectRedis(redisUrl), ...(prefix === undefined ? {} : { prefix }) });
  try {
    const out: Record<string, unknown> = {};
    for (const agent of agents) {
      const [record, stateText, depth] = await Promise.all([store.getAgent(agent), store.loadAgentState(agent), store.mailboxDepth(agent)]);
      out[agent] = {
        container: record?.containerId ?? null,
        epoch: record?.epoch ?? null,
        lifecycle: record?.state ?? null,
        depth,
        state: stateText === null ? null : (JSON.parse(stateText) as unknown),
      };
    }
    return out;
  } finally {
    await store.close();
  }
}

/** The cluster's admin token, handed over by the harness: every API call carries it. */
const TOKEN = process.env.FLOTILLA_TOKEN || undefined;

function bearer(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

async function handle(req: DriverRequest): Promise<unknown> {
  switch (req.op) {
    case 'tcp':
      return tcpProbe(req.host, req.port);
    case 'http':
      return http(req.method, req.url, req.body, bearer(req.token ?? TOKEN));
    case 'load.start':
      for (const agent of req.agents) {
        if (senders.has(agent)) throw new Error(`load on ${agent} is already running`);
        senders.set(agent, startSender(agent, { urls: req.urls, ...(TOKEN === undefined ? {} : { token: TOKEN }), ...(req.message === undefined ? {} : { message: req.message }) }));
      }
      return { started: req.agents.length };
    case 'load.snapshot':
      return Object.fromEntries([...senders].map(([agent, s]) => [agent, { accepted: s.accepted.size, answers: s.answers.length, unanswered: s.unanswered, lastAt: s.answers.at(-1)?.at ?? null }]));
    case 'load.wait-answer':
      return waitAnswer(req.agent, req.after, req.timeoutMs, req.notContainer);
    case 'load.stop': {
      const stopping = [...senders.values()];
      stopping.forEach((s) => (s.stopped = true));
      await Promise.all(stopping.map((s) => s.done));
      senders.clear();
      const expired = await Promise.all(stopping.map((s) => countExpired(s, req.urls, TOKEN)));
      return Object.fromEntries(
        stopping.map((s, i) => [s.agent, { accepted: s.accepted.size, expired: expired[i]!.expired, outcomes: expired[i]!.outcomes, uncertain: s.uncertain.size, unanswered: s.unanswered, refused: s.refused.slice(0, 10), answers: s.answers.map((a) => [a.at, a.count, a.container]) }]),
      );
    }
    case 'store.agents':
      return readAgents(req.redisUrl, req.prefix, req.agents);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let req: DriverRequest;
  try {
    req = JSON.parse(line) as DriverRequest;
  } catch {
    process.stderr.write(`driver: not JSON: ${line}\n`);
    return;
  }
  handle(req).then(
    (value) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: true, value: value ?? null })}\n`),
    (err: unknown) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: false, error: (err as Error)?.message ?? String(err) })}\n`),
  );
});
// The test closing our stdin is the end: stop the load and leave.
lines.on('close', () => {
  senders.forEach((s) => (s.stopped = true));
  setTimeout(() => process.exit(0), 100).unref();
});
