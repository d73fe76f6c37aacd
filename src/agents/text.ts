/** Small text helpers shared by the built-in agents: bounded snippets, secret redaction, reply text. */

/** How much of a foreign body (an error page, a provider's error) goes into an error message. */
export const SNIPPET_MAX_CHARS = 300;

/** The first `max` characters of `text`, on one line, marked when cut. */
export function snippet(text: string, max = SNIPPET_MAX_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max)}…`;
}

/** `text` with every occurrence of each secret replaced, so a provider that echoes a key leaks nothing. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    // Very short "secrets" would mangle ordinary words; real keys are long.
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}

/**
 * A URL as it may appear in logs and errors: origin and path only. User info and query strings
 * can carry credentials (`https://user:pass@host`, `?api_key=`).
 */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

/**
 * The text of another agent's reply: a string as is, `{ content: string }` (what `llm` and most
 * chat agents return) as its content, anything else as JSON.
 */
export function replyText(reply: unknown): string {
  if (typeof reply === 'string') return reply;
  if (typeof reply === 'object' && reply !== null && typeof (reply as { content?: unknown }).content === 'string') {
    return (reply as { content: string }).content;
  }
  return JSON.stringify(reply) ?? 'null';
}

/** Message text from a string or `{ content: string }`; undefined for anything else. */
export function messageContent(message: unknown): string | undefined {
  if (typeof message === 'string') return message;
  if (typeof message === 'object' && message !== null && !Array.isArray(message)) {
    const content = (message as { content?: unknown }).content;
    if (typeof content === 'string') return content;
  }
  return undefined;
}

/** A short description of a value of the wrong shape, for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  return snippet(JSON.stringify(value) ?? String(value), 80);
}
