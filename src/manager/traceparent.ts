/**
 * W3C Trace Context: the `traceparent` header of an incoming request, carried with the message
 * across hosts when it is valid, and dropped otherwise (as the spec asks of an invalid header).
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_PARENT_ID = '0'.repeat(16);

export function validTraceparent(header: string | string[] | undefined): string | undefined {
  // A repeated header is ambiguous: ignore it.
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  const m = TRACEPARENT.exec(value);
  if (m === null) return undefined;
  const [, version, traceId, parentId] = m;
  if (version === 'ff' || traceId === ZERO_TRACE_ID || parentId === ZERO_PARENT_ID) return undefined;
  return value;
}
