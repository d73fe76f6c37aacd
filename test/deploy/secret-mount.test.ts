/**
 * Authentication as the deploy files wire it, with real processes: a key directory made by
 * `flotilla keys init`, presented read-only the way a Kubernetes Secret volume is (every file a
 * symlink into `..data`, itself a symlink to a timestamped directory; directories 0500, files 0440
 * readable through the group), a manager started THROUGH the image's entrypoint with the
 * environment the Kubernetes and compose files give it (no FLOTILLA_AUTH: on by default), a real
 * redis-server, and a container started through the entrypoint with its join token in a secret
 * file (FLOTILLA_JOIN_TOKEN_FILE). An admin token made by `flotilla token create --key-dir`
 * sees the container and gets an answer from an `echo` agent. Then `..data` is swapped to a
 * rotated copy (`flotilla keys rotate` on a copy, as the kubelet swaps it after a Secret update),
 * and a token signed by the new key is accepted by the same manager process, no restart. The
 * Swarm stack's layout (secrets under /run/secrets/flotilla-keys, signing-current.json) too.
 * Running as root, the processes run as root WITHOUT capabilities (setpriv clears the bounding
 * set), so that the 0500/0440 modes really keep them from writing, as in the pod; dropping to
 * another uid instead would need the checkout to be readable by that uid, which a clone under
 * /root is not. Everything on loopback.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, freePort, http, waitFor } from '../helpers/processes.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { runTool } from './deploy-files.js';
import { killAllEntrypoints, startEntrypoint, stopEntrypoint, type EntrypointProcess } from './entrypoint-process.js';

const PASSWORD = 'deploy-secret-mount-test';
const CONTAINER = 'secret-mount-test';
const asRoot = process.getuid?.() === 0;
/** As root: no capabilities, so file modes bind the process as they bind any user's. */
const NO_CAPS = asRoot ? ['setpriv', '--bounding-set', '-all', '--inh-caps', '-all'] : [];
const ownGid = process.getgid?.() ?? 0;
const ownUid = process.getuid?.() ?? 0;

let dir: string;
let redis: RedisServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-secret-mount-'));
  // The processes under test (without capabilities when we are root) must reach the files in here.
  chmodSync(dir, 0o755);
  redis = await startRedisServer({ args: ['--requirepass', PASSWORD] });
});

after(async () => {
  killAllEntrypoints();
  await redis?.stop();
  if (dir !== undefined) {
    // Our own read-only directories: make them removable again.
    for (const d of [join(dir, 'mount'), ...listDirs(join(dir, 'mount')), join(dir, 'run-secrets', 'flotilla-keys')]) tryChmod(d, 0o700);
    rmSync(dir, { recursive: true, force: true });
  }
});

function tryChmod(path: string, mode: number): void {
  try {
    chmodSync(path, mode);
  } catch {
    /* already gone */
  }
}

function listDirs(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(path, e.name));
  } catch {
    return [];
  }
}

/** `flotilla ARGS` offline on a key directory, as an operator runs it; stdout trimmed. */
async function flotilla(...args: string[]): Promise<string> {
  const r = await runTool(process.execPath, [CLI, ...args]);
  assert.equal(r.code, 0, `flotilla ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * A Kubernetes Secret volume's layout: `<ts>/` holds the files, `..data` points at it, and each
 * file name at the top is a symlink `NAME -> ..data/NAME`. Files 0440 (group: the pod's fsGroup),
 * directories 0500: nothing in it is writable by the process.
 */
function writeSecretVersion(mount: string, version: string, source: string): void {
  const ts = join(mount, version);
  mkdirSync(ts);
  for (const f of readdirSync(source)) {
    cpSync(join(source, f), join(ts, f));
    if (asRoot) chownSync(join(ts, f), 0, ownGid);
    chmodSync(join(ts, f), 0o440);
  }
  if (asRoot) chownSync(ts, ownUid, ownGid);
  chmodSync(ts, 0o500);
}

function presentAsSecret(source: string, mount: string): void {
  mkdirSync(mount);
  writeSecretVersion(mount, '..2026_11_27_00_00_00.000000001', source);
  symlinkSync('..2026_11_27_00_00_00.000000001', join(mount, '..data'));
  for (const f of readdirSync(source)) symlinkSync(join('..data', f), join(mount, f));
  if (asRoot) chownSync(mount, ownUid, ownGid);
  chmodSync(mount, 0o500);
}

/** What the kubelet does on a Secret update: a new timestamped dir, then `..data` renamed over atomically. */
function swapSecret(source: string, mount: string): void {
  chmodSync(mount, 0o700);
  writeSecretVersion(mount, '..2026_11_27_00_05_00.000000002', source);
  symlinkSync('..2026_11_27_00_05_00.000000002', join(mount, '..data_tmp'));
  renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
  // A key new in the Secret gets its top-level link (the kubelet adds it the same way).
  for (const f of readdirSync(source)) {
    try {
      lstatSync(join(mount, f));
    } catch {
      symlinkSync(join('..data', f), join(mount, f));
    }
  }
  chmodSync(mount, 0o500);
}

/** Names, kinds, sizes, modes and mtimes of everything under `path`: proof that nothing was written. */
function snapshot(path: string): string {
  const lines: string[] = [];
  const walk = (p: string, prefix: string): void => {
    for (const e of readdirSync(p, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const s = lstatSync(join(p, e.name));
      lines.push(`${prefix}${e.name} ${s.mode.toString(8)} ${s.size} ${s.mtimeMs}`);
      if (e.isDirectory()) walk(join(p, e.name), `${prefix}${e.name}/`);
    }
  };
  walk(path, '');
  return lines.join('\n');
}

/** The entrypoint as the pod runs it: file modes bind it (no capabilities when we are root). */
const startNoCaps = (args: string[], env: Record<string, string>) => startEntrypoint(args, env, NO_CAPS);

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Waits until the manager at `url` lists `name` (asked with `token`); fails with both processes' output. */
async function waitRegistered(url: string, token: string, name: string, manager: EntrypointProcess, container: EntrypointProcess): Promise<void> {
  await waitFor(
    `${name} to register`,
    async () => manager.child.exitCode === null && (await http<{ containers?: { container_id: string }[] }>('GET', `${url}/api/v1/cluster/containers`, undefined, bearer(token))).body.containers?.some((c) => c.container_id === name),
    20_000,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logsOf(manager, container)}`);
  });
}

function logsOf(manager: EntrypointProcess, container: EntrypointProcess): string {
  return `--- manager:\n${manager.output.join('')}\n--- container:\n${container.output.join('')}`;
}

test('a manager on a read-only, Secret-style key directory, through the entrypoint: a container joins with its join token file, an echo agent answers, and a rotated key swapped in via ..data is accepted without a restart', async () => {
  // The operator's side: keys and tokens made offline with the CLI, as docs/deploy/kubernetes.md says.
  const source = join(dir, 'keys');
  await flotilla('keys', 'init', '--key-dir', source);
  const adminToken = await flotilla('token', 'create', '--role', 'admin', '--key-dir', source);
  const joinToken = await flotilla('join-token', '--key-dir', source);
  const rotated = join(dir, 'keys-rotated');
  cpSync(source, rotated, { recursive: true });
  await flotilla('keys', 'rotate', '--key-dir', rotated);
  const rotatedAdminToken = await flotilla('token', 'create', '--role', 'admin', '--key-dir', rotated);
  assert.equal(readdirSync(rotated).filter((f) => f.startsWith('signing-')).length, 2, 'the rotation added a key');

  const mount = join(dir, 'mount');
  presentAsSecret(source, mount);
  const before = snapshot(mount);
  const joinTokenFile = join(dir, 'join-token');
  writeFileSync(joinTokenFile, `${joinToken}\n`, { mode: 0o400 });
  if (asRoot) chownSync(joinTokenFile, ownUid, ownGid);

  const redisUrl = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`;
  const prefix = `secret-mount-${process.pid}:`;
  const managerPort = await freePort();
  const agentPort = await freePort();
  const url = `http://127.0.0.1:${managerPort}`;
  // What deploy/k8s/base/manager-deployment.yaml gives the manager (ConfigMap included), on loopback.
  const manager = startNoCaps(['manager'], {
    CLUSTER_PORT: String(managerPort),
    FLOTILLA_KEY_DIR: mount,
    REDIS_URL: redisUrl,
    EXTERNAL_IP: '127.0.0.1',
    FLOTILLA_LOG_LEVEL: 'info',
    FLOTILLA_PREFIX: prefix,
    FLOTILLA_BIND_ADDRESS: '127.0.0.1',
  });
  // What the agent containers get: the join token from a secret file, no FLOTILLA_TOKEN.
  const container = startNoCaps(['container'], {
    AGENT_PORT: String(agentPort),
    CENTRAL_MANAGER_URL: url,
    EXTERNAL_IP: '127.0.0.1',
    CONTAINER_NAME: CONTAINER,
    REDIS_URL: redisUrl,
    FLOTILLA_JOIN_TOKEN_FILE: joinTokenFile,
    FLOTILLA_LOG_LEVEL: 'info',
    FLOTILLA_PREFIX: prefix,
    FLOTILLA_BIND_ADDRESS: '127.0.0.1',
  });
  const logs = (): string => logsOf(manager, container);
  try {
    await waitFor('the manager to be ready', async () => manager.child.exitCode === null && (await http('GET', `${url}/ready`)).status === 200, 20_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logs()}`);
    });
    // Authentication is on: no token, no answer.
    assert.equal((await http('GET', `${url}/api/v1/cluster/containers`)).status, 401);
    // The container registered with its join token.
    await waitRegistered(url, adminToken, CONTAINER, manager, container);
    const deployed = await http<{ agents?: { container_id: string }[] }>('POST', `${url}/api/v1/cluster/agents/deploy`, { agent_type: 'echo', name: 'mounted', preferred_container: CONTAINER }, bearer(adminToken));
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    assert.equal(deployed.body.agents?.[0]?.container_id, CONTAINER);
    const answer = await http<{ status: string; result: { echo: unknown; count: number } }>('POST', `${url}/api/v1/agents/echo/mounted/messages`, { message: { text: 'through the mount' }, timeout_ms: 15_000 }, bearer(adminToken));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'completed');
    assert.deepEqual(answer.body.result, { echo: { text: 'through the mount' }, count: 1 });

    // The manager wrote nothing into its key directory, and found nothing to warn about (0440 is its own group's).
    assert.equal(snapshot(mount), before);
    assert.doesNotMatch(manager.output.join(''), /created the cluster keys|readable by others/);

    // A token of the rotated key is unknown until the Secret is updated...
    assert.equal((await http('GET', `${url}/api/v1/cluster/containers`, undefined, bearer(rotatedAdminToken))).status, 401);
    const pid = manager.child.pid;
    swapSecret(rotated, mount);
    // ...then accepted by the same process (it re-reads the directory within a second of a request).
    // Polled gently: each refusal until then counts towards the manager's limit of failed
    // authentications per address, and 20 at the default 50 ms would reach it (429) first.
    await waitFor('the rotated key to be accepted', async () => (await http('GET', `${url}/api/v1/cluster/containers`, undefined, bearer(rotatedAdminToken))).status === 200, 10_000, 250).catch(
      (err: unknown) => {
        throw new Error(`${(err as Error).message}\n${logs()}`);
      },
    );
    assert.equal(manager.child.pid, pid);
    assert.equal(manager.child.exitCode, null, 'the manager restarted or stopped');
    assert.match(manager.output.join(''), /key directory changed: keys reloaded/);
    // The old key verifies until it retires: the first admin token still works.
    assert.equal((await http('GET', `${url}/api/v1/cluster/containers`, undefined, bearer(adminToken))).status, 200);
    // And the agent still answers.
    const again = await http<{ status: string; result: { count: number } }>('POST', `${url}/api/v1/agents/echo/mounted/messages`, { message: 'again', timeout_ms: 15_000 }, bearer(rotatedAdminToken));
    assert.equal(again.body.status, 'completed', JSON.stringify(again.body));
    assert.equal(again.body.result.count, 2);
  } finally {
    await stopEntrypoint(container);
    await stopEntrypoint(manager);
  }
});

test('the Swarm stack\'s layout: key secrets under /run/secrets/flotilla-keys (0400, the image\'s user), the signing key as signing-current.json, the Redis URL and join token from secret files', async () => {
  const source = join(dir, 'keys-swarm');
  await flotilla('keys', 'init', '--key-dir', source);
  const adminToken = await flotilla('token', 'create', '--role', 'admin', '--key-dir', source);
  const joinToken = await flotilla('join-token', '--key-dir', source);
  // What `docker secret create` + the stack's long syntax produce (target, uid, gid, mode 0400).
  const secrets = join(dir, 'run-secrets');
  const keyDir = join(secrets, 'flotilla-keys');
  mkdirSync(keyDir, { recursive: true });
  const place = (from: string, to: string, content?: string): string => {
    const target = join(secrets, to);
    writeFileSync(target, content ?? readFileSync(join(source, from)));
    if (asRoot) chownSync(target, ownUid, ownGid);
    chmodSync(target, 0o400);
    return target;
  };
  place('identity.json', 'flotilla-keys/identity.json');
  place('join-token.json', 'flotilla-keys/join-token.json');
  const [signing] = readdirSync(source).filter((f) => f.startsWith('signing-'));
  place(signing!, 'flotilla-keys/signing-current.json');
  const redisUrlFile = place('', 'flotilla_redis_url', `redis://:${PASSWORD}@127.0.0.1:${redis.port}`);
  const joinTokenFile = place('', 'flotilla_join_token', `${joinToken}\n`);
  // Docker makes these directories as root: the process (uid 1000) cannot write there.
  chmodSync(keyDir, asRoot ? 0o755 : 0o500);
  const before = snapshot(secrets);

  const managerPort = await freePort();
  const url = `http://127.0.0.1:${managerPort}`;
  const prefix = `secret-swarm-${process.pid}:`;
  // deploy/swarm/stack.yml's environment for each service, on loopback.
  const manager = startNoCaps(['manager'], { REDIS_URL_FILE: redisUrlFile, CLUSTER_PORT: String(managerPort), FLOTILLA_KEY_DIR: keyDir, FLOTILLA_LOG_LEVEL: 'info', FLOTILLA_PREFIX: prefix, FLOTILLA_BIND_ADDRESS: '127.0.0.1' });
  const container = startNoCaps(['container'], {
    CENTRAL_MANAGER_URL: url,
    REDIS_URL_FILE: redisUrlFile,
    FLOTILLA_JOIN_TOKEN_FILE: joinTokenFile,
    CONTAINER_NAME: 'agent-1',
    AGENT_PORT: String(await freePort()),
    EXTERNAL_IP: '127.0.0.1',
    FLOTILLA_LOG_LEVEL: 'info',
    FLOTILLA_PREFIX: prefix,
    FLOTILLA_BIND_ADDRESS: '127.0.0.1',
  });
  try {
    await waitRegistered(url, adminToken, 'agent-1', manager, container);
    assert.equal((await http('GET', `${url}/api/v1/cluster/containers`)).status, 401);
    assert.equal(snapshot(secrets), before);
    assert.doesNotMatch(manager.output.join(''), /created the cluster keys|readable by others/);
  } finally {
    await stopEntrypoint(container);
    await stopEntrypoint(manager);
  }
});

test('a read-only key directory that lacks a file: the manager stops at once, saying which file and what to mount', async () => {
  const source = join(dir, 'keys-incomplete');
  await flotilla('keys', 'init', '--key-dir', source);
  rmSync(join(source, 'join-token.json'));
  const mount = join(dir, 'mount-incomplete');
  mkdirSync(mount);
  for (const f of readdirSync(source)) {
    cpSync(join(source, f), join(mount, f));
    if (asRoot) chownSync(join(mount, f), 0, ownGid);
    chmodSync(join(mount, f), 0o440);
  }
  if (asRoot) chownSync(mount, ownUid, ownGid);
  chmodSync(mount, 0o500);
  const manager = startNoCaps(['manager'], {
    CLUSTER_PORT: String(await freePort()),
    FLOTILLA_KEY_DIR: mount,
    REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${redis.port}`,
    FLOTILLA_BIND_ADDRESS: '127.0.0.1',
    FLOTILLA_PREFIX: `secret-mount-incomplete-${process.pid}:`,
  });
  try {
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000).unref());
    const code = await Promise.race([manager.exited, timeout]);
    assert.notEqual(code, 'timeout', `the manager kept running:\n${manager.output.join('')}`);
    assert.notEqual(code, 0);
    const out = manager.output.join('');
    assert.match(out, /join-token\.json/);
    assert.match(out, /read-only key directory/);
  } finally {
    await stopEntrypoint(manager);
    chmodSync(mount, 0o700);
  }
});
