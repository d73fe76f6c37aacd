/**
 * W3C Trace Context: the `traceparent` header of an incoming request, carried with the message
 * across hosts when it is valid, and dropped otherwise (as the spec asks of an invalid header).
 */
import { randomBytes } from 'node:crypto';

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

/** A new trace (sampled), for a message that arrives without one: every message carries a trace. */
export function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

/** The trace id of a valid traceparent (`00-<trace id>-<parent id>-<flags>`). */
export function traceIdOf(traceparent: string): string {
  return traceparent.slice(3, 35);
}

export interface TraceParts {
  traceId: string;
  spanId: string;
  flags: number;
}

export function parseTraceparent(traceparent: string): TraceParts {
  return { traceId: traceparent.slice(3, 35), spanId: traceparent.slice(36, 52), flags: parseInt(traceparent.slice(53, 55), 16) };
}

export function formatTraceparent(p: TraceParts): string {
  return `00-${p.traceId}-${p.spanId}-${p.flags.toString(16).padStart(2, '0')}`;
}
