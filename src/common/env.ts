/**
 * Reading configuration from the environment, with errors that name the variable and say what
 * was expected. Every role reads its settings through these so the messages are alike.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export type Env = Record<string, string | undefined>;

export function envString(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

export function envInt(env: Env, name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a whole number`);
  const value = Number(raw);
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
  if (value < min || value > max) throw new ConfigError(`${name}=${value} is out of range (${min}..${max})`);
  return value;
}

export function envPort(env: Env, name: string, fallback: number): number {
  return envInt(env, name, fallback, { min: 0, max: 65_535 });
}

export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = envString(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a boolean (use true or false)`);
}

/** `a,b, c` → ['a','b','c'] */
export function envList(env: Env, name: string): string[] {
  return (envString(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** `zone=a,node.role=worker` → { zone: 'a', 'node.role': 'worker' } */
export function envMap(env: Env, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of envList(env, name)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${name}: ${JSON.stringify(pair)} is not key=value`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

/** An http(s) base URL without a trailing slash. */
export function envUrl(env: Env, name: string): string | undefined {
  const raw = envString(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a URL (expected e.g. http://10.0.0.5:8000)`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} must start with http:// or https://`);
  }
  return raw.replace(/\/+$/, '');
}

export function envEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = envString(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is not one of ${allowed.join(', ')}`);
}
