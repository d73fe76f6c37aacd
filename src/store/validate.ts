/**
 * Argument checks shared by both stores, so that a bad argument fails the same way whichever
 * store is behind the interface (and never reaches a Redis key half-formed).
 */
import { AVAILABILITIES, type Availability, type ContainerRegistration } from '../protocol/container.js';
import type { ClusterEvent } from '../protocol/events.js';
import { assertSafeName } from '../protocol/names.js';
import { StoreError } from './store.js';
import type { EventQuery, Fence, ManagerInfo } from './store.js';

/** Resources guarded by fences (e.g. `agent:reviewer/alice`): no braces, so a key's hash tag stays intact. */
export const RESOURCE_MAX_LENGTH = 256;
const RESOURCE_RE = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,${RESOURCE_MAX_LENGTH - 1}}$`);
/** A Redis stream id, the only form event ids take. */
const EVENT_ID_RE = /^\d+-\d+$/;

export function assertPositiveInteger(what: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new StoreError(`${what} must be a positive integer (got ${String(value)})`);
  }
  return value;
}

/** A duration that may be zero. */
export function assertNonNegativeInteger(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new StoreError(`${what} must be a whole number ≥ 0, got ${String(value)}`);
  return value;
}

export function assertRegistration(reg: ContainerRegistration): void {
  assertSafeName('container name', reg.name);
  if (typeof reg.hostAddress !== 'string' || reg.hostAddress.length === 0) {
    throw new StoreError('container hostAddress must be a non-empty string');
  }
  if (!Number.isInteger(reg.apiPort) || reg.apiPort < 0 || reg.apiPort > 65_535) {
    throw new StoreError(`container apiPort must be an integer in 0-65535 (got ${String(reg.apiPort)})`);
  }
  assertPositiveInteger('leaseTimeoutMs', reg.leaseTimeoutMs);
  assertPositiveInteger('leaseIntervalMs', reg.leaseIntervalMs);
  for (const field of ['capabilities', 'agentTypes'] as const) {
    if (!Array.isArray(reg[field]) || !reg[field].every((v) => typeof v === 'string')) {
      throw new StoreError(`container ${field} must be a list of strings`);
    }
  }
  for (const field of ['labels', 'resources', 'metadata'] as const) {
    if (typeof reg[field] !== 'object' || reg[field] === null || Array.isArray(reg[field])) {
      throw new StoreError(`container ${field} must be an object`);
    }
  }
}

export function assertResource(resource: string): string {
  if (!RESOURCE_RE.test(resource)) {
    throw new StoreError(
      `resource ${JSON.stringify(resource.slice(0, RESOURCE_MAX_LENGTH + 8))} is not valid: use 1-${RESOURCE_MAX_LENGTH} ` +
        'letters, digits, ".", "_", ":", "/" or "-", starting with a letter or digit',
    );
  }
  return resource;
}

export function assertFence(fence: Fence): void {
  assertSafeName('fence owner', fence.owner);
  assertPositiveInteger('fence epoch', fence.epoch);
}

export function assertManagerInfo(info: ManagerInfo): void {
  assertSafeName('manager id', info.id);
  if (!Number.isFinite(info.startedAtMs)) throw new StoreError('manager startedAtMs must be a number');
}

export function assertEventQuery(query: EventQuery): void {
  if (query.afterId !== undefined && !EVENT_ID_RE.test(query.afterId)) {
    throw new StoreError(`event id ${JSON.stringify(query.afterId.slice(0, 64))} is not valid: expected <ms>-<seq>`);
  }
  if (query.limit !== undefined && (!Number.isSafeInteger(query.limit) || query.limit < 0)) {
    throw new StoreError(`event limit must be a non-negative integer (got ${String(query.limit)})`);
  }
}

export function assertAvailability(availability: Availability): void {
  if (!AVAILABILITIES.includes(availability)) {
    throw new StoreError(`availability must be one of ${AVAILABILITIES.join(', ')} (got ${JSON.stringify(availability)})`);
  }
}

export function assertEventFields(fields: Omit<ClusterEvent, 'id' | 'type' | 'atMs'>): void {
  if (fields.epoch !== undefined) assertPositiveInteger('event epoch', fields.epoch);
}
