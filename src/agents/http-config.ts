/** The `http` agent's config (`agent_config` at deploy), checked once on first use. */
import { DEFAULT_SEND_TIMEOUT_MS } from '../protocol/runtime.js';
import { AgentConfigError, ConfigReader, ENV_NAME_RE, parsedOnce } from './config-check.js';
import { describeValue } from './text.js';

/**
 * Below the default `send` timeout (30 s) on purpose: a slow endpoint then fails the turn with
 * this agent's clear "no response within …" error, rather than the sender's bare timeout.
 */
export const DEFAULT_HTTP_TIMEOUT_MS = DEFAULT_SEND_TIMEOUT_MS - 5_000;
export const MAX_HTTP_TIMEOUT_MS = 60 * 60_000;

/** An RFC 9110 header name. */
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A header value from config: literal, or read from an environment variable at each call. */
export type HeaderValue = { literal: string } | { env: string };

export interface HttpSettings {
  url: string;
  headers: Record<string, HeaderValue>;
  timeoutMs: number;
}

export const parseHttpConfig = parsedOnce((config): HttpSettings => {
  const c: ConfigReader = new ConfigReader('http agent config', config);
  return {
    url: c.url('url'),
    headers: parseHeaders(c.raw('headers')),
    timeoutMs: c.number('timeout_ms', DEFAULT_HTTP_TIMEOUT_MS, { min: 1, max: MAX_HTTP_TIMEOUT_MS, integer: true }),
  };
});

function parseHeaders(raw: unknown): Record<string, HeaderValue> {
  if (raw === undefined || raw === null) return {};
  const fail = (why: string): never => {
    throw new AgentConfigError(`http agent config: "headers" ${why}`);
  };
  if (typeof raw !== 'object' || Array.isArray(raw)) fail(`must be an object of name: value, got ${describeValue(raw)}`);
  const out: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!HEADER_NAME_RE.test(name)) fail(`: ${JSON.stringify(name)} is not a header name`);
    if (typeof value === 'string') {
      if (/[\r\n]/.test(value)) fail(`: the value of ${name} contains a line break`);
      out[name] = { literal: value };
    } else if (typeof value === 'object' && value !== null && typeof (value as { env?: unknown }).env === 'string') {
      const env = (value as { env: string }).env;
      if (!ENV_NAME_RE.test(env)) fail(`: ${name}: { env: ${JSON.stringify(env)} } is not an environment variable name`);
      out[name] = { env };
    } else {
      fail(`: the value of ${name} must be a string or { "env": "VARIABLE_NAME" }`);
    }
  }
  return out;
}
