/** `90s`, `15m`, `24h`, `30d` (or plain seconds) → milliseconds; the CLI's and the env's TTLs. */
import { ConfigError, envString, type Env } from '../common/env.js';

export class InvalidDurationError extends Error {
  override readonly name = 'InvalidDurationError';
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(raw: string): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(raw.trim());
  if (m === null) throw new InvalidDurationError(`${JSON.stringify(raw)} is not a duration: use e.g. 90s, 15m, 24h or 30d`);
  const ms = Number(m[1]) * UNIT_MS[m[2] === '' || m[2] === undefined ? 's' : m[2]]!;
  if (ms <= 0) throw new InvalidDurationError(`${JSON.stringify(raw)} must be longer than zero`);
  return ms;
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1_000)}s`;
}

/** A duration from the environment (`fallbackMs` when unset); a bad or too short one is a ConfigError naming the variable. */
export function envDuration(env: Env, name: string, fallbackMs: number, minMs = 0): number {
  const raw = envString(env, name);
  if (raw === undefined) return fallbackMs;
  let ms: number;
  try {
    ms = parseDuration(raw);
  } catch (err) {
    if (err instanceof InvalidDurationError) throw new ConfigError(`${name}: ${err.message}`, { cause: err });
    throw err;
  }
  if (ms < minMs) throw new ConfigError(`${name}=${raw} is too short: at least ${minMs / 1_000}s`);
  return ms;
}
