/**
 * Checks for agent config, read from the deployment's `agent_config` (untyped JSON). Every error
 * names the agent type and the field and says what was expected, because the person reading it
 * is the one who wrote the deploy command.
 */
import { isAgentId } from '../protocol/names.js';
import { describeValue } from './text.js';

export class AgentConfigError extends Error {
  override readonly name = 'AgentConfigError';
}

export type RawConfig = Readonly<Record<string, unknown>>;

/** Reads fields of one agent type's config, with errors prefixed by `what` (e.g. `llm agent config`). */
export class ConfigReader {
  constructor(
    private readonly what: string,
    private readonly config: RawConfig | null | undefined,
  ) {
    if (config !== undefined && config !== null && (typeof config !== 'object' || Array.isArray(config))) {
      throw new AgentConfigError(`${what}: must be an object, got ${describeValue(config)}`);
    }
  }

  fail(field: string, expected: string): never {
    throw new AgentConfigError(`${this.what}: "${field}" must be ${expected}, got ${describeValue(this.raw(field))}`);
  }

  raw(field: string): unknown {
    return this.config?.[field];
  }

  has(field: string): boolean {
    const v = this.raw(field);
    return v !== undefined && v !== null;
  }

  requiredString(field: string, example: string): string {
    const v = this.raw(field);
    if (v === undefined || v === null) throw new AgentConfigError(`${this.what}: "${field}" is required (${example})`);
    if (typeof v !== 'string' || v.trim() === '') this.fail(field, `a non-empty string (${example})`);
    return v;
  }

  optionalString(field: string): string | undefined {
    if (!this.has(field)) return undefined;
    const v = this.raw(field);
    if (typeof v !== 'string') this.fail(field, 'a string');
    return v;
  }

  number(field: string, fallback: number, range: { min: number; max: number; integer?: boolean }): number {
    if (!this.has(field)) return fallback;
    return this.requiredNumber(field, range);
  }

  optionalNumber(field: string, range: { min: number; max: number; integer?: boolean }): number | undefined {
    return this.has(field) ? this.requiredNumber(field, range) : undefined;
  }

  private requiredNumber(field: string, { min, max, integer = false }: { min: number; max: number; integer?: boolean }): number {
    const v = this.raw(field);
    const ok = typeof v === 'number' && Number.isFinite(v) && (!integer || Number.isInteger(v)) && v >= min && v <= max;
    if (!ok) this.fail(field, `${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`);
    return v;
  }

  /** An http(s) URL; without a trailing slash so paths can be appended. */
  url(field: string, fallback?: string): string {
    const v = fallback !== undefined && !this.has(field) ? fallback : this.requiredString(field, 'an http:// or https:// URL');
    let parsed: URL;
    try {
      parsed = new URL(v);
    } catch {
      this.fail(field, 'an http:// or https:// URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') this.fail(field, 'an http:// or https:// URL');
    return v.replace(/\/+$/, '');
  }

  oneOf<T extends string>(field: string, allowed: readonly T[], fallback: T): T {
    if (!this.has(field)) return fallback;
    const v = this.raw(field);
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(field, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    return v as T;
  }

  /** An agent id (`type/name`), as `send` takes it. */
  agentId(field: string, value: unknown = this.raw(field)): string {
    if (typeof value !== 'string' || !isAgentId(value)) {
      throw new AgentConfigError(`${this.what}: "${field}" must be an agent id (type/name, e.g. llm/alice), got ${describeValue(value)}`);
    }
    return value;
  }
}

/** The name of an environment variable (so a typo like `api_key_env: "sk-..."` is caught, not sent). */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses a config once per config object. The runtime hands the same frozen config to every turn
 * of an agent, so checking costs nothing after the first message; a bad config fails every
 * message with the same clear error until the agent is redeployed.
 */
export function parsedOnce<T>(parse: (config: RawConfig | null | undefined) => T): (config: RawConfig | null | undefined) => T {
  const cache = new WeakMap<object, T>();
  return (config) => {
    if (typeof config !== 'object' || config === null) return parse(config);
    const hit = cache.get(config);
    if (hit !== undefined) return hit;
    const settings = parse(config);
    cache.set(config, settings);
    return settings;
  };
}
