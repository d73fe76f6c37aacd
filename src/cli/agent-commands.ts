/**
 * The agent commands of the control plane: `agents deploy|ls|get|rm|migrate`. (`agents send` and
 * `agents poll` are in message-commands.ts; both add to the one `agents` command.) Each takes
 * `--url`, `--token` and `--json`; exit codes as in ./errors.ts.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { MAX_AGENTS_LISTED, MAX_REPLICAS, type DeployBody } from '../protocol/agents-api.js';
import { InvalidNameError, isAgentId, isSafeName } from '../protocol/names.js';
import { STRATEGIES, type Strategy } from '../scheduler/strategy.js';
import { renderAgent, renderAgentList, renderDeployed } from './agent-views.js';
import { execute, parseContainerId, withConnectionOptions, type ConnectionFlags } from './cluster-commands.js';
import type { FailureContext } from './errors.js';

function parseAgentId(raw: string): string {
  if (!isAgentId(raw)) throw new InvalidArgumentError('expected an agent as type/name, e.g. echo/alice');
  return raw;
}

function parseName(what: string): (raw: string) => string {
  return (raw) => {
    if (!isSafeName(raw)) throw new InvalidArgumentError(new InvalidNameError(what, raw).message);
    return raw;
  };
}

function parseWhole(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= max)) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

function parseStrategy(raw: string): Strategy {
  const found = STRATEGIES.find((s) => s === raw);
  if (found === undefined) throw new InvalidArgumentError(`expected one of ${STRATEGIES.join(', ')}`);
  return found;
}

function parseConfig(raw: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError('expected a JSON object, e.g. \'{"model":"llama3"}\'');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError('expected a JSON object, e.g. \'{"model":"llama3"}\'');
  return value as Record<string, unknown>;
}

/** Repeatable flags collect into a list. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--require memory_mb=512` (repeatable) into `{memory_mb: 512}`. */
function collectAmount(raw: string, previous: Record<string, number> = {}): Record<string, number> {
  const match = /^([^=\s]+)=(\d+(?:\.\d+)?)$/.exec(raw);
  if (match === null) throw new InvalidArgumentError('expected key=amount, e.g. memory_mb=512');
  return { ...previous, [match[1] as string]: Number(match[2]) };
}

function notFound(id: string): FailureContext {
  return { notFound: `agent ${JSON.stringify(id)} not found` };
}

interface DeployFlags extends ConnectionFlags {
  name?: string;
  config?: Record<string, unknown>;
  strategy?: Strategy;
  label?: string[];
  capability?: string[];
  minResource?: Record<string, number>;
  require?: Record<string, number>;
  prefer?: string;
  replicas?: number;
}

function deployBody(type: string, f: DeployFlags): DeployBody {
  const constraints = {
    ...(f.label === undefined ? {} : { labels: f.label }),
    ...(f.capability === undefined ? {} : { capabilities: f.capability }),
    ...(f.minResource === undefined ? {} : { min_resources: f.minResource }),
  };
  return {
    agent_type: type,
    ...(f.name === undefined ? {} : { name: f.name }),
    ...(f.config === undefined ? {} : { agent_config: f.config }),
    ...(f.strategy === undefined ? {} : { deployment_strategy: f.strategy }),
    ...(Object.keys(constraints).length === 0 ? {} : { constraints }),
    ...(f.prefer === undefined ? {} : { preferred_container: f.prefer }),
    ...(f.require === undefined ? {} : { resource_requirements: f.require }),
    ...(f.replicas === undefined ? {} : { replicas: f.replicas }),
  };
}

function agentsCommand(program: Command): Command {
  // message-commands.ts may have made it already: one `agents` command, both sets of subcommands.
  return program.commands.find((c) => c.name() === 'agents') ?? program.command('agents').description('deploy, inspect and message agents');
}

export function registerAgentCommands(program: Command): void {
  const agents = agentsCommand(program);

  withConnectionOptions(agents.command('deploy').description('place a new agent (or replicas) on the containers that can run it'))
    .argument('<type>', 'agent type, e.g. echo or llm', parseName('agent type'))
    .option('--name <name>', 'agent name (default: generated); replicas are <name>-1 … <name>-n', parseName('agent name'))
    .option('--config <json>', "the agent's config, a JSON object", parseConfig)
    .option('--strategy <strategy>', `placement strategy: ${STRATEGIES.join(', ')} (default: least_loaded)`, parseStrategy)
    .option('--label <expr>', 'label constraint, e.g. "zone == a", "zone != b", "gpu", "!gpu" (repeatable)', collect)
    .option('--capability <name>', 'capability the container must have (repeatable)', collect)
    .option('--min-resource <key=amount>', 'resource the container must declare, e.g. gpus=1 (repeatable)', collectAmount)
    .option('--require <key=amount>', 'resource the agent consumes, e.g. memory_mb=512 (repeatable)', collectAmount)
    .option('--prefer <container>', 'place it on this container, or fail', parseContainerId)
    .option('--replicas <n>', `how many, 1 to ${MAX_REPLICAS}`, parseWhole(1, MAX_REPLICAS))
    .action((type: string, flags: DeployFlags) =>
      execute(flags, {}, async (client) => {
        const answer = await client.deployAgents(deployBody(type, flags));
        return { json: answer, human: () => renderDeployed(answer) };
      }),
    );

  withConnectionOptions(agents.command('ls').description('list agents, where they run and how busy they are'))
    .option('--container <id>', 'only the agents on this container', parseContainerId)
    .option('--limit <n>', `at most this many, 1 to ${MAX_AGENTS_LISTED} (default: the manager's, 1000)`, parseWhole(1, MAX_AGENTS_LISTED))
    .action((flags: ConnectionFlags & { container?: string; limit?: number }) =>
      execute(flags, {}, async (client) => {
        const answer = await client.listAgents({
          ...(flags.container === undefined ? {} : { containerId: flags.container }),
          ...(flags.limit === undefined ? {} : { limit: flags.limit }),
        });
        return { json: answer, human: () => renderAgentList(answer.agents, answer.total, Date.now()) };
      }),
    );

  withConnectionOptions(agents.command('get').description("show one agent's placement, progress and config"))
    .argument('<agent>', 'agent as type/name', parseAgentId)
    .action((id: string, flags: ConnectionFlags) =>
      execute(flags, notFound(id), async (client) => {
        const agent = await client.getAgent(id);
        return { json: agent, human: () => renderAgent(agent, Date.now()) };
      }),
    );

  withConnectionOptions(agents.command('rm').description('delete an agent: its container stops it; its mailbox and state are removed'))
    .argument('<agent>', 'agent as type/name', parseAgentId)
    .action((id: string, flags: ConnectionFlags) =>
      execute(flags, notFound(id), async (client) => {
        const answer = await client.deleteAgent(id);
        return { json: answer, human: () => `agent ${id} deleted${answer.container_id === null ? '' : ` (was on ${answer.container_id})`}` };
      }),
    );

  withConnectionOptions(agents.command('migrate').description('move an agent to another container; it keeps its mailbox and state'))
    .argument('<agent>', 'agent as type/name', parseAgentId)
    .option('--to <container>', "target container (default: where the agent's own strategy places it)", parseContainerId)
    .action((id: string, flags: ConnectionFlags & { to?: string }) =>
      // No notFound override: a 404 may name the agent or the target container; the manager says which.
      execute(flags, {}, async (client) => {
        const answer = await client.migrateAgent(id, flags.to === undefined ? {} : { target_container_id: flags.to });
        return { json: answer, human: () => `agent ${id} moved from ${answer.from_container_id} to ${answer.container_id} (${answer.reason})` };
      }),
    );
}
