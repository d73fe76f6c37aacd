/**
 * The messaging commands: `agents send` (and `agents poll` for a reply that came late),
 * `topics publish|subscribe|unsubscribe|subscribers`. Each takes `--url`, `--token` and `--json`.
 * Exit codes as in ./errors.ts (1 refused, 2 usage, 3 unreachable), plus EXIT_NO_REPLY: the
 * message was accepted but its reply did not come while we waited; poll for it.
 *
 * A message argument is JSON when it parses as JSON (`'{"text":"hi"}'`, `42`, `'"quoted"'`),
 * else the text itself as a JSON string (`hello world`).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { ApiClient, ApiError } from '../client/api-client.js';
import { InvalidNameError, isAgentId, isSafeName } from '../protocol/names.js';
import { MAX_SEND_TIMEOUT_MS, UUID_PATTERN, type MessageOutcome } from '../protocol/messages-api.js';
import { DEFAULT_SEND_TIMEOUT_MS } from '../protocol/runtime.js';
import { resolveConnection, withConnectionOptions, type ConnectionFlags } from './cluster-commands.js';
import { describeFailure, EXIT_API_ERROR } from './errors.js';

/** The message is accepted (it stays in the agent's mailbox) but no reply came in time. */
export const EXIT_NO_REPLY = 4;

const UUID_RE = new RegExp(UUID_PATTERN);

export function parseMessageArg(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function parseAgentArg(raw: string): string {
  if (!isAgentId(raw)) throw new InvalidArgumentError('expected an agent as type/name, e.g. echo/alice');
  return raw;
}

function parseTopicArg(raw: string): string {
  if (!isSafeName(raw)) throw new InvalidArgumentError(new InvalidNameError('topic', raw).message);
  return raw;
}

function parseMessageId(raw: string): string {
  if (!UUID_RE.test(raw)) throw new InvalidArgumentError('expected a UUID, e.g. 3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f');
  return raw;
}

function parseTimeout(raw: string): number {
  const ms = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(ms >= 1 && ms <= MAX_SEND_TIMEOUT_MS)) throw new InvalidArgumentError(`expected milliseconds from 1 to ${MAX_SEND_TIMEOUT_MS}`);
  return ms;
}

function pollHint(agentId: string, messageId: string): string {
  return `flotilla agents poll ${agentId} ${messageId}`;
}

/** A result as a person reads it: text as-is, anything else as indented JSON. */
function showResult(result: unknown): string {
  return typeof result === 'string' ? result : JSON.stringify(result ?? null, null, 2);
}

function fail(message: string, exitCode: number): void {
  console.error(message);
  process.exitCode = exitCode;
}

interface Shown {
  json: unknown;
  human: () => string;
  /** Printed on stderr instead of the human text (the JSON is still printed with --json). */
  error?: string;
  exitCode?: number;
}

/**
 * Runs `fn` with a client; prints its JSON with --json, else its human text; maps failures to one
 * line and an exit code. `handled` may take an error first (true: it reported it).
 */
async function run(flags: ConnectionFlags, fn: (client: ApiClient) => Promise<Shown>, handled: (err: unknown) => boolean = () => false): Promise<void> {
  try {
    const client = new ApiClient(resolveConnection(flags, process.env));
    const out = await fn(client);
    if (typeof out.json !== 'object' || out.json === null) {
      fail(`error: ${client.baseUrl} did not answer with JSON; is it the Flotilla manager's address?`, EXIT_API_ERROR);
      return;
    }
    if (flags.json === true) console.log(JSON.stringify(out.json, null, 2));
    else if (out.error === undefined) console.log(out.human());
    if (out.error !== undefined) fail(out.error, out.exitCode ?? EXIT_API_ERROR);
  } catch (err) {
    if (handled(err)) return;
    const failure = describeFailure(err);
    if (failure === undefined) throw err;
    fail(failure.message, failure.exitCode);
  }
}

/** completed: the result; failed: exit 1 with the agent's error; accepted/pending: how to poll. */
function showOutcome(o: MessageOutcome): Shown {
  if (o.status === 'failed') {
    return { json: o, human: () => '', error: `error: ${o.agent_id} failed (${o.error?.code ?? 'error'}): ${o.error?.message ?? ''}`, exitCode: EXIT_API_ERROR };
  }
  if (o.status === 'completed') return { json: o, human: () => showResult(o.result) };
  const again = o.duplicate === true ? ' (a retry: this id was accepted before)' : '';
  return { json: o, human: () => `${o.status}: message ${o.message_id} to ${o.agent_id}${again}; poll: ${pollHint(o.agent_id, o.message_id)}` };
}

/** A 504/503 that says the message was accepted but no reply came: exit 4 with how to poll. */
function noReply(err: unknown, agentId: string, flags: ConnectionFlags): boolean {
  if (!(err instanceof ApiError) || !(err.statusCode === 504 || (err.statusCode === 503 && err.code === 'shutting_down'))) return false;
  const body = err.body as (typeof err.body & { message_id?: string }) | undefined;
  if (typeof body?.message_id !== 'string') return false;
  if (flags.json === true) console.log(JSON.stringify(body, null, 2));
  const why = err.statusCode === 504 ? 'no reply came in time' : 'the manager stopped before the reply came';
  fail(`error: ${why}; message ${body.message_id} was accepted and stays in ${agentId}'s mailbox; poll: ${pollHint(agentId, body.message_id)}`, EXIT_NO_REPLY);
  return true;
}

function agentsCommand(program: Command): Command {
  // agent-commands.ts may have made it already: one `agents` command, both sets of subcommands.
  return program.commands.find((c) => c.name() === 'agents') ?? program.command('agents').description('deploy, inspect and message agents');
}

export function registerAgentMessageCommands(agents: Command): void {
  withConnectionOptions(agents.command('send').description('send a message to an agent and print its reply'))
    .argument('<agent>', 'agent as type/name', parseAgentArg)
    .argument('<message>', 'JSON, or text (sent as a JSON string)')
    .option('--no-wait', 'return at once with the message id (poll with `agents poll`)')
    .option('--timeout <ms>', `how long to wait for the reply (default ${DEFAULT_SEND_TIMEOUT_MS}, at most ${MAX_SEND_TIMEOUT_MS})`, parseTimeout)
    .option('--id <uuid>', 'message id, so that a retry is recognised (default: a new one)', parseMessageId)
    .option('--tell', 'no reply wanted (implies --no-wait)')
    .action(async (agentId: string, raw: string, flags: ConnectionFlags & { wait: boolean; timeout?: number; id?: string; tell?: boolean }) => {
      const body = {
        message: parseMessageArg(raw),
        wait: flags.wait,
        ...(flags.timeout === undefined ? {} : { timeout_ms: flags.timeout }),
        ...(flags.id === undefined ? {} : { message_id: flags.id }),
        ...(flags.tell === true ? { kind: 'tell' as const } : {}),
      };
      await run(flags, async (client) => showOutcome(await client.sendMessage(agentId, body)), (err) => noReply(err, agentId, flags));
    });

  withConnectionOptions(agents.command('poll').description('show what became of a message sent earlier: pending, or its reply'))
    .argument('<agent>', 'agent as type/name', parseAgentArg)
    .argument('<message-id>', 'the id `agents send` printed', parseMessageId)
    .action((agentId: string, messageId: string, flags: ConnectionFlags) => run(flags, async (client) => showOutcome(await client.getMessage(agentId, messageId))));
}

export function registerTopicCommands(program: Command): void {
  const topics = program.command('topics').description('publish to topics and manage their subscribers');

  withConnectionOptions(topics.command('publish').description('give every agent subscribed to a topic its own copy of a message'))
    .argument('<topic>', 'topic name', parseTopicArg)
    .argument('<message>', 'JSON, or text (sent as a JSON string)')
    .option('--id <uuid>', 'publish id, so that a retry adds nothing (default: a new one)', parseMessageId)
    .action((topic: string, raw: string, flags: ConnectionFlags & { id?: string }) =>
      run(flags, async (client) => {
        const answer = await client.publish(topic, { message: parseMessageArg(raw), ...(flags.id === undefined ? {} : { message_id: flags.id }) });
        const again = answer.duplicates > 0 ? ` (${answer.duplicates} already had it)` : '';
        const to = answer.count === 0 ? 'no subscribers' : `${answer.count} subscriber${answer.count === 1 ? '' : 's'}: ${answer.delivered_to.join(', ')}`;
        return { json: answer, human: () => `published ${answer.message_id} to ${to}${again}` };
      }),
    );

  withConnectionOptions(topics.command('subscribe').description('subscribe an agent to a topic'))
    .argument('<topic>', 'topic name', parseTopicArg)
    .argument('<agent>', 'agent as type/name', parseAgentArg)
    .action((topic: string, agentId: string, flags: ConnectionFlags) =>
      run(flags, async (client) => {
        const answer = await client.subscribe(topic, agentId);
        return { json: answer, human: () => `${agentId} is subscribed to ${topic}` };
      }),
    );

  withConnectionOptions(topics.command('unsubscribe').description('unsubscribe an agent from a topic'))
    .argument('<topic>', 'topic name', parseTopicArg)
    .argument('<agent>', 'agent as type/name', parseAgentArg)
    .action((topic: string, agentId: string, flags: ConnectionFlags) =>
      run(flags, async (client) => {
        const answer = await client.unsubscribe(topic, agentId);
        return { json: answer, human: () => `${agentId} is not subscribed to ${topic}` };
      }),
    );

  withConnectionOptions(topics.command('subscribers').description("list a topic's subscribers"))
    .argument('<topic>', 'topic name', parseTopicArg)
    .action((topic: string, flags: ConnectionFlags) =>
      run(flags, async (client) => {
        const answer = await client.subscribers(topic);
        return { json: answer, human: () => (answer.count === 0 ? `(no subscribers to ${topic})` : answer.subscribers.join('\n')) };
      }),
    );
}

export function registerMessageCommands(program: Command): void {
  registerAgentMessageCommands(agentsCommand(program));
  registerTopicCommands(program);
}
