/** The human form of the agents API's answers. `--json` prints the API's JSON instead. */
import type { AgentDetail, AgentView, DeployResponse } from '../protocol/agents-api.js';
import { formatAgo } from './ago.js';
import { formatKeyValues, formatTable, type Column } from './table.js';

const NONE = '-';

const DEPLOYED_COLUMNS: readonly Column[] = [{ header: 'AGENT' }, { header: 'CONTAINER' }, { header: 'HOST' }, { header: 'STATE' }, { header: 'REASON' }];

export function renderDeployed(answer: DeployResponse): string {
  return formatTable(
    DEPLOYED_COLUMNS,
    answer.agents.map((a) => [a.agent_id, a.container_id, a.host_address, a.state, a.reason]),
  );
}

const AGENT_COLUMNS: readonly Column[] = [
  { header: 'AGENT' },
  { header: 'STATE' },
  { header: 'CONTAINER' },
  { header: 'HOST' },
  { header: 'TURNS', align: 'right' },
  { header: 'MAILBOX', align: 'right' },
  { header: 'CREATED' },
];

export function renderAgentList(agents: readonly AgentView[], total: number, nowMs: number): string {
  if (agents.length === 0) return 'no agents';
  const table = formatTable(
    AGENT_COLUMNS,
    agents.map((a) => [
      a.agent_id,
      a.placement_error === undefined ? a.state : `${a.state} (cannot place)`,
      a.container_id ?? NONE,
      a.host_address ?? NONE,
      String(a.turns),
      String(a.mailbox_depth),
      formatAgo(a.created_at, nowMs),
    ]),
  );
  return total > agents.length ? `${table}\n(${agents.length} of ${total} shown; --limit shows more)` : table;
}

function list(items: readonly string[] | undefined): string {
  return items === undefined || items.length === 0 ? NONE : items.join(', ');
}

function amounts(record: Readonly<Record<string, number>> | undefined): string {
  const entries = Object.entries(record ?? {});
  return entries.length === 0 ? NONE : entries.map(([k, v]) => `${k}=${v}`).join(', ');
}

export function renderAgent(a: AgentDetail, nowMs: number): string {
  return formatKeyValues([
    ['Agent', a.agent_id],
    ['State', a.state],
    ['Container', a.container_id === null ? NONE : `${a.container_id} (${a.host_address ?? 'unknown host'}, epoch ${a.epoch})`],
    ...(a.error === undefined ? [] : [['Error', a.error] as const]),
    ...(a.placement_error === undefined ? [] : [['Cannot place', a.placement_error] as const]),
    ['Turns', String(a.turns)],
    ['Last handled', a.last_handled],
    ['Mailbox', `${a.mailbox_depth} unhandled`],
    ['Created', `${a.created_at} (${formatAgo(a.created_at, nowMs)})`],
    ['Updated', `${a.updated_at} (${formatAgo(a.updated_at, nowMs)})`],
    ['Strategy', a.deployment_strategy],
    ['Labels', list(a.constraints.labels)],
    ['Capabilities', list(a.constraints.capabilities)],
    ['Min resources', amounts(a.constraints.min_resources)],
    ['Requires', amounts(a.resource_requirements)],
    ['Preferred', a.preferred_container ?? NONE],
    ['Config', JSON.stringify(a.agent_config)],
  ]);
}
