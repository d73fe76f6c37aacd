/**
 * Stream entry ids, `<ms>-<seq>`: two integers, compared as numbers (`10-0` is after `9-5`, which
 * plain string order gets wrong). Ids are canonical decimal, with no leading zeros, so a longer
 * part is the larger number and parts of equal length compare as text: exact at any size, the
 * same rule as `cmpId` in the Lua helpers.
 */
import { StoreError } from './store.js';

const STREAM_ID_RE = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/;

export function isStreamId(id: string): boolean {
  return typeof id === 'string' && STREAM_ID_RE.test(id);
}

export function assertStreamId(what: string, id: string): string {
  if (!isStreamId(id)) {
    throw new StoreError(`${what} ${JSON.stringify(String(id).slice(0, 64))} is not valid: expected <ms>-<seq> (e.g. 1700000000000-0)`);
  }
  return id;
}

function compareParts(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. Both must be valid ids. */
export function compareStreamIds(a: string, b: string): number {
  const [ams = '', aseq = ''] = a.split('-');
  const [bms = '', bseq = ''] = b.split('-');
  return compareParts(ams, bms) || compareParts(aseq, bseq);
}
