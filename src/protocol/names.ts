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

export class InvalidNameError extends Error {
  override readonly name = 'InvalidNameError';
  constructor(
    readonly what: string,
    readonly value: string,
  ) {
    super(
      `${what} ${JSON.stringify(value.slice(0, NAME_MAX_LENGTH + 8))} is not a valid name: use 1-${NAME_MAX_LENGTH} ` +
        'letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  }
}

export function assertSafeName(what: string, value: string): string {
  if (!isSafeName(value)) throw new InvalidNameError(what, value);
  return value;
}
