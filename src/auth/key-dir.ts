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
 *
 * A signing key signs while `rotated_at` is null (only the newest does); after `keys rotate` it
 * still verifies until `retire_at` (rotation time + its `max_ttl_ms`, so every token it signed has
 * expired by then); after that it is retired and tokens it signed are refused.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate, type JsonWebKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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

/** What the directory held when read: a snapshot, reloaded by the authenticator as files change. */
export interface KeySet {
  signing: SigningKeyFile[];
  identity: IdentityFile;
  joinToken: string;
  /** The cluster CA's certificate (PEM) when `flotilla ca init` made one; its key is read only by the issuer. */
  caCertPem: string | null;
  /** Tokens refused before their expiry (`flotilla token revoke`), by jti. */
  revoked: ReadonlySet<string>;
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
    return ['identity.json', 'join-token.json', CA_CERT_FILE, CA_KEY_FILE, ...this.signingFiles()]
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
      .filter((f) => f.endsWith('.json') || f === CA_CERT_FILE || f === CA_KEY_FILE)
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
    return { signing, identity, joinToken, caCertPem: this.readCa()?.certPem ?? null, revoked, version };
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
}

/** The private half of a signing key, as node:crypto wants it (jose signs with a KeyObject). */
export function privateKeyOf(key: SigningKeyFile) {
  return createPrivateKey({ key: key.private_jwk, format: 'jwk' });
}
