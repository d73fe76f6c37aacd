/**
 * The commands that work on the manager's key directory itself (FLOTILLA_KEY_DIR or --key-dir), on
 * the manager's host: `token create|revoke|revoked`, `keys rotate|list|retire`, `join-token [--rotate]`, `ca init|rotate|issue`. They
 * need no running manager (the first admin token comes from here); a running manager sees the
 * change within a second (it re-reads the directory when its files change).
 */
import { InvalidArgumentError, type Command } from 'commander';
// Not ../auth/index.js: that loads jose and the manager's hook for every CLI command; tokens.js
// (jose) is imported only by `token create`.
import { DEFAULT_KEY_DIR, DEFAULT_MAX_TOKEN_TTL_MS, clusterFingerprint, KEY_DIR_ENV, KeyDir, keyState } from '../auth/key-dir.js';
import { formatDuration, InvalidDurationError, parseDuration } from '../auth/duration.js';
import { KeyDirError } from '../auth/errors.js';
import { isRole, ROLES, type Role } from '../auth/roles.js';
import { envString } from '../common/env.js';
import { isSafeName } from '../protocol/names.js';
import { EXIT_USAGE } from './errors.js';
import { MANAGER_URL_ENV, TOKEN_ENV } from './cluster-commands.js';

/** What `token create` gives when --ttl is not said. */
export const DEFAULT_TOKEN_TTL_MS = 24 * 3_600_000;
/** What `ca issue` gives when --ttl is not said: a tool's certificate is renewed by hand. */
export const DEFAULT_ISSUED_CERT_TTL_MS = 30 * 86_400_000;

interface KeyDirFlags {
  keyDir?: string;
  json?: boolean;
}

function parseTtl(raw: string): number {
  try {
    return parseDuration(raw);
  } catch (err) {
    if (err instanceof InvalidDurationError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

function parseRole(raw: string): Role {
  if (!isRole(raw)) throw new InvalidArgumentError(`expected one of ${ROLES.join(', ')}`);
  return raw;
}

function parseName(raw: string): string {
  if (!isSafeName(raw)) throw new InvalidArgumentError('use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit');
  return raw;
}

function keyDirOf(flags: KeyDirFlags): KeyDir {
  return new KeyDir(flags.keyDir ?? envString(process.env, KEY_DIR_ENV) ?? DEFAULT_KEY_DIR);
}

function withKeyDir(cmd: Command): Command {
  return cmd.option('--key-dir <dir>', `the manager's key directory (default: $${KEY_DIR_ENV}, else ${DEFAULT_KEY_DIR})`).option('--json', 'print JSON');
}

/** Runs a key command: its KeyDirError is one line on stderr and exit 2 (nothing to ask a manager). */
async function run(flags: KeyDirFlags, body: (dir: KeyDir) => Promise<{ json: unknown; human: string }>): Promise<void> {
  try {
    const out = await body(keyDirOf(flags));
    console.log(flags.json === true ? JSON.stringify(out.json, null, 2) : out.human);
  } catch (err) {
    if (!(err instanceof KeyDirError)) throw err;
    console.error(`error: ${err.message}`);
    process.exitCode = EXIT_USAGE;
  }
}

/** How long the viewer token for the check before `ca rotate --finish` lives, when minted here (no $FLOTILLA_TOKEN). */
const FINISH_CHECK_TOKEN_TTL_MS = 5 * 60_000;

/**
 * Refuses (KeyDirError) to drop the previous CA while an active container of the manager at
 * `url` does not serve a certificate of the current one, or when that cannot be checked.
 */
async function checkBeforeFinish(dir: KeyDir, url: string): Promise<Array<{ container_id: string; ca: string; detail: string }>> {
  const state = dir.exists() ? dir.readCaState() : null;
  // Nothing to check: finishCaRotation says what is wrong.
  if (state?.rotation == null) return [];
  const { checkContainersCa, RotationCheckError } = await import('../tls/rotation-check.js');
  const token =
    envString(process.env, TOKEN_ENV) ??
    (await (await import('../auth/tokens.js')).mintToken(dir.load(), { sub: 'ca-rotate-finish', role: 'viewer', ttlMs: FINISH_CHECK_TOKEN_TTL_MS })).token;
  let findings;
  try {
    findings = await checkContainersCa({ managerUrl: url, token, currentCaPem: state.certPem, previousCaPem: state.rotation.previousCertPem });
  } catch (err) {
    if (!(err instanceof RotationCheckError)) throw err;
    throw new KeyDirError(`${err.message}; nothing changed (pass --force to finish without checking the containers)`, { cause: err });
  }
  const behind = findings.filter((f) => f.ca !== 'current');
  if (behind.length > 0) {
    throw new KeyDirError(
      `not finishing: ${behind.length} active container${behind.length === 1 ? '' : 's'} would lose the cluster: ${behind.map((f) => `${f.container_id} (${f.address}) ${f.detail}`).join('; ')}. ` +
        'Containers renew within FLOTILLA_CA_CHECK_INTERVAL (default 30 s) of the rotation: wait and run it again, or pass --force',
    );
  }
  return findings;
}

export function registerKeyCommands(program: Command): void {
  const token = program.command('token').description("API tokens, signed with the manager's key directory");
  withKeyDir(token.command('create').description('create a bearer token (prints it)'))
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`, parseRole)
    .option('--ttl <duration>', `lifetime, e.g. 15m, 24h, 30d (default ${formatDuration(DEFAULT_TOKEN_TTL_MS)})`, parseTtl)
    .option('--sub <name>', 'who the token is for (default: <role>-token)', parseName)
    .option('--container-id <id>', 'for --role container: the one container it may act for', parseName)
    .action((flags: KeyDirFlags & { role: Role; ttl?: number; sub?: string; containerId?: string }) =>
      run(flags, async (dir) => {
        if (flags.role === 'container' && flags.containerId === undefined) throw new KeyDirError('--role container needs --container-id (the container it may act for)');
        if (flags.role !== 'container' && flags.containerId !== undefined) throw new KeyDirError('--container-id is only for --role container');
        const { mintToken } = await import('../auth/tokens.js');
        const minted = await mintToken(dir.load(), {
          sub: flags.sub ?? (flags.containerId === undefined ? `${flags.role}-token` : `container:${flags.containerId}`),
          role: flags.role,
          ttlMs: flags.ttl ?? DEFAULT_TOKEN_TTL_MS,
          ...(flags.containerId === undefined ? {} : { cid: flags.containerId }),
        });
        return { json: { token: minted.token, role: flags.role, expires_at: minted.expiresAt.toISOString(), kid: minted.kid, jti: minted.jti }, human: minted.token };
      }),
    );

  withKeyDir(token.command('revoke').description('refuse one token from now on (by the token itself, or its id: the jti of `token create --json`), until it would have expired'))
    .argument('<token-or-id>', 'the token (a JWT), or its id')
    .action((tokenOrId: string, flags: KeyDirFlags) =>
      run(flags, async (dir) => {
        const { revocationOf } = await import('./revoke.js');
        const target = await revocationOf(dir, tokenOrId);
        if (target.kind === 'refused-already') return { json: { revoked: false, reason: target.reason }, human: target.reason };
        const { entry, added } = dir.revoke(target.entry);
        const human = `${added ? 'revoked' : 'already revoked'}: token ${entry.jti}${entry.sub === null ? '' : ` (${entry.sub}, ${entry.role})`}, refused by the manager within a second and by containers within their key refresh (FLOTILLA_JWKS_REFRESH_MS); the entry is dropped at ${entry.expires_at}`;
        return { json: { revoked: true, added, ...entry }, human };
      }),
    );
  withKeyDir(token.command('revoked').description('list the revoked tokens that have not expired yet')).action((flags: KeyDirFlags) =>
    run(flags, async (dir) => {
      const list = dir.revokedTokens();
      const human = list.length === 0 ? 'no revoked tokens' : ['ID                                    SUBJECT              ROLE       EXPIRES', ...list.map((r) => `${r.jti.padEnd(37)} ${(r.sub ?? '-').padEnd(20)} ${(r.role ?? '-').padEnd(10)} ${r.expires_at}`)].join('\n');
      return { json: { revoked: list }, human };
    }),
  );

  const keys = program.command('keys').description("the manager's token-signing keys");
  withKeyDir(keys.command('init').description('create the key directory (the manager does this on its first start)')).action((flags: KeyDirFlags) =>
    run(flags, async (dir) => {
      const created = dir.init();
      const fingerprint = clusterFingerprint(dir.load());
      return { json: { key_dir: dir.path, created, fingerprint }, human: created ? `created the cluster keys in ${dir.path}` : `${dir.path} already holds the cluster keys` };
    }),
  );
  withKeyDir(keys.command('list').description('list the signing keys and their state (signing, verify-only, retired)')).action((flags: KeyDirFlags) =>
    run(flags, async (dir) => {
      const set = dir.load();
      const rows = set.signing.map((k) => ({ kid: k.kid, state: keyState(k), created_at: k.created_at, retire_at: k.retire_at, max_ttl: formatDuration(k.max_ttl_ms) }));
      const human = ['KID                       STATE        CREATED                   RETIRES', ...rows.map((r) => `${r.kid.padEnd(25)} ${r.state.padEnd(12)} ${r.created_at.padEnd(25)} ${r.retire_at ?? '-'}`)].join('\n');
      return { json: { keys: rows, fingerprint: clusterFingerprint(set) }, human };
    }),
  );
  withKeyDir(keys.command('rotate').description('add a new signing key; the old one verifies until its tokens expire, then retires'))
    .option('--max-ttl <duration>', `longest lifetime of a token the new key signs (default ${formatDuration(DEFAULT_MAX_TOKEN_TTL_MS)})`, parseTtl)
    .action((flags: KeyDirFlags & { maxTtl?: number }) =>
      run(flags, async (dir) => {
        const { added, rotatedOut } = dir.rotate(flags.maxTtl ?? DEFAULT_MAX_TOKEN_TTL_MS);
        const out = rotatedOut.map((k) => ({ kid: k.kid, retire_at: k.retire_at }));
        const human = [`new signing key ${added.kid}`, ...out.map((k) => `key ${k.kid} verifies until ${k.retire_at}, then retires`)].join('\n');
        return { json: { signing: added.kid, rotated_out: out }, human };
      }),
    );
  withKeyDir(keys.command('retire').description('retire a rotated-out key now (a leaked key): its tokens are refused'))
    .argument('<kid>', 'the key id (see keys list)')
    .action((kid: string, flags: KeyDirFlags) =>
      run(flags, async (dir) => {
        const retired = dir.retire(kid);
        return { json: { kid: retired.kid, retire_at: retired.retire_at }, human: `key ${retired.kid} retired` };
      }),
    );

  withKeyDir(program.command('join-token').description('print the token containers join with (FLOTILLA_JOIN_TOKEN); --rotate makes a new one'))
    .option('--rotate', 'replace it: new joins need the new token; running containers are not disturbed')
    .action((flags: KeyDirFlags & { rotate?: boolean }) =>
      run(flags, async (dir) => {
        const joinToken = flags.rotate === true ? dir.rotateJoinToken() : dir.load().joinToken;
        return { json: { join_token: joinToken, rotated: flags.rotate === true }, human: joinToken };
      }),
    );

  const ca = program.command('ca').description("the cluster CA that issues the containers' TLS certificates");
  withKeyDir(ca.command('init').description('create the cluster CA in the key directory (the join token then carries its fingerprint)'))
    .option('--force', 'replace an existing CA (every certificate it issued stops being trusted)')
    .action((flags: KeyDirFlags & { force?: boolean }) =>
      run(flags, async (dir) => {
        // Loaded only here: the X.509 writer is not needed by any other CLI command.
        const { initClusterCa } = await import('../tls/ca.js');
        const made = await initClusterCa(dir, { force: flags.force === true });
        const human = [
          `${made.replaced ? 'replaced' : 'created'} the cluster CA in ${dir.path} (${made.certFile})`,
          `fingerprint ${made.fingerprint}`,
          'the join token now carries this fingerprint (same secret): give containers the new one (flotilla join-token)',
          'restart the manager with FLOTILLA_TLS=on to serve HTTPS',
        ].join('\n');
        return { json: { key_dir: dir.path, ca_cert_file: made.certFile, fingerprint: made.fingerprint, not_after: made.notAfter, join_token: made.joinToken, replaced: made.replaced }, human };
      }),
    );
  withKeyDir(ca.command('rotate').description('replace the cluster CA with no downtime: a new CA signs, the old one stays trusted until --finish'))
    .option('--finish', 'end the rotation: drop the previous CA (refused while an active container still serves a certificate of it, when --url is known)')
    .option('--url <url>', `with --finish: the manager to list the active containers from, whose served certificates are checked (default: $${MANAGER_URL_ENV})`)
    .option('--force', 'with --finish: skip that check, and clear the files of a rotation interrupted half-way')
    .action((flags: KeyDirFlags & { finish?: boolean; force?: boolean; url?: string }) =>
      run(flags, async (dir) => {
        if (flags.finish !== true && (flags.force === true || flags.url !== undefined)) throw new KeyDirError('--force and --url go with --finish only');
        const { finishCaRotation, rotateClusterCa } = await import('../tls/ca.js');
        if (flags.finish === true) {
          const url = flags.url ?? envString(process.env, MANAGER_URL_ENV);
          const findings = url === undefined || flags.force === true ? null : await checkBeforeFinish(dir, url);
          const done = finishCaRotation(dir, { force: flags.force === true });
          const human = [
            done.droppedFingerprint === null ? `cleared an interrupted CA rotation in ${dir.path}` : `finished the CA rotation started ${done.startedAt}: the previous CA ${done.droppedFingerprint.slice(0, 16)}… is no longer trusted`,
            `the cluster CA is ${done.fingerprint}`,
            findings === null
              ? `not checked whether every container had moved to it (${flags.force === true ? '--force' : `no --url or $${MANAGER_URL_ENV}`})`
              : `all ${findings.length} active container${findings.length === 1 ? '' : 's'} served a certificate of it`,
            'managers trust only it within a second, containers at their next CA check (FLOTILLA_CA_CHECK_INTERVAL, default 30 s)',
            'tools with a certificate from the previous CA (`flotilla ca issue`) need a new one, and ca-cert.pem as their CA file',
          ].join('\n');
          return {
            json: { key_dir: dir.path, finished: true, fingerprint: done.fingerprint, dropped_fingerprint: done.droppedFingerprint, started_at: done.startedAt, checked: findings !== null, containers: findings ?? [] },
            human,
          };
        }
        const r = await rotateClusterCa(dir);
        const human = [
          `started a CA rotation in ${dir.path}: the new CA ${r.fingerprint.slice(0, 16)}… signs from now on (${r.files.cert})`,
          `the previous CA ${r.previousFingerprint.slice(0, 16)}… stays trusted (${r.files.previousCert}); ${r.files.crossCert} lets members that trust only it accept the new one`,
          `join token (new fingerprint, same secret): ${r.joinToken}`,
          'the old join token still admits until the rotation is finished',
          'running managers take the new CA within a second; containers renew within FLOTILLA_CA_CHECK_INTERVAL (default 30 s)',
          'then, once every container serves a certificate of the new CA: flotilla ca rotate --finish --url <manager URL> (it checks that first)',
        ].join('\n');
        return {
          json: {
            key_dir: dir.path,
            fingerprint: r.fingerprint,
            previous_fingerprint: r.previousFingerprint,
            started_at: r.startedAt,
            not_after: r.notAfter,
            join_token: r.joinToken,
            previous_join_token: r.previousJoinToken,
            ca_cert_file: r.files.cert,
            previous_ca_cert_file: r.files.previousCert,
            cross_cert_file: r.files.crossCert,
          },
          human,
        };
      }),
    );
  withKeyDir(ca.command('issue').description('a client certificate from the cluster CA for a tool that calls the containers (Prometheus for /metrics, monitoring)'))
    .argument('<name>', 'the name in the certificate (e.g. prometheus)', parseName)
    .requiredOption('--out <dir>', 'where to write <name>-cert.pem, <name>-key.pem (0600) and ca-cert.pem; created 0700 if missing')
    .option('--ttl <duration>', `lifetime, e.g. 24h, 30d (default ${formatDuration(DEFAULT_ISSUED_CERT_TTL_MS)}); issue a new one before it ends`, parseTtl)
    .action((name: string, flags: KeyDirFlags & { out: string; ttl?: number }) =>
      run(flags, async (dir) => {
        const { issueClientCertificate } = await import('../tls/ca.js');
        const issued = await issueClientCertificate(dir, name, flags.out, flags.ttl ?? DEFAULT_ISSUED_CERT_TTL_MS);
        const human = [
          `issued ${issued.certFile} (and its key ${issued.keyFile}) for ${name}, valid until ${issued.notAfter}`,
          `the cluster CA is in ${issued.caFile}: use the three as the client's cert, key and CA (e.g. Prometheus's tls_config)`,
        ].join('\n');
        return { json: { name, cert_file: issued.certFile, key_file: issued.keyFile, ca_cert_file: issued.caFile, not_after: issued.notAfter }, human };
      }),
    );
}
