/**
 * Names of containers, agents, topics and managers end up inside Redis keys and URL paths, so
 * they are held to a small safe alphabet and a bounded length. Validate at every edge.
 */
export const NAME_MAX_LENGTH = 128;
/** Starts with a letter or digit; then letters, digits, `.`, `_`, `-`. No `/`, `:`, `{`, `}` or spaces. */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const NAME_RE = new RegExp(NAME_PATTERN);

export function isSafeName(value: string): boolean {
  return NAME_RE.test(value);
}

const NAME_RULE = `use 1-${NAME_MAX_LENGTH} letters, digits, ".", "_" or "-", starting with a letter or digit`;

export class InvalidNameError extends Error {
  override readonly name = 'InvalidNameError';
  constructor(
    readonly what: string,
    readonly value: string,
    rule: string = NAME_RULE,
  ) {
    super(`${what} ${JSON.stringify(value.slice(0, NAME_MAX_LENGTH + 8))} is not a valid name: ${rule}`);
  }
}

export function assertSafeName(what: string, value: string): string {
  if (!isSafeName(value)) throw new InvalidNameError(what, value);
  return value;
}

/**
 * An agent id is `type/name` (e.g. `reviewer/alice`), both parts safe names. The one `/` is safe
 * inside a Redis hash tag (`{a:reviewer/alice}`); braces, spaces and a second `/` are not allowed.
 */
export const AGENT_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const AGENT_ID_RE = new RegExp(AGENT_ID_PATTERN);
const AGENT_ID_RULE = `use type/name, each part 1-${NAME_MAX_LENGTH} letters, digits, ".", "_" or "-", starting with a letter or digit`;

export function isAgentId(value: string): boolean {
  return AGENT_ID_RE.test(value);
}

export function assertAgentId(what: string, value: string): string {
  if (typeof value !== 'string' || !isAgentId(value)) throw new InvalidNameError(what, String(value), AGENT_ID_RULE);
  return value;
}

/** The type and name of a valid agent id. */
export function splitAgentId(id: string): { type: string; name: string } {
  const slash = assertAgentId('agent id', id).indexOf('/');
  return { type: id.slice(0, slash), name: id.slice(slash + 1) };
}
