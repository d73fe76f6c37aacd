/**
 * The operator's commands that talk to the manager's API: `status`, `containers ...`, `events`.
 * Each takes `--url`, `--token` and `--json`; human output is tables, `--json` is the API's answer
 * as-is. Failures end with one line on stderr and the exit codes of ./errors.ts.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { ApiClient, type ApiClientOptions } from '../client/api-client.js';
import { ConfigError, envString, envUrl, type Env } from '../common/env.js';
import { CA_FILE_ENV } from '../tls/config.js';
import { EventsQuery } from '../protocol/api.js';
import { InvalidNameError, isSafeName } from '../protocol/names.js';
import { DEFAULT_CLUSTER_PORT } from '../protocol/paths.js';
import { DEFAULT_DRAIN_TIMEOUT_S, waitForDrain } from './drain-wait.js';
import { describeFailure, EXIT_API_ERROR, EXIT_USAGE, type Failure, type FailureContext } from './errors.js';
import { followEventsCommand, parseEventTypes } from './events-follow.js';
import { renderContainer, renderContainerList, renderEvents, renderStatus } from './views.js';

export const MANAGER_URL_ENV = 'FLOTILLA_URL';
export const TOKEN_ENV = 'FLOTILLA_TOKEN';
/** A manager on this machine, as `flotilla dev` and a default `flotilla manager` start it. */
export const DEFAULT_MANAGER_URL = `http://127.0.0.1:${DEFAULT_CLUSTER_PORT}`;
/** The manager's own bound on `limit`, so a bad value is a usage error here, not a 400 there. */
const MAX_EVENTS_LIMIT = EventsQuery.properties.limit.maximum ?? Number.MAX_SAFE_INTEGER;

export interface ConnectionFlags {
  url?: string;
  token?: string;
  caFile?: string;
  json?: boolean;
}

/**
 * The trust for an https manager: the cluster CA certificate (the key directory's ca-cert.pem),
 * or whatever signed a bring-your-own certificate. Only this CA is trusted for that manager.
 */
function caDispatcher(path: string): Agent {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`--ca-file / ${CA_FILE_ENV} ${path}: cannot read it (${(cause as Error).message})`, { cause });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`--ca-file / ${CA_FILE_ENV} ${path}: not a PEM certificate`);
  return new Agent({ connect: { ca: pem } });
}

/** Flags win over the environment, which wins over the default. The one place the CLI's connection is built. */
export function resolveConnection(flags: ConnectionFlags, env: Env): ApiClientOptions & { token?: string | undefined } {
  const caFile = flags.caFile ?? envString(env, CA_FILE_ENV);
  return {
    baseUrl: flags.url ?? envUrl(env, MANAGER_URL_ENV) ?? DEFAULT_MANAGER_URL,
    token: flags.token ?? envString(env, TOKEN_ENV),
    ...(caFile === undefined ? {} : { dispatcher: caDispatcher(caFile) }),
  };
}

function parseUrlFlag(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError(`expected a URL such as ${DEFAULT_MANAGER_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('the URL must start with http:// or https://');
  return raw;
}

export function parseContainerId(raw: string): string {
  if (!isSafeName(raw)) throw new InvalidArgumentError(new InvalidNameError('container id', raw).message);
  return raw;
}

/** Longest wait a command takes: a day. */
const MAX_WAIT_S = 86_400;

function parseSeconds(raw: string): number {
  const seconds = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(seconds >= 1 && seconds <= MAX_WAIT_S)) throw new InvalidArgumentError(`expected whole seconds from 1 to ${MAX_WAIT_S}`);
  return seconds;
}

function parseLimit(raw: string): number {
  const limit = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= MAX_EVENTS_LIMIT)) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_EVENTS_LIMIT}`);
  return limit;
}

export function withConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', `manager API URL (default: $${MANAGER_URL_ENV}, else ${DEFAULT_MANAGER_URL})`, parseUrlFlag)
    .option('--token <token>', `API bearer token (default: $${TOKEN_ENV})`)
    .option('--ca-file <file>', `the cluster CA certificate (PEM) to trust for an https manager (default: $${CA_FILE_ENV})`)
    .option('--json', "print the API's JSON answer as-is");
}

/** What a command got from the manager, and how to show it to a person. */
export interface Outcome {
  /** Printed as-is (pretty) with --json. */
  json: unknown;
  /** May ask the manager for more: the status page also lists every container. */
  human: () => string | Promise<string>;
}

function fail(failure: Failure): void {
  console.error(failure.message);
  process.exitCode = failure.exitCode;
}

export async function execute(flags: ConnectionFlags, context: FailureContext, run: (client: ApiClient) => Promise<Outcome>): Promise<void> {
  try {
    const client = new ApiClient(resolveConnection(flags, process.env));
    const outcome = await run(client);
    // Something other than the manager (another service on that port) may answer 200 with HTML.
    if (typeof outcome.json !== 'object' || outcome.json === null) {
      fail({ exitCode: EXIT_API_ERROR, message: `error: ${client.baseUrl} did not answer with JSON; is it the Flotilla manager's address?` });
      return;
    }
    console.log(flags.json === true ? JSON.stringify(outcome.json, null, 2) : await outcome.human());
  } catch (err) {
    const failure = describeFailure(err, context);
    if (failure === undefined) throw err;
    fail(failure);
  }
}

function notFound(id: string): FailureContext {
  return { notFound: `container ${JSON.stringify(id)} not found` };
}

function registerContainerCommands(program: Command): void {
  const containers = program.command('containers').description('list, inspect, cordon, drain and remove agent containers');

  withConnectionOptions(containers.command('ls').description('list containers (active ones unless --all)'))
    .option('--all', 'include containers that are down')
    .action((flags: ConnectionFlags & { all?: boolean }) =>
      execute(flags, {}, async (client) => {
        const includeInactive = flags.all === true;
        const list = await client.listContainers(includeInactive);
        return { json: list, human: () => renderContainerList(list.containers, includeInactive, Date.now()) };
      }),
    );

  withConnectionOptions(containers.command('get').description("show one container's details"))
    .argument('<id>', 'container id', parseContainerId)
    .action((id: string, flags: ConnectionFlags) =>
      execute(flags, notFound(id), async (client) => {
        const container = await client.getContainer(id);
        return { json: container, human: () => renderContainer(container, Date.now()) };
      }),
    );

  const availabilityActions = [
    ['cordon', 'place no new agents on a container (its agents keep running)'],
    ['uncordon', 'let the scheduler place agents on a container again'],
  ] as const;
  for (const [action, description] of availabilityActions) {
    withConnectionOptions(containers.command(action).description(description))
      .argument('<id>', 'container id', parseContainerId)
      .action((id: string, flags: ConnectionFlags) =>
        execute(flags, notFound(id), async (client) => {
          const answer = await client.containerAction(id, action);
          return { json: answer, human: () => `container ${JSON.stringify(id)} is now ${answer.container.availability}` };
        }),
      );
  }

  withConnectionOptions(containers.command('drain').description('move the agents off a container and place no new ones; waits until none is left'))
    .argument('<id>', 'container id', parseContainerId)
    .option('--no-wait', 'return once the container is marked draining')
    .option('--timeout <seconds>', `how long to wait for the agents to move (default ${DEFAULT_DRAIN_TIMEOUT_S})`, parseSeconds, DEFAULT_DRAIN_TIMEOUT_S)
    .action((id: string, flags: ConnectionFlags & { wait: boolean; timeout: number }) =>
      execute(flags, notFound(id), async (client) => {
        const answer = await client.containerAction(id, 'drain');
        if (!flags.wait) return { json: answer, human: () => `container ${JSON.stringify(id)} is now draining` };
        // Progress only for people: --json prints one JSON document, once the drain is done.
        await waitForDrain(client, id, flags.timeout * 1_000, (line) => flags.json !== true && console.log(line));
        return { json: answer, human: () => `container ${JSON.stringify(id)} is drained: no agents left` };
      }),
    );

  withConnectionOptions(containers.command('rm').description('remove a container from the cluster'))
    .argument('<id>', 'container id', parseContainerId)
    .option('--force', 'remove it even if it is still active')
    .action((id: string, flags: ConnectionFlags & { force?: boolean }) =>
      execute(flags, notFound(id), async (client) => {
        const answer = await client.removeContainer(id, flags.force === true);
        return { json: answer, human: () => `container ${JSON.stringify(id)} removed` };
      }),
    );
}

export function registerClusterCommands(program: Command): void {
  withConnectionOptions(program.command('status').description('show cluster health, capacity, managers and containers')).action(
    (flags: ConnectionFlags) =>
      execute(flags, {}, async (client) => {
        const status = await client.status();
        return {
          json: status,
          human: async () => renderStatus(status, (await client.listContainers(true)).containers, Date.now()),
        };
      }),
  );

  registerContainerCommands(program);

  withConnectionOptions(program.command('events').description('list recent cluster events (joins, failures, cordons, elections); -f follows them live'))
    .option('--limit <n>', `how many events, 1 to ${MAX_EVENTS_LIMIT} (default: the manager's)`, parseLimit)
    .option('-f, --follow', 'print events as they happen until Ctrl-C (one JSON line each with --json)')
    .option('--type <type>', 'with -f: only events of this type (repeat or comma-separate for several)', parseEventTypes)
    .action(async (flags: ConnectionFlags & { limit?: number; follow?: boolean; type?: string[] }) => {
      if (flags.follow === true) return follow(flags);
      if (flags.type !== undefined) return fail({ exitCode: EXIT_USAGE, message: 'error: --type goes with -f (--follow)' });
      return execute(flags, {}, async (client) => {
        const answer = await client.events(undefined, flags.limit);
        return { json: answer, human: () => renderEvents(answer.events) };
      });
    });
}

async function follow(flags: ConnectionFlags & { limit?: number; type?: string[] }): Promise<void> {
  if (flags.limit !== undefined) return fail({ exitCode: EXIT_USAGE, message: 'error: --limit does not go with -f (--follow), which starts from now' });
  try {
    await followEventsCommand(resolveConnection(flags, process.env), { ...(flags.json === undefined ? {} : { json: flags.json }), ...(flags.type === undefined ? {} : { type: flags.type }) });
  } catch (err) {
    const failure = describeFailure(err, {});
    if (failure === undefined) throw err;
    fail(failure);
  }
}
