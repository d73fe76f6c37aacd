/**
 * `flotilla logs [-f]` (every host's shipped log lines, filtered) and `flotilla latency` (the
 * cluster's round-trip matrix).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { followStream } from '../client/event-stream.js';
import { logsPath, type LogsFilter } from '../client/api-client.js';
import type { LatencyMatrix, LogEntryView } from '../protocol/observability-api.js';
import { AGENT_ID_PATTERN } from '../protocol/names.js';
import { LOG_LEVELS, LOG_READ_MAX } from '../store/observability.js';
import { execute, parseContainerId, resolveConnection, withConnectionOptions, type ConnectionFlags } from './cluster-commands.js';
import { describeFailure, EXIT_USAGE } from './errors.js';
import { formatTable, type Column } from './table.js';

const NONE = '-';
const AGENT_ID = new RegExp(AGENT_ID_PATTERN);

function parseAgent(raw: string): string {
  if (!AGENT_ID.test(raw)) throw new InvalidArgumentError('expected an agent id type/name, such as echo/alice');
  return raw;
}

function parseLevel(raw: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  return raw;
}

function parseLogLimit(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= LOG_READ_MAX)) throw new InvalidArgumentError(`expected a whole number from 1 to ${LOG_READ_MAX}`);
  return n;
}

/** One line per log entry: time, level, where, message, and the extra fields. */
export function logLine(e: LogEntryView): string {
  const where = [e.container_id ?? NONE, e.agent_id].filter((x) => x !== null).join(' ');
  const extra = e.fields === undefined ? '' : ` ${JSON.stringify(e.fields)}`;
  const trace = e.trace_id === null ? '' : ` trace=${e.trace_id}`;
  // Text from remote hosts: no control characters reach the terminal.
  return `${e.time} ${e.level.toUpperCase().padEnd(5)} [${where}] ${e.msg}${trace}${extra}`.replace(/\p{Cc}/gu, '?');
}

function ms(v: number | null): string {
  return v === null ? NONE : v < 10 ? v.toFixed(2) : v.toFixed(1);
}

/** Rows: containers; columns: redis, manager, then each container; cells: median ms (or why not). */
export function renderLatency(m: LatencyMatrix): string {
  if (m.containers.length === 0) return 'no active containers';
  const targets = ['redis', 'manager', ...m.containers];
  const cell = new Map(m.entries.map((e) => [`${e.from}\0${e.to}`, e]));
  const columns: Column[] = [{ header: 'FROM \\ TO (median ms)' }, ...targets.map((t) => ({ header: t, align: 'right' as const }))];
  const rows = m.containers.map((from) => [
    from,
    ...targets.map((to) => {
      if (to === from) return NONE;
      const e = cell.get(`${from}\0${to}`);
      if (e === undefined || (e.samples === 0 && e.error === null)) return '?';
      if (e.error !== null && e.samples === 0) return 'n/a';
      return `${ms(e.median_ms)}${e.error === null ? '' : '!'}`;
    }),
  ]);
  const failing = m.entries.filter((e) => e.error !== null && e.samples > 0);
  const notes = ["? not measured yet, n/a nothing measured, ! the newest probe failed"];
  for (const e of failing) notes.push(`${e.from} -> ${e.to}: ${e.error}`);
  return `${formatTable(columns, rows)}\n\n${notes.join('\n')}`;
}

type LogsFlags = ConnectionFlags & LogsFilter & { follow?: boolean; limit?: number };

export function registerObservabilityCommands(program: Command): void {
  withConnectionOptions(program.command('logs').description("read the log lines every container shipped (agents' and containers'), filtered; -f follows them"))
    .option('--agent <id>', 'only lines of this agent (type/name)', parseAgent)
    .option('--container <id>', 'only lines of this container', parseContainerId)
    .option('--level <level>', `only lines at this level or above (${LOG_LEVELS.join(', ')})`, parseLevel)
    .option('--limit <n>', `how many of the newest lines, 1 to ${LOG_READ_MAX} (default 100)`, parseLogLimit)
    .option('-f, --follow', 'keep printing new lines until Ctrl-C (one JSON line each with --json)')
    .action(async (flags: LogsFlags) => {
      const filter: LogsFilter = {
        ...(flags.agent === undefined ? {} : { agent: flags.agent }),
        ...(flags.container === undefined ? {} : { container: flags.container }),
        ...(flags.level === undefined ? {} : { level: flags.level }),
      };
      if (flags.follow === true) return followLogs(flags, filter);
      return execute(flags, {}, async (client) => {
        const page = await client.logs({ ...filter, ...(flags.limit === undefined ? {} : { limit: flags.limit }) });
        return { json: page, human: () => (page.entries.length === 0 ? 'no log lines' : page.entries.map(logLine).join('\n')) };
      });
    });

  withConnectionOptions(program.command('latency').description('show the round trips each container measures to Redis, the manager and its peers')).action(
    async (flags: ConnectionFlags) =>
      execute(flags, {}, async (client) => {
        const matrix = await client.latency();
        return { json: matrix, human: () => renderLatency(matrix) };
      }),
  );
}

/** Prints the newest --limit lines (if asked) and then new ones as they come, until Ctrl-C. */
async function followLogs(flags: LogsFlags, filter: LogsFilter): Promise<void> {
  if (flags.limit !== undefined) {
    console.error('error: --limit does not go with -f (--follow), which starts from now');
    process.exitCode = EXIT_USAGE;
    return;
  }
  const connection = resolveConnection(flags, process.env);
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await followStream<LogEntryView>(logsPath({ ...filter, follow: true }), {
      baseUrl: connection.baseUrl,
      ...(connection.token === undefined ? {} : { token: connection.token }),
      ...(connection.dispatcher === undefined || typeof connection.dispatcher === 'function' ? {} : { dispatcher: connection.dispatcher }),
      signal: controller.signal,
      onEvent: (e) => console.log(flags.json === true ? JSON.stringify(e) : logLine(e)),
      onReconnect: (delayMs, reason) => console.error(`log stream interrupted (${reason}); reconnecting in ${(delayMs / 1_000).toFixed(1)}s`),
    });
  } catch (err) {
    const failure = describeFailure(err, {});
    if (failure === undefined) throw err;
    console.error(failure.message);
    process.exitCode = failure.exitCode;
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}
