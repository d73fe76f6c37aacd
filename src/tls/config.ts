/** TLS settings from the environment: FLOTILLA_TLS, FLOTILLA_TLS_CERT/KEY/CA, FLOTILLA_TLS_SANS, FLOTILLA_CERT_TTL. */
import { readFileSync } from 'node:fs';
import { ConfigError, envList, envString, type Env } from '../common/env.js';
import { envDuration } from '../auth/duration.js';

export const TLS_ENV = 'FLOTILLA_TLS';
export const TLS_CERT_ENV = 'FLOTILLA_TLS_CERT';
export const TLS_KEY_ENV = 'FLOTILLA_TLS_KEY';
export const TLS_CA_ENV = 'FLOTILLA_TLS_CA';
export const CERT_TTL_ENV = 'FLOTILLA_CERT_TTL';
/** How long a certificate the cluster CA issues lives (containers renew at two thirds of it). */
export const DEFAULT_CERT_TTL_MS = 24 * 3_600_000;
/** Shorter lifetimes leave no time to renew across a slow round trip. */
export const MIN_CERT_TTL_MS = 3_000;
/** How often a container asks the manager for the cluster CA, to notice a rotation (`ca rotate`, `--finish`). */
export const CA_CHECK_INTERVAL_ENV = 'FLOTILLA_CA_CHECK_INTERVAL';
/** Bounds how long a container serves a certificate of a CA being rotated out, or trusts a dropped one. */
export const DEFAULT_CA_CHECK_INTERVAL_MS = 30_000;
/** Shorter checks would be a steady load on the manager for nothing. */
export const MIN_CA_CHECK_INTERVAL_MS = 1_000;
/** The CLI's trust for an https manager: the cluster CA certificate (`ca-cert.pem`). */
export const CA_FILE_ENV = 'FLOTILLA_CA_FILE';

/** Certificates the operator made (bring-your-own), as PEM text read from the files. */
export interface OwnCertificates {
  certPem: string;
  keyPem: string;
  caPem: string;
  files: { cert: string; key: string; ca: string };
}

export interface TlsSettings {
  /** Serve HTTPS with mutual TLS between members (FLOTILLA_TLS=on); off by default. */
  enabled: boolean;
  /** FLOTILLA_TLS_CERT, FLOTILLA_TLS_KEY and FLOTILLA_TLS_CA together; null: the cluster CA issues. */
  own: OwnCertificates | null;
  /** More names for the manager's certificate (FLOTILLA_TLS_SANS, comma list). */
  extraNames: string[];
  certTtlMs: number;
}

function readPem(name: string, path: string, label: RegExp): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`${name}=${path}: cannot read it (${(cause as Error).message})`, { cause });
  }
  if (!label.test(text)) throw new ConfigError(`${name}=${path}: not a PEM file of the expected kind (${label.source})`);
  return text;
}

/** The three bring-your-own files, all or none; null when none is set. */
export function ownCertificatesFromEnv(env: Env): OwnCertificates | null {
  const cert = envString(env, TLS_CERT_ENV);
  const key = envString(env, TLS_KEY_ENV);
  const ca = envString(env, TLS_CA_ENV);
  if (cert === undefined && key === undefined && ca === undefined) return null;
  if (cert === undefined || key === undefined || ca === undefined) {
    throw new ConfigError(`bring-your-own TLS needs all three of ${TLS_CERT_ENV}, ${TLS_KEY_ENV} and ${TLS_CA_ENV} (PEM files); missing: ${[[TLS_CERT_ENV, cert], [TLS_KEY_ENV, key], [TLS_CA_ENV, ca]].filter(([, v]) => v === undefined).map(([n]) => n).join(', ')}`);
  }
  return {
    certPem: readPem(TLS_CERT_ENV, cert, /-----BEGIN CERTIFICATE-----/),
    keyPem: readPem(TLS_KEY_ENV, key, /-----BEGIN (?:EC |RSA )?PRIVATE KEY-----/),
    caPem: readPem(TLS_CA_ENV, ca, /-----BEGIN CERTIFICATE-----/),
    files: { cert, key, ca },
  };
}

export function certTtlFromEnv(env: Env): number {
  return envDuration(env, CERT_TTL_ENV, DEFAULT_CERT_TTL_MS, MIN_CERT_TTL_MS);
}

export function caCheckIntervalFromEnv(env: Env): number {
  return envDuration(env, CA_CHECK_INTERVAL_ENV, DEFAULT_CA_CHECK_INTERVAL_MS, MIN_CA_CHECK_INTERVAL_MS);
}

export function tlsSettingsFromEnv(env: Env = process.env): TlsSettings {
  const raw = envString(env, TLS_ENV)?.toLowerCase();
  if (raw !== undefined && raw !== 'on' && raw !== 'off') throw new ConfigError(`${TLS_ENV}=${JSON.stringify(raw)} must be on or off`);
  return { enabled: raw === 'on', own: ownCertificatesFromEnv(env), extraNames: envList(env, 'FLOTILLA_TLS_SANS'), certTtlMs: certTtlFromEnv(env) };
}
