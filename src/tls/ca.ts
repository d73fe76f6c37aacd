/**
 * The cluster CA in the manager's key directory (`flotilla ca init`). Its key is a file of the key
 * directory like the signing keys (0600 in a 0700 directory, written whole then renamed, never in
 * Redis): whoever holds it can make certificates every member of the cluster trusts.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaState, KeyDir } from '../auth/key-dir.js';
import { CA_CERT_FILE, CA_CROSS_CERT_FILE, CA_PREVIOUS_CERT_FILE } from '../auth/key-dir.js';
import { KeyDirError } from '../auth/errors.js';
import { certFingerprint, certificateInfo } from './cert-info.js';
import { createCa, crossSign, issueKeyAndCert, loadSigningCa } from './x509.js';

/** The CA certificate's subject. */
export const CA_COMMON_NAME = 'Flotilla cluster CA';

export interface CaInitResult {
  certFile: string;
  fingerprint: string;
  notAfter: string;
  joinToken: string;
  replaced: boolean;
}

export async function initClusterCa(dir: KeyDir, opts: { force?: boolean; now?: Date } = {}): Promise<CaInitResult> {
  const existed = dir.exists() && dir.hasCa();
  if (existed && opts.force !== true) {
    throw new KeyDirError(`${dir.path} already has a cluster CA (${join(dir.path, CA_CERT_FILE)}); pass --force to replace it (every certificate it issued stops being trusted)`);
  }
  // A CA belongs to a cluster: the identity, signing key and join token are made first when missing.
  dir.init(undefined, opts.now);
  const ca = await createCa(CA_COMMON_NAME, opts.now);
  // A rotation's files would name the CA replaced here: they go first (readers then see no CA change in between).
  dir.clearCaRotation();
  dir.writeCa(ca.certPem, ca.keyPem);
  const joinToken = dir.refingerprintJoinToken(opts.now);
  return {
    certFile: join(dir.path, CA_CERT_FILE),
    fingerprint: certFingerprint(ca.certPem),
    notAfter: certificateInfo(ca.certPem).notAfter.toISOString(),
    joinToken,
    replaced: existed,
  };
}

/** What a client or server trusts and presents for the CA state: the bundle (current first) and the chain above a leaf. */
export function trustOf(state: CaState): { bundle: string[]; chain: string[] } {
  return state.rotation === null ? { bundle: [state.certPem], chain: [] } : { bundle: [state.certPem, state.rotation.previousCertPem], chain: [state.rotation.crossCertPem] };
}

export interface CaRotateResult {
  fingerprint: string;
  previousFingerprint: string;
  startedAt: string;
  notAfter: string;
  joinToken: string;
  /** The join token handed out before: it still admits until `--finish`. */
  previousJoinToken: string;
  files: { cert: string; previousCert: string; crossCert: string };
}

function caStateOf(dir: KeyDir): CaState {
  const state = dir.exists() ? dir.readCaState() : null;
  if (state === null) throw new KeyDirError(`${dir.path} has no cluster CA to rotate: run \`flotilla ca init\` first`);
  return state;
}

/**
 * `flotilla ca rotate`: a new CA signs from now on; the old one stays trusted (ca-previous-cert.pem)
 * and issues a cross certificate for the new one, so members that still trust only the old CA
 * accept certificates of the new one presented with it. The join token takes the new fingerprint
 * (same secret). One rotation at a time: the previous CA must be dropped (`--finish`) first.
 */
export async function rotateClusterCa(dir: KeyDir, now: Date = new Date()): Promise<CaRotateResult> {
  const state = caStateOf(dir);
  if (state.rotation !== null) {
    throw new KeyDirError(
      `a CA rotation is already in progress (started ${state.rotation.record.started_at}): finish it first with \`flotilla ca rotate --finish\` once every container serves a certificate of the new CA`,
    );
  }
  const previousJoinToken = dir.load().joinToken;
  const old = await loadSigningCa(state.certPem, state.keyPem);
  const next = await createCa(CA_COMMON_NAME, now);
  const crossCertPem = await crossSign(old, next.certPem, now);
  const record = { started_at: now.toISOString(), previous_fingerprint: certFingerprint(state.certPem), fingerprint: certFingerprint(next.certPem) };
  dir.writeCaRotation({ certPem: next.certPem, keyPem: next.keyPem, previousCertPem: state.certPem, crossCertPem, record });
  const joinToken = dir.refingerprintJoinToken(now);
  return {
    fingerprint: record.fingerprint,
    previousFingerprint: record.previous_fingerprint,
    startedAt: record.started_at,
    notAfter: certificateInfo(next.certPem).notAfter.toISOString(),
    joinToken,
    previousJoinToken,
    files: { cert: join(dir.path, CA_CERT_FILE), previousCert: join(dir.path, CA_PREVIOUS_CERT_FILE), crossCert: join(dir.path, CA_CROSS_CERT_FILE) },
  };
}

export interface CaFinishResult {
  fingerprint: string;
  /** The CA no longer trusted; null when an interrupted rotation's files were cleared (--force). */
  droppedFingerprint: string | null;
  startedAt: string | null;
}

/**
 * `flotilla ca rotate --finish`: the previous CA and the cross certificate go; managers then trust
 * the new CA only (within a second), containers at their next CA check. `force` also clears the
 * files of a rotation that was interrupted half-way (readCaState refuses them).
 */
export function finishCaRotation(dir: KeyDir, opts: { force?: boolean } = {}): CaFinishResult {
  let state: CaState;
  try {
    state = caStateOf(dir);
  } catch (err) {
    if (opts.force !== true || !dir.hasCa()) throw err;
    dir.clearCaRotation();
    return { fingerprint: certFingerprint(caStateOf(dir).certPem), droppedFingerprint: null, startedAt: null };
  }
  if (state.rotation === null) throw new KeyDirError(`no CA rotation in progress in ${dir.path}: nothing to finish (start one with \`flotilla ca rotate\`)`);
  dir.clearCaRotation();
  return { fingerprint: certFingerprint(state.certPem), droppedFingerprint: state.rotation.record.previous_fingerprint, startedAt: state.rotation.record.started_at };
}

export interface IssuedClientCertificate {
  certFile: string;
  keyFile: string;
  caFile: string;
  notAfter: string;
}

/**
 * A client certificate from the cluster CA for a tool that calls the containers over mutual TLS
 * (`flotilla ca issue prometheus`): the containers let any certificate of the CA in. The key is
 * made here and written 0600; nothing is overwritten, so an existing file is never half-replaced.
 */
export async function issueClientCertificate(dir: KeyDir, name: string, outDir: string, ttlMs: number, now: Date = new Date()): Promise<IssuedClientCertificate> {
  const ca = dir.exists() ? dir.readCaState() : null;
  if (ca === null) throw new KeyDirError(`${dir.path} has no cluster CA: run \`flotilla ca init\` first`);
  // During a CA rotation: the certificate file carries the cross certificate after the leaf (members
  // that still trust only the previous CA accept it), and the CA file both CAs.
  const { bundle, chain } = trustOf(ca);
  const files = { certFile: join(outDir, `${name}-cert.pem`), keyFile: join(outDir, `${name}-key.pem`), caFile: join(outDir, CA_CERT_FILE) };
  const taken = [files.certFile, files.keyFile].filter((f) => existsSync(f));
  if (taken.length > 0) throw new KeyDirError(`${taken.join(' and ')} already exist${taken.length === 1 ? 's' : ''}: remove them or choose another --out`);
  try {
    mkdirSync(outDir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new KeyDirError(`cannot create ${outDir}: ${(cause as Error).message}`, { cause });
  }
  const issued = await issueKeyAndCert(await loadSigningCa(ca.certPem, ca.keyPem), { commonName: name, names: [], ttlMs, now });
  try {
    // The key first and exclusively (wx): a reader never finds a certificate without its key.
    writeFileSync(files.keyFile, issued.keyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(files.certFile, issued.certPem + chain.join(''), { mode: 0o644, flag: 'wx' });
    writeFileSync(files.caFile, bundle.join(''), { mode: 0o644 });
  } catch (cause) {
    throw new KeyDirError(`cannot write the certificate files in ${outDir}: ${(cause as Error).message}`, { cause });
  }
  return { ...files, notAfter: certificateInfo(issued.certPem).notAfter.toISOString() };
}
