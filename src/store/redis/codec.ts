/**
 * How records are laid out in Redis: a container is a hash of flat fields, with the arrays and
 * objects (capabilities, labels, resources, metadata, agent types) as JSON; events are stream
 * entries with `data` as JSON. Decoding checks what it reads, so a corrupt entry fails loudly. The
 * field readers at the bottom are shared with the messaging codec (messaging/codec.ts).
 */
import {
  AVAILABILITIES,
  CONTAINER_STATES,
  type Availability,
  type ContainerRecord,
  type ContainerRegistration,
  type ContainerState,
} from '../../protocol/container.js';
import type { ClusterEvent, ClusterEventType } from '../../protocol/events.js';
import { StoreError, type ManagerInfo, type ManagerPresence } from '../store.js';

export type Hash = Record<string, string>;

/** A flat Redis reply of field, value, field, value… as an object. */
export function pairsToHash(reply: unknown): Hash {
  if (!Array.isArray(reply)) throw new StoreError('unexpected reply from Redis: expected field/value pairs');
  const hash: Hash = {};
  for (let i = 0; i + 1 < reply.length; i += 2) hash[String(reply[i])] = String(reply[i + 1]);
  return hash;
}

/** The fields a registration writes; the script adds state, availability, epoch and times. */
export function registrationFields(reg: ContainerRegistration): string[] {
  return [
    'id', reg.name,
    'name', reg.name,
    'hostAddress', reg.hostAddress,
    'apiPort', String(reg.apiPort),
    'capabilities', JSON.stringify(reg.capabilities),
    'labels', JSON.stringify(reg.labels),
    'resources', JSON.stringify(reg.resources),
    'metadata', JSON.stringify(reg.metadata),
    'agentTypes', JSON.stringify(reg.agentTypes),
    'leaseTimeoutMs', String(reg.leaseTimeoutMs),
    'leaseIntervalMs', String(reg.leaseIntervalMs),
  ]; // prettier-ignore
}

/** A container hash as a record; null for an empty hash (no such container). */
export function decodeContainer(hash: Hash): ContainerRecord | null {
  if (Object.keys(hash).length === 0) return null;
  const where = `container ${hash.id ?? '?'}`;
  return {
    id: text(hash, 'id', where),
    name: text(hash, 'name', where),
    hostAddress: text(hash, 'hostAddress', where),
    apiPort: integer(hash, 'apiPort', where),
    capabilities: json(hash, 'capabilities', where),
    labels: json(hash, 'labels', where),
    resources: json(hash, 'resources', where),
    metadata: json(hash, 'metadata', where),
    agentTypes: json(hash, 'agentTypes', where),
    state: oneOf<ContainerState>(hash, 'state', CONTAINER_STATES, where),
    availability: oneOf<Availability>(hash, 'availability', AVAILABILITIES, where),
    epoch: integer(hash, 'epoch', where),
    leaseTimeoutMs: integer(hash, 'leaseTimeoutMs', where),
    leaseIntervalMs: integer(hash, 'leaseIntervalMs', where),
    registeredAtMs: integer(hash, 'registeredAtMs', where),
    lastRenewalMs: integer(hash, 'lastRenewalMs', where),
    downAtMs: hash.downAtMs === undefined ? null : integer(hash, 'downAtMs', where),
  };
}

export function managerFields(info: ManagerInfo): string[] {
  return ['id', info.id, 'address', info.address, 'version', info.version, 'startedAtMs', String(info.startedAtMs)];
}

/** A manager presence hash; null for an empty one (it expired between two reads). */
export function decodeManager(hash: Hash): ManagerPresence | null {
  if (Object.keys(hash).length === 0) return null;
  const where = `manager ${hash.id ?? '?'}`;
  return {
    id: text(hash, 'id', where),
    address: text(hash, 'address', where),
    version: text(hash, 'version', where),
    startedAtMs: number(hash, 'startedAtMs', where),
    lastSeenMs: integer(hash, 'lastSeenMs', where),
  };
}

/** Script arguments for an event's optional fields: '' stands for "absent". */
export function eventArgs(fields: Omit<ClusterEvent, 'id' | 'type' | 'atMs'>): string[] {
  return [
    fields.containerId ?? '',
    fields.epoch === undefined ? '' : String(fields.epoch),
    fields.managerId ?? '',
    JSON.stringify(fields.data ?? {}),
  ];
}

/** One XRANGE entry, `[id, [field, value, …]]`, as an event. */
export function decodeEvent(entry: unknown): ClusterEvent {
  if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw new StoreError('unexpected stream entry from Redis');
  const id = entry[0];
  const hash = pairsToHash(entry[1]);
  const where = `event ${id}`;
  const event: ClusterEvent = {
    id,
    type: text(hash, 'type', where) as ClusterEventType,
    atMs: integer(hash, 'atMs', where),
    data: json(hash, 'data', where),
  };
  if (hash.containerId !== undefined) event.containerId = hash.containerId;
  if (hash.epoch !== undefined) event.epoch = integer(hash, 'epoch', where);
  if (hash.managerId !== undefined) event.managerId = hash.managerId;
  return event;
}

export function corrupt(where: string, field: string): StoreError {
  return new StoreError(`corrupt ${where} in Redis: field ${field} is missing or malformed`);
}

export function text(hash: Hash, field: string, where: string): string {
  const value = hash[field];
  if (value === undefined) throw corrupt(where, field);
  return value;
}

export function number(hash: Hash, field: string, where: string): number {
  const value = Number(text(hash, field, where));
  if (!Number.isFinite(value)) throw corrupt(where, field);
  return value;
}

export function integer(hash: Hash, field: string, where: string): number {
  const value = number(hash, field, where);
  if (!Number.isSafeInteger(value)) throw corrupt(where, field);
  return value;
}

export function json<T>(hash: Hash, field: string, where: string): T {
  const raw = text(hash, field, where);
  try {
    return JSON.parse(raw) as T;
  } catch (err) {
    throw new StoreError(`corrupt ${where} in Redis: field ${field} is not JSON`, { cause: err });
  }
}

export function oneOf<T extends string>(hash: Hash, field: string, allowed: readonly T[], where: string): T {
  const value = text(hash, field, where);
  if (!(allowed as readonly string[]).includes(value)) throw corrupt(where, field);
  return value as T;
}
