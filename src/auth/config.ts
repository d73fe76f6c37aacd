/** Authentication settings from the environment (FLOTILLA_AUTH, FLOTILLA_KEY_DIR, ...). */
import { ConfigError, envBool, envString, type Env } from '../common/env.js';
import { DEFAULT_CONTAINER_TOKEN_TTL_MS } from './authenticator.js';
import { envDuration } from './duration.js';
import { DEFAULT_KEY_DIR, KEY_DIR_ENV } from './key-dir.js';

export const AUTH_ENV = 'FLOTILLA_AUTH';
export type AuthMode = 'on' | 'off';

export interface AuthSettings {
  /** On unless FLOTILLA_AUTH=off is set explicitly. */
  mode: AuthMode;
  keyDir: string;
  containerTokenTtlMs: number;
  /** Serve /metrics without a token (FLOTILLA_METRICS_PUBLIC=true); else it needs `read`. */
  metricsPublic: boolean;
}

export function authSettingsFromEnv(env: Env = process.env): AuthSettings {
  const raw = envString(env, AUTH_ENV)?.toLowerCase();
  if (raw !== undefined && raw !== 'on' && raw !== 'off') throw new ConfigError(`${AUTH_ENV}=${JSON.stringify(raw)} must be on or off`);
  return {
    mode: raw === 'off' ? 'off' : 'on',
    keyDir: envString(env, KEY_DIR_ENV) ?? DEFAULT_KEY_DIR,
    containerTokenTtlMs: envDuration(env, 'FLOTILLA_CONTAINER_TOKEN_TTL', DEFAULT_CONTAINER_TOKEN_TTL_MS),
    metricsPublic: envBool(env, 'FLOTILLA_METRICS_PUBLIC', false),
  };
}

/** The warning `flotilla manager` and `flotilla dev` log when authentication is off. */
export const AUTH_OFF_WARNING =
  'FLOTILLA_AUTH=off: AUTHENTICATION IS OFF. Anyone who can reach this port can deploy agents, read every message and register containers. Use this only on a trusted network or for tests.';
