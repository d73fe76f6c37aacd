/**
 * The human form of the manager's answers: tables and detail blocks built from the wire types.
 * `--json` bypasses all of this and prints the API's JSON as it came.
 */
import type { ClusterStatus, ContainerView, EventView } from '../protocol/api.js';
import { formatAgo } from './ago.js';
import { formatKeyValues, formatTable, type Column } from './table.js';

/** Shown for an empty list or a missing value, so a column never looks shifted. */
const NONE = '-';

function list(items: readonly string[]): string {
  return items.length === 0 ? NONE : items.join(',');
}

function pairs(record: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(record);
  if (entries.length === 0) return NONE;
  return entries.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
}

const CONTAINER_COLUMNS: readonly Column[] = [
  { header: 'ID' },
  { header: 'HOST' },
  { header: 'PORT', align: 'right' },
  { header: 'STATE' },
  { header: 'AVAILABILITY' },
  { header: 'EPOCH', align: 'right' },
  { header: 'LAST HEARTBEAT' },
];

/**
 * One row per container. `agentCounts` (from the cluster status) adds an AGENTS column; the
 * container list alone does not say how many agents each one runs.
 */
export function renderContainerTable(
  containers: readonly ContainerView[],
  nowMs: number,
  agentCounts?: Readonly<Record<string, number>>,
): string {
  const columns = [
    ...CONTAINER_COLUMNS,
    ...(agentCounts === undefined ? [] : [{ header: 'AGENTS', align: 'right' } as const]),
    { header: 'AGENT TYPES' },
  ];
  const rows = containers.map((c) => [
    c.container_id,
    c.host_address,
    String(c.api_port),
    c.state,
    c.availability,
    String(c.epoch),
    formatAgo(c.last_heartbeat, nowMs),
    ...(agentCounts === undefined ? [] : [String(agentCounts[c.container_id] ?? 0)]),
    list(c.agent_types),
  ]);
  return formatTable(columns, rows);
}

export function renderContainerList(containers: readonly ContainerView[], includeInactive: boolean, nowMs: number): string {
  if (containers.length > 0) return renderContainerTable(containers, nowMs);
  return includeInactive ? 'no containers' : 'no active containers (--all includes down ones)';
}

function timeAndAgo(iso: string, nowMs: number): string {
  return `${iso} (${formatAgo(iso, nowMs)})`;
}

export function renderContainer(c: ContainerView, nowMs: number): string {
  return formatKeyValues([
    ['ID', c.container_id],
    ['Endpoint', c.endpoint],
    ['State', c.state],
    ['Availability', c.availability],
    ['Epoch', String(c.epoch)],
    ['Registered', timeAndAgo(c.registered_at, nowMs)],
    ['Last heartbeat', timeAndAgo(c.last_heartbeat, nowMs)],
    ['Down since', c.down_at === null ? NONE : timeAndAgo(c.down_at, nowMs)],
    ['Lease', `renewed every ${c.lease_interval_ms} ms, expires after ${c.lease_timeout_ms} ms`],
    ['Capabilities', list(c.capabilities)],
    ['Labels', pairs(c.labels)],
    ['Resources', pairs(c.resources)],
    ['Agent types', list(c.agent_types)],
    ['Metadata', pairs(c.metadata)],
  ]);
}

const MANAGER_COLUMNS: readonly Column[] = [{ header: 'MANAGER' }, { header: 'ADDRESS' }, { header: 'ROLE' }, { header: 'LAST SEEN' }];

/** The summary block, the managers, then every container (down ones included). */
export function renderStatus(status: ClusterStatus, containers: readonly ContainerView[], nowMs: number): string {
  const { cluster, deployments, leader } = status;
  const { capacity } = cluster;
  const summary = formatKeyValues([
    ['Status', status.status],
    ['Version', `${status.version} (store: ${status.store})`],
    [
      'Containers',
      `${cluster.total_containers} total, ${cluster.active_containers} active, ${cluster.down_containers} down, ` +
        `${cluster.cordoned_containers} cordoned, ${cluster.draining_containers} draining`,
    ],
    [
      'Capacity',
      `${capacity.max_agents} agents, ${capacity.cpu_cores} CPU cores, ${capacity.memory_mb} MB memory, ${capacity.gpus} GPUs`,
    ],
    ['Agents', `${deployments.total_agents} deployed`],
    ['Leader', leader.manager_id === null ? `none elected (term ${leader.term})` : `${leader.manager_id} (term ${leader.term})`],
  ]);
  const managers =
    status.managers.length === 0
      ? 'no managers registered'
      : formatTable(
          MANAGER_COLUMNS,
          status.managers.map((m) => [m.manager_id, m.address, m.leader ? 'leader' : 'follower', formatAgo(m.last_seen, nowMs)]),
        );
  const table = containers.length === 0 ? 'no containers' : renderContainerTable(containers, nowMs, deployments.agents_per_container);
  return [summary, managers, table].join('\n\n');
}

const EVENT_COLUMNS: readonly Column[] = [
  { header: 'TIME' },
  { header: 'TYPE' },
  { header: 'CONTAINER' },
  { header: 'EPOCH', align: 'right' },
  { header: 'DETAILS' },
];

export function renderEvents(events: readonly EventView[]): string {
  if (events.length === 0) return 'no events';
  return formatTable(
    EVENT_COLUMNS,
    events.map((e) => [
      e.timestamp,
      e.type,
      e.container_id ?? NONE,
      e.epoch === undefined ? NONE : String(e.epoch),
      pairs({ ...(e.manager_id === undefined ? {} : { manager: e.manager_id }), ...e.data }),
    ]),
  );
}
