/**
 * Reads a caller's record by container id, agent id or label key. Ids are user-chosen names and
 * `constructor` or `toString` are valid ones, so a plain `record[id]` could return a prototype
 * member. No prototype member of an object is a number or a string, so for those a type check is
 * the guard; only object values need the slower own-property check. These run for every
 * container on every placement.
 */
export function ownValue<T extends object>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  if (record === undefined) return undefined;
  const value = record[key];
  return value !== undefined && Object.hasOwn(record, key) ? value : undefined;
}

export function ownString<S extends string>(record: Readonly<Record<string, S>> | undefined, key: string): S | undefined {
  const value = record?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** A finite number, or undefined. */
export function ownNumber(record: Readonly<Record<string, number | undefined>> | undefined, key: string): number | undefined {
  const value = record?.[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A count from a caller's load record: absent, negative or not a number counts as zero. */
export function ownCount(record: Readonly<Record<string, number>> | undefined, key: string): number {
  const value = ownNumber(record, key);
  return value !== undefined && value > 0 ? value : 0;
}

/**
 * A record keyed by ids, without a prototype: writing an id such as `__proto__` into it stores a
 * value instead of changing the object's prototype.
 */
export function idRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}
