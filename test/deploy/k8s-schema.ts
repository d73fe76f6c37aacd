/**
 * Offline validation of Kubernetes objects against the official OpenAPI schemas, as compiled by
 * kubernetes-models (one validator per apiVersion/kind). Those validators check types, formats,
 * enums and required fields, but like the API's schema they let unknown fields through, where
 * `kubectl apply` (strict field validation) refuses them. So the object is handed to the
 * validator behind a Proxy that records every field the validator reads: a field it never read is
 * not in the schema, and is reported as unknown (a `replica:` for `replicas:` is caught).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export class SchemaValidationError extends Error {
  override readonly name = 'SchemaValidationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

interface ModelClass {
  prototype: { validate(this: unknown): void };
}

/** `apps/v1` + `Deployment` → the model's module path in kubernetes-models. */
function modelPath(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

function loadModel(apiVersion: string, kind: string): ModelClass {
  let mod: Record<string, unknown>;
  try {
    mod = require(modelPath(apiVersion, kind)) as Record<string, unknown>;
  } catch (cause) {
    throw new SchemaValidationError(`${apiVersion} ${kind} is not a Kubernetes kind (no schema)`, { cause });
  }
  const model = mod[kind] as ModelClass | undefined;
  if (model === undefined) throw new SchemaValidationError(`${apiVersion} ${kind}: no model exported`);
  return model;
}

/** Wraps `value` so that every property read is recorded under its JSON path. */
function tracked(value: unknown, path: string, read: Set<string>, all: Map<string, string[]>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (!Array.isArray(value)) all.set(path, Object.keys(value));
  return new Proxy(value, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string') return v;
      read.add(`${path}/${prop}`);
      return tracked(v, `${path}/${prop}`, read, all);
    },
    has(target, prop) {
      if (typeof prop === 'string') read.add(`${path}/${prop}`);
      return Reflect.has(target, prop);
    },
  });
}

/** Throws a SchemaValidationError listing every schema error and every unknown field. */
export function validateK8sObject(obj: Record<string, unknown>, source: string): void {
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') throw new SchemaValidationError(`${source}: apiVersion and kind are required`);
  const model = loadModel(apiVersion, kind);
  const read = new Set<string>();
  const all = new Map<string, string[]>();
  const problems: string[] = [];
  try {
    model.prototype.validate.call(tracked(obj, '', read, all));
  } catch (err) {
    problems.push((err as Error).message);
  }
  for (const [path, keys] of all) {
    for (const key of keys) if (!read.has(`${path}/${key}`)) problems.push(`${path}/${key} is not a field of ${kind}`);
  }
  if (problems.length > 0) throw new SchemaValidationError(`${source} (${kind} ${String((obj.metadata as { name?: string } | undefined)?.name)}): ${problems.join('; ')}`);
}
