/**
 * Join tokens, in Docker Swarm's shape: `FLTKN-1-<fingerprint>-<secret>`. The fingerprint is the
 * sha256 of the cluster CA certificate's DER once `flotilla ca init` made one, else of the cluster
 * identity's public key (clusterFingerprint in key-dir.ts), so a container can tell it has the
 * right cluster's manager (over https: check the CA before trusting it); the secret admits it. Registration needs the current token;
 * rotating it (`flotilla join-token --rotate`) refuses the old one for new joins only.
 */
import { timingSafeEqual } from 'node:crypto';

export const JOIN_TOKEN_PREFIX = 'FLTKN-1-';
const JOIN_TOKEN_RE = /^FLTKN-1-([0-9a-f]{64})-([0-9a-f]{48})$/;

export interface JoinTokenParts {
  fingerprint: string;
  secret: string;
}

export function formatJoinToken(fingerprint: string, secret: string): string {
  return `${JOIN_TOKEN_PREFIX}${fingerprint}-${secret}`;
}

export function looksLikeJoinToken(value: string): boolean {
  return value.startsWith(JOIN_TOKEN_PREFIX);
}

/** The parts of a well-formed token; undefined otherwise. */
export function parseJoinToken(value: string): JoinTokenParts | undefined {
  const m = JOIN_TOKEN_RE.exec(value);
  return m === null ? undefined : { fingerprint: m[1]!, secret: m[2]! };
}

/** Constant-time comparison, so the secret cannot be found a byte at a time by timing. */
export function sameJoinToken(given: string, current: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(current);
  return a.length === b.length && timingSafeEqual(a, b);
}
