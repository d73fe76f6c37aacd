/**
 * The manager's key directory (FLOTILLA_KEY_DIR): the JWT signing keys, the cluster identity key
 * (whose fingerprint is in every join token) and the join token. Files only, mode 0600 in a 0700
 * directory, never in Redis: whoever can read Redis must not be able to mint tokens.
 *
 * Layout (each written whole to a temporary file, then renamed, so a reader never sees half):
 *   signing-<kid>.json  { kid, alg, created_at, max_ttl_ms, rotated_at, retire_at, private_jwk, public_jwk }
 *   identity.json       { created_at, private_jwk, public_jwk }
 *   join-token.json     { token, created_at }
 *   ca-cert.pem, ca-key.pem   the cluster CA (`flotilla ca init`, optional; ../tls/ca.ts)
 *   ca-previous-cert.pem, ca-cross-cert.pem, ca-rotation.json
 *                       during a CA rotation only (`flotilla ca rotate` until `--finish`): the old
 *                       CA (trusted, no longer signing; its key is not kept), the new CA's
 *                       certificate issued by the old one, and when the rotation started
 *
 * A signing key signs while `rotated_at` is null (only the newest does); after `keys rotate` it
 * still verifies until `retire_at` (rotation time + its `max_ttl_ms`, so every token it signed has
 * expired by then); after that it is retired and tokens it signed are refused.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate, type JsonWebKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KeyDirError } from './errors.js';
import { formatJoinToken, parseJoinToken } from './join-token.js';

/** Where `flotilla manager` and the key commands look when FLOTILLA_KEY_DIR is not set. */
export const DEFAULT_KEY_DIR = join(homedir(), '.flotilla', 'keys');
export const KEY_DIR_ENV = 'FLOTILLA_KEY_DIR';
/** The longest a token may live, unless `keys rotate --max-ttl` says otherwise. */
export const DEFAULT_MAX_TOKEN_TTL_MS = 30 * 86_400_000;
export const SIGNING_ALG = 'EdDSA';
export const CA_CERT_FILE = 'ca-cert.pem';
export const CA_KEY_FILE = 'ca-key.pem';
/** Revoked tokens (by `jti`), each kept until it would have expired anyway. Not secret. */
export const REVOKED_FILE = 'revoked.json';
/** The CA a rotation replaced: trusted until `ca rotate --finish`, never signing again. */
export const CA_PREVIOUS_CERT_FILE = 'ca-previous-cert.pem';
/** The new CA's certificate issued by the previous CA: members that trust only the old CA verify new leaves through it. */
export const CA_CROSS_CERT_FILE = 'ca-cross-cert.pem';
/** When the rotation started and what it replaced; its presence means a rotation is in progress. */
export const CA_ROTATION_FILE = 'ca-rotation.json';
const CA_FILES = [CA_CERT_FILE, CA_KEY_FILE, CA_PREVIOUS_CERT_FILE, CA_CROSS_CERT_FILE];
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export interface SigningKeyFile {
  kid: string;
  alg: typeof SIGNING_ALG;
  created_at: string;
  max_ttl_ms: number;
  rotated_at: string | null;
  retire_at: string | null;
  private_jwk: JsonWebKey;
  public_jwk: JsonWebKey;
}

export interface IdentityFile {
  created_at: string;
  private_jwk: JsonWebKey;
  public_jwk: JsonWebKey;
}

export type SigningKeyState = 'signing' | 'verify-only' | 'retired';

/** One revoked token: enough to refuse it, and to tell an operator which it was. */
export interface RevokedToken {
  jti: string;
  /** When the token expires: the entry is dropped after that, as the token is refused anyway. */
  expires_at: string;
  revoked_at: string;
  sub: string | null;
  role: string | null;
}

export interface CaRotationFile {
  started_at: string;
  /** sha256 of the previous CA certificate's DER (the fingerprint in join tokens handed out before). */
  previous_fingerprint: string;
  /** sha256 of the new CA certificate's DER: ties this record to ca-cert.pem. */
  fingerprint: string;
}

/** The cluster CA as a consistent whole: the signing CA and, during a rotation, what it replaced. */
export interface CaState {
  certPem: string;
  keyPem: string;
  rotation: { previousCertPem: string; crossCertPem: string; record: CaRotationFile } | null;
}

/** What the directory held when read: a snapshot, reloaded by the authenticator as files change. */
export interface KeySet {
  signing: SigningKeyFile[];
  identity: IdentityFile;
  joinToken: string;
  /** The cluster CA's certificate (PEM) when `flotilla ca init` made one; its key is read only by the issuer. */
  caCertPem: string | null;
  /** Tokens refused before their expiry (`flotilla token revoke`), by jti. */
  revoked: ReadonlySet<string>;
  /** During a CA rotation: the previous CA's certificate (join tokens naming it still admit). */
  caPreviousCertPem: string | null;
  /** Changes whenever a file of the directory changes (names, sizes, mtimes). */
  version: string;
}

export function keyState(key: SigningKeyFile, nowMs: number = Date.now()): SigningKeyState {
  if (key.retire_at !== null && Date.parse(key.retire_at) <= nowMs) return 'retired';
  return key.rotated_at === null ? 'signing' : 'verify-only';
}

/** The key that signs new tokens: the newest one not rotated out. */
export function activeSigningKey(set: KeySet, nowMs: number = Date.now()): SigningKeyFile {
  const active = set.signing.filter((k) => keyState(k, nowMs) === 'signing').sort((a, b) => b.created_at.localeCompare(a.created_at))[0];
  if (active === undefined) throw new KeyDirError('the key directory has no signing key that is not rotated out or retired: run `flotilla keys rotate`');
  return active;
}

/** sha256 of the identity public key (SPKI DER), hex: the `fingerprint` part of a join token. */
export function identityFingerprint(identity: IdentityFile): string {
  const der = createPublicKey({ key: identity.public_jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

/** sha256 of a certificate's DER, hex. */
export function caFingerprint(certPem: string): string {
  return createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
}

/**
 * The join tokens that admit: the current one and, during a CA rotation, the same secret with the
 * previous CA's fingerprint (a container given the token before the rotation still finds, in the
 * trust bundle, the CA its token names: docs/security.md §4).
 */
export function acceptedJoinTokens(set: Pick<KeySet, 'joinToken' | 'caPreviousCertPem'>): string[] {
  const parts = parseJoinToken(set.joinToken);
  if (set.caPreviousCertPem === null || parts === undefined) return [set.joinToken];
  return [set.joinToken, formatJoinToken(caFingerprint(set.caPreviousCertPem), parts.secret)];
}

function spkiOf(key: X509Certificate | string): Buffer {
  const publicKey = typeof key === 'string' ? createPublicKey(createPrivateKey(key)) : key.publicKey;
  return publicKey.export({ type: 'spki', format: 'der' });
}

/**
 * The join token's fingerprint: the cluster CA certificate's when one exists (as Swarm does: a
 * container checks the CA it is handed against it before trusting it), else the identity key's.
 */
export function clusterFingerprint(set: Pick<KeySet, 'identity' | 'caCertPem'>): string {
  return set.caCertPem === null ? identityFingerprint(set.identity) : caFingerprint(set.caCertPem);
}

function newEd25519(): { private_jwk: JsonWebKey; public_jwk: JsonWebKey } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { private_jwk: privateKey.export({ format: 'jwk' }), public_jwk: publicKey.export({ format: 'jwk' }) };
}

function newSigningKey(maxTtlMs: number, now: Date): SigningKeyFile {
  const kid = randomBytes(12).toString('hex');
  const pair = newEd25519();
  return {
    kid,
    alg: SIGNING_ALG,
    created_at: now.toISOString(),
    max_ttl_ms: maxTtlMs,
    rotated_at: null,
    retire_at: null,
    private_jwk: pair.private_jwk,
    public_jwk: { ...pair.public_jwk, kid, alg: SIGNING_ALG, use: 'sig' },
  };
}

export class KeyDir {
  constructor(readonly path: string) {}

  private file(name: string): string {
    return join(this.path, name);
  }

  private write(name: string, value: unknown): void {
    this.writeText(name, JSON.stringify(value, null, 2) + '\n');
  }

  private writeText(name: string, text: string): void {
    const target = this.file(name);
    const tmp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      writeFileSync(tmp, text, { mode: FILE_MODE });
      renameSync(tmp, target);
    } catch (cause) {
      // A read-only mount (a Kubernetes or Swarm secret) that lacks a file: say what to mount.
      throw new KeyDirError(
        `cannot write ${target}: ${(cause as Error).message}. A read-only key directory (a mounted secret) must hold every file: identity.json, join-token.json and a signing key (flotilla keys init --key-dir DIR makes them)`,
        { cause },
      );
    }
  }

  private read<T>(name: string): T {
    const path = this.file(name);
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as T;
    } catch (cause) {
      throw new KeyDirError(`cannot read ${path}: ${(cause as Error).message}`, { cause });
    }
  }

  exists(): boolean {
    return existsSync(this.file('identity.json'));
  }

  /**
   * Creates what is missing (the directory, an identity, a signing key, a join token); returns
   * true when it created the identity, i.e. this is a new cluster.
   */
  init(maxTtlMs: number = DEFAULT_MAX_TOKEN_TTL_MS, now: Date = new Date()): boolean {
    try {
      mkdirSync(this.path, { recursive: true, mode: DIR_MODE });
    } catch (cause) {
      throw new KeyDirError(`cannot create the key directory ${this.path}: ${(cause as Error).message}`, { cause });
    }
    const created = !this.exists();
    if (created) this.write('identity.json', { created_at: now.toISOString(), ...newEd25519() } satisfies IdentityFile);
    if (!this.signingFiles().some((f) => keyState(this.read<SigningKeyFile>(f), now.getTime()) === 'signing')) {
      const key = newSigningKey(maxTtlMs, now);
      this.write(`signing-${key.kid}.json`, key);
    }
    if (!existsSync(this.file('join-token.json'))) this.rotateJoinToken(now);
    return created;
  }

  private signingFiles(): string[] {
    if (!existsSync(this.path)) return [];
    // Any signing-<name>.json, not only signing-<kid>.json as written here: a Docker Swarm stack
    // mounts its key secrets under fixed target names (signing-current.json), since it cannot name
    // a file after a kid it does not know. The kid is read from the file's content.
    return readdirSync(this.path).filter((f) => /^signing-[A-Za-z0-9_-]+\.json$/.test(f)).sort();
  }

  /**
   * Files readable by others, or by a group other than our own: the caller warns (a mounted
   * secret may be 0644). Group-readable with our own group is allowed: that is how Kubernetes
   * hands a Secret to a non-root pod (fsGroup: the files are 0440, group = the pod's group).
   */
  looseFiles(): string[] {
    const ownGid = process.getgid?.();
    return ['identity.json', 'join-token.json', ...CA_FILES, CA_ROTATION_FILE, ...this.signingFiles()]
      .map((f) => this.file(f))
      .filter((p) => {
        if (!existsSync(p)) return false;
        const s = statSync(p);
        return (s.mode & 0o007) !== 0 || ((s.mode & 0o070) !== 0 && s.gid !== ownGid);
      });
  }

  /** Restricts every file to its owner (what `init` does for the files it writes). */
  tighten(): void {
    for (const p of this.looseFiles()) chmodSync(p, FILE_MODE);
  }

  /** A stamp of the directory's files, cheap to compute: the authenticator reloads when it changes. */
  version(): string {
    if (!existsSync(this.path)) return 'missing';
    return readdirSync(this.path)
      .filter((f) => f.endsWith('.json') || CA_FILES.includes(f))
      .sort()
      .map((f) => {
        const s = statSync(this.file(f));
        return `${f}:${s.size}:${s.mtimeMs}`;
      })
      .join('|');
  }

  load(): KeySet {
    if (!this.exists()) {
      throw new KeyDirError(`no keys in ${this.path}: start the manager once (it creates them) or point ${KEY_DIR_ENV} at the manager's key directory`);
    }
    const version = this.version();
    const signing = this.signingFiles().map((f) => this.read<SigningKeyFile>(f));
    const identity = this.read<IdentityFile>('identity.json');
    const joinToken = this.read<{ token: string }>('join-token.json').token;
    const revoked = new Set(this.revokedTokens().map((r) => r.jti));
    const ca = this.readCaState();
    return { signing, identity, joinToken, caCertPem: ca?.certPem ?? null, caPreviousCertPem: ca?.rotation?.previousCertPem ?? null, revoked, version };
  }

  /** The revoked tokens that have not expired yet (none when the file is absent). */
  revokedTokens(nowMs: number = Date.now()): RevokedToken[] {
    if (!existsSync(this.file(REVOKED_FILE))) return [];
    const list = this.read<{ revoked?: RevokedToken[] }>(REVOKED_FILE).revoked;
    if (!Array.isArray(list)) throw new KeyDirError(`${this.file(REVOKED_FILE)} holds no "revoked" list`);
    return list.filter((r) => typeof r?.jti === 'string' && Date.parse(r.expires_at) > nowMs);
  }

  /**
   * Refuses a token from the next reload on, until it expires (then its entry is dropped: the
   * list stays as short as the tokens still alive). Revoking one twice keeps one entry.
   */
  revoke(entry: Omit<RevokedToken, 'revoked_at'>, now: Date = new Date()): { entry: RevokedToken; added: boolean } {
    const kept = this.revokedTokens(now.getTime());
    const existing = kept.find((r) => r.jti === entry.jti);
    if (existing !== undefined) return { entry: existing, added: false };
    const added: RevokedToken = { ...entry, revoked_at: now.toISOString() };
    this.write(REVOKED_FILE, { revoked: [...kept, added] });
    return { entry: added, added: true };
  }

  /**
   * A new signing key signs from now on; every key that signed until now verifies for its
   * `max_ttl_ms` more (its tokens cannot outlive that), then retires. Returns the new key.
   */
  rotate(maxTtlMs: number = DEFAULT_MAX_TOKEN_TTL_MS, now: Date = new Date()): { added: SigningKeyFile; rotatedOut: SigningKeyFile[] } {
    const set = this.load();
    const rotatedOut: SigningKeyFile[] = [];
    const added = newSigningKey(maxTtlMs, now);
    // The new key first: a reader in between sees two signing keys (the newest signs), never none.
    this.write(`signing-${added.kid}.json`, added);
    for (const key of set.signing) {
      if (keyState(key, now.getTime()) !== 'signing') continue;
      const out: SigningKeyFile = { ...key, rotated_at: now.toISOString(), retire_at: new Date(now.getTime() + key.max_ttl_ms).toISOString() };
      this.write(`signing-${key.kid}.json`, out);
      rotatedOut.push(out);
    }
    return { added, rotatedOut };
  }

  /** Retires a key now (a leaked key): tokens it signed are refused from the next reload on. */
  retire(kid: string, now: Date = new Date()): SigningKeyFile {
    const set = this.load();
    const key = set.signing.find((k) => k.kid === kid);
    if (key === undefined) throw new KeyDirError(`no signing key ${JSON.stringify(kid)} in ${this.path}`);
    if (keyState(key, now.getTime()) === 'signing') {
      throw new KeyDirError(`key ${kid} is the one that signs: run \`flotilla keys rotate\` first, then retire it`);
    }
    const retired: SigningKeyFile = { ...key, retire_at: now.toISOString() };
    this.write(`signing-${kid}.json`, retired);
    return retired;
  }

  /** A new join token: new joins need it; containers already joined keep their own tokens. */
  rotateJoinToken(now: Date = new Date()): string {
    const token = formatJoinToken(this.currentFingerprint(), randomBytes(24).toString('hex'));
    this.write('join-token.json', { token, created_at: now.toISOString() });
    return token;
  }

  private currentFingerprint(): string {
    return clusterFingerprint({ identity: this.read<IdentityFile>('identity.json'), caCertPem: this.readCa()?.certPem ?? null });
  }

  /**
   * The join token with its fingerprint part derived again (after `ca init`), its secret kept: a
   * join token already handed out still admits (its secret is checked whole, so it must be taken
   * again with the new fingerprint), and nothing else changes.
   */
  refingerprintJoinToken(now: Date = new Date()): string {
    const current = this.read<{ token: string }>('join-token.json').token;
    const secret = parseJoinToken(current)?.secret ?? randomBytes(24).toString('hex');
    const token = formatJoinToken(this.currentFingerprint(), secret);
    if (token !== current) this.write('join-token.json', { token, created_at: now.toISOString() });
    return token;
  }

  hasCa(): boolean {
    return existsSync(this.file(CA_CERT_FILE));
  }

  /** The cluster CA's certificate and key (PEM), or null when there is none. */
  readCa(): { certPem: string; keyPem: string } | null {
    if (!this.hasCa()) return null;
    try {
      return { certPem: readFileSync(this.file(CA_CERT_FILE), 'utf8'), keyPem: readFileSync(this.file(CA_KEY_FILE), 'utf8') };
    } catch (cause) {
      throw new KeyDirError(`cannot read the cluster CA in ${this.path}: ${(cause as Error).message}`, { cause });
    }
  }

  /** Writes the CA: the key first, so a reader that sees the certificate finds its key too. */
  writeCa(certPem: string, keyPem: string): void {
    this.writeText(CA_KEY_FILE, keyPem);
    this.writeText(CA_CERT_FILE, certPem);
  }

  /**
   * The CA with its rotation, or null without a CA. Throws KeyDirError when the files do not fit
   * together: the key is not the certificate's, or a rotation's files are partly there or name
   * another CA. Rotating writes several files one after another; every state in between is one of
   * these, so a reader (the manager, each second) keeps what it had and looks again.
   */
  readCaState(): CaState | null {
    const ca = this.readCa();
    if (ca === null) return null;
    const present = [CA_PREVIOUS_CERT_FILE, CA_CROSS_CERT_FILE, CA_ROTATION_FILE].filter((f) => existsSync(this.file(f)));
    let rotation: CaState['rotation'] = null;
    try {
      const cert = new X509Certificate(ca.certPem);
      if (!spkiOf(cert).equals(spkiOf(ca.keyPem))) throw new Error(`${CA_KEY_FILE} is not the key of ${CA_CERT_FILE}`);
      if (present.length === 3) {
        const previousCertPem = readFileSync(this.file(CA_PREVIOUS_CERT_FILE), 'utf8');
        const crossCertPem = readFileSync(this.file(CA_CROSS_CERT_FILE), 'utf8');
        const record = this.read<CaRotationFile>(CA_ROTATION_FILE);
        const cross = new X509Certificate(crossCertPem);
        if (record.fingerprint !== caFingerprint(ca.certPem)) throw new Error(`${CA_ROTATION_FILE} is for another CA than ${CA_CERT_FILE}`);
        if (!spkiOf(cross).equals(spkiOf(cert)) || !cross.verify(new X509Certificate(previousCertPem).publicKey)) {
          throw new Error(`${CA_CROSS_CERT_FILE} is not the current CA issued by the previous one`);
        }
        rotation = { previousCertPem, crossCertPem, record };
      } else if (present.length !== 0) {
        throw new Error(`a CA rotation is half there (${present.join(', ')})`);
      }
    } catch (cause) {
      // A key that is not the certificate's cannot be mended from what is here (the other half is gone): only a new CA.
      const keyLost = (cause as Error).message.startsWith(CA_KEY_FILE);
      throw new KeyDirError(
        `the cluster CA files in ${this.path} do not fit together: ${(cause as Error).message}. ` +
          (keyLost
            ? 'If no `flotilla ca init` or `ca rotate` is running, make a new CA with `flotilla ca init --force` and restart the containers with the new join token'
            : 'If no `flotilla ca rotate` is running, finish or undo the interrupted one: `flotilla ca rotate --finish --force`'),
        { cause },
      );
    }
    return { ...ca, rotation };
  }

  /**
   * Starts a CA rotation: the previous CA, the cross certificate and the record first, then the
   * new key and certificate. Readers refuse every state in between (readCaState), so they switch
   * from the old CA straight to the rotation.
   */
  writeCaRotation(next: { certPem: string; keyPem: string; previousCertPem: string; crossCertPem: string; record: CaRotationFile }): void {
    this.writeText(CA_ROTATION_FILE, JSON.stringify(next.record, null, 2) + '\n');
    this.writeText(CA_PREVIOUS_CERT_FILE, next.previousCertPem);
    this.writeText(CA_CROSS_CERT_FILE, next.crossCertPem);
    this.writeCa(next.certPem, next.keyPem);
  }

  /** Ends a CA rotation: the previous CA and the cross certificate go; the record last. */
  clearCaRotation(): void {
    try {
      for (const f of [CA_CROSS_CERT_FILE, CA_PREVIOUS_CERT_FILE, CA_ROTATION_FILE]) rmSync(this.file(f), { force: true });
    } catch (cause) {
      throw new KeyDirError(`cannot remove the CA rotation files in ${this.path}: ${(cause as Error).message}`, { cause });
    }
  }
}

/** The private half of a signing key, as node:crypto wants it (jose signs with a KeyObject). */
export function privateKeyOf(key: SigningKeyFile) {
  return createPrivateKey({ key: key.private_jwk, format: 'jwk' });
}
