/**
 * `flotilla events -f`: follows the manager's event stream (Server-Sent Events), printing a row
 * per event (or one JSON line with --json) as it happens. Ctrl-C (or SIGTERM) ends it with exit 0;
 * a dropped connection is resumed after the last event printed, with backoff.
 */
import { InvalidArgumentError } from 'commander';
import { followEvents } from '../client/event-stream.js';
import type { ApiClientOptions } from '../client/api-client.js';
import type { EventView } from '../protocol/api.js';
import { formatFixedRow } from './table.js';

const NONE = '-';
/** Fixed widths, so rows printed one at a time line up (an ISO timestamp is 24 characters). */
const FOLLOW_COLUMNS = [
  { header: 'TIME', width: 24 },
  { header: 'TYPE', width: 20 },
  { header: 'CONTAINER', width: 20 },
  { header: 'EPOCH', width: 5, align: 'right' },
  { header: 'DETAILS', width: 0 },
] as const;

export function parseEventTypes(raw: string, previous: string[] = []): string[] {
  const types = raw.split(',').map((t) => t.trim());
  for (const t of types) if (!/^[a-z_]{1,64}$/.test(t)) throw new InvalidArgumentError(`expected an event type such as container_down, got ${JSON.stringify(t)}`);
  return [...previous, ...types];
}

export function eventHeader(): string {
  return formatFixedRow(FOLLOW_COLUMNS, FOLLOW_COLUMNS.map((c) => c.header));
}

export function eventRow(e: EventView): string {
  const details = Object.entries({ ...(e.manager_id === undefined ? {} : { manager: e.manager_id }), ...e.data });
  return formatFixedRow(FOLLOW_COLUMNS, [
    e.timestamp,
    e.type,
    e.container_id ?? NONE,
    e.epoch === undefined ? NONE : String(e.epoch),
    details.length === 0 ? NONE : details.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', '),
  ]);
}

export interface FollowFlags {
  json?: boolean;
  type?: string[];
}

/** Runs until Ctrl-C, SIGTERM or the manager's "no more" (204); throws what describeFailure knows. */
export async function followEventsCommand(connection: ApiClientOptions & { token?: string | undefined }, flags: FollowFlags): Promise<void> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const types = flags.type === undefined ? undefined : new Set(flags.type);
  let headerShown = flags.json === true;
  try {
    await followEvents({
      baseUrl: connection.baseUrl,
      ...(connection.token === undefined ? {} : { token: connection.token }),
      ...(connection.dispatcher === undefined || typeof connection.dispatcher === 'function' ? {} : { dispatcher: connection.dispatcher }),
      signal: controller.signal,
      onConnect: () => {
        if (!headerShown) console.log(eventHeader());
        headerShown = true;
      },
      onEvent: (e) => {
        if (types !== undefined && !types.has(e.type)) return;
        console.log(flags.json === true ? JSON.stringify(e) : eventRow(e));
      },
      onReconnect: (delayMs, reason) => console.error(`event stream interrupted (${reason}); reconnecting in ${(delayMs / 1_000).toFixed(1)}s`),
    });
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}
