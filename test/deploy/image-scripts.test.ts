/**
 * The two scripts the image runs, run here for real: the entrypoint (deploy/docker-entrypoint.sh,
 * NAME_FILE secrets into NAME, then `flotilla "$@"`) and the HEALTHCHECK (deploy/healthcheck.mjs,
 * GET /health on the role's own port). A real redis-server with a password, a manager and a
 * container started through the entrypoint with their Redis URL in a secret file, both found
 * healthy by the check, then unhealthy once stopped. Everything on loopback.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_AGENT_PORT, DEFAULT_CLUSTER_PORT } from '../../src/protocol/paths.js';
import { VERSION } from '../../src/common/version.js';
import { freePort, http, waitFor } from '../helpers/processes.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { testKeys } from '../helpers/auth.js';
import { initClusterCa } from '../../src/tls/index.js';
import { DEPLOY_DIR, runTool } from './deploy-files.js';
import { ENTRYPOINT, killAllEntrypoints, startEntrypoint, stopEntrypoint } from './entrypoint-process.js';

const HEALTHCHECK = join(DEPLOY_DIR, 'healthcheck.mjs');
const PASSWORD = 'deploy-test-secret';

interface HealthcheckModule {
  DEFAULT_CLUSTER_PORT: number;
  DEFAULT_AGENT_PORT: number;
  roleFromArgs(args: string[]): string | undefined;
  roleFromCmdline(path: string): string | undefined;
  healthTarget(role: string, env: Record<string, string | undefined>): { host: string; port: number; path: string; scheme: 'http' | 'https' };
}
const healthcheck = (await import(pathToFileURL(HEALTHCHECK).href)) as HealthcheckModule;

let dir: string;
let redis: RedisServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-entrypoint-'));
  redis = await startRedisServer({ args: ['--requirepass', PASSWORD] });
});

after(async () => {
  killAllEntrypoints();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function secretFile(name: string, content: string): string {
  const path = join(dir, name);
  // A trailing newline, as `echo … > file` and most secret stores write it.
  writeFileSync(path, `${content}\n`, { mode: 0o400 });
  return path;
}

test('entrypoint: runs flotilla with the arguments it is given', async () => {
  const r = await runTool('/bin/sh', [ENTRYPOINT, '--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), VERSION);
});

test('entrypoint: NAME_FILE reaches flotilla as NAME (its content, the trailing newline dropped)', async () => {
  // Flotilla's own check of CENTRAL_MANAGER_URL quotes the value: proof of what arrived.
  const r = await runTool('/bin/sh', [ENTRYPOINT, 'container'], { CENTRAL_MANAGER_URL_FILE: secretFile('manager-url', 'ftp://127.0.0.1:1') });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /CENTRAL_MANAGER_URL="ftp:\/\/127\.0\.0\.1:1" must start with http/);
});

test('entrypoint: NAME and NAME_FILE both set, or an unreadable file, is a configuration error (exit 2)', async () => {
  const both = await runTool('/bin/sh', [ENTRYPOINT, 'manager'], { REDIS_URL: redis.url, REDIS_URL_FILE: secretFile('both', redis.url) });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /both REDIS_URL and REDIS_URL_FILE are set/);
  const missing = await runTool('/bin/sh', [ENTRYPOINT, 'manager'], { REDIS_URL_FILE: join(dir, 'no-such-secret') });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /REDIS_URL_FILE=.*no-such-secret is not a readable file/);
});

test('entrypoint: a standard *_FILE variable (SSL_CERT_FILE) is left alone', async () => {
  const r = await runTool('/bin/sh', [ENTRYPOINT, '--version'], { SSL_CERT_FILE: join(dir, 'not-a-secret.pem') });
  assert.equal(r.code, 0, r.stderr);
});

test('healthcheck: the role from the arguments, from PID 1\'s command line, and the port from the role', () => {
  assert.equal(healthcheck.DEFAULT_CLUSTER_PORT, DEFAULT_CLUSTER_PORT);
  assert.equal(healthcheck.DEFAULT_AGENT_PORT, DEFAULT_AGENT_PORT);
  assert.equal(healthcheck.roleFromArgs(['container']), 'container');
  const cmdline = join(dir, 'cmdline');
  writeFileSync(cmdline, ['/sbin/docker-init', '--', '/bin/sh', '/app/deploy/docker-entrypoint.sh', 'container', ''].join('\0'));
  assert.equal(healthcheck.roleFromCmdline(cmdline), 'container');
  writeFileSync(cmdline, ['node', '/app/dist/cli/main.js', 'manager', ''].join('\0'));
  assert.equal(healthcheck.roleFromCmdline(cmdline), 'manager');
  assert.equal(healthcheck.roleFromCmdline(join(dir, 'absent')), undefined);
  assert.deepEqual(healthcheck.healthTarget('manager', {}), { host: '127.0.0.1', port: DEFAULT_CLUSTER_PORT, path: '/health', scheme: 'http' });
  assert.deepEqual(healthcheck.healthTarget('container', {}), { host: '127.0.0.1', port: DEFAULT_AGENT_PORT, path: '/health', scheme: 'http' });
  // TLS on: a manager with FLOTILLA_TLS=on, a container joining an https:// manager.
  assert.equal(healthcheck.healthTarget('manager', { FLOTILLA_TLS: 'ON' }).scheme, 'https');
  assert.equal(healthcheck.healthTarget('manager', { FLOTILLA_TLS: 'off', CENTRAL_MANAGER_URL: 'https://m:8000' }).scheme, 'http');
  assert.equal(healthcheck.healthTarget('container', { CENTRAL_MANAGER_URL: 'https://m:8000' }).scheme, 'https');
  assert.deepEqual(healthcheck.healthTarget('container', { AGENT_PORT: '9101', CLUSTER_PORT: '9100' }).port, 9101);
  assert.deepEqual(healthcheck.healthTarget('dev', { CLUSTER_PORT: '9100' }).port, 9100);
  assert.equal(healthcheck.healthTarget('manager', { FLOTILLA_BIND_ADDRESS: '127.0.0.9' }).host, '127.0.0.9');
});

test('a manager and a container started through the entrypoint (the container without a command, as the users\' guide writes it), Redis URL from a secret file, pass the healthcheck; stopped, they fail it', async () => {
  const redisUrlFile = secretFile('redis-url', `redis://:${PASSWORD}@127.0.0.1:${redis.port}`);
  const managerPort = await freePort();
  const agentPort = await freePort();
  // Authentication on, as in production: the manager's keys in a directory, the join token as a secret file.
  const keys = testKeys('deploy');
  const joinTokenFile = secretFile('join-token', keys.joinToken());
  const manager = startEntrypoint(['manager'], { REDIS_URL_FILE: redisUrlFile, CLUSTER_PORT: String(managerPort), FLOTILLA_BIND_ADDRESS: '127.0.0.1', FLOTILLA_PREFIX: `deploy-${process.pid}:`, ...keys.env });
  // No command: the image's default `auto` runs a container because CENTRAL_MANAGER_URL is set.
  const container = startEntrypoint(['auto'], {
    REDIS_URL_FILE: redisUrlFile,
    FLOTILLA_JOIN_TOKEN_FILE: joinTokenFile,
    CENTRAL_MANAGER_URL: `http://127.0.0.1:${managerPort}`,
    AGENT_PORT: String(agentPort),
    EXTERNAL_IP: '127.0.0.1',
    CONTAINER_NAME: 'deploy-test',
    FLOTILLA_BIND_ADDRESS: '127.0.0.1',
    FLOTILLA_PREFIX: `deploy-${process.pid}:`,
  });
  try {
    // /ready is 200 only when Redis answers: the password from the file was right.
    await waitFor('the manager to be ready', async () => (await http('GET', `http://127.0.0.1:${managerPort}/ready`)).status === 200, 20_000);
    await waitFor('the container to be ready', async () => (await http('GET', `http://127.0.0.1:${agentPort}/ready`)).status === 200, 20_000);

    const checkManager = await runTool(process.execPath, [HEALTHCHECK, 'manager'], { CLUSTER_PORT: String(managerPort) });
    assert.equal(checkManager.code, 0, checkManager.stderr);
    const checkContainer = await runTool(process.execPath, [HEALTHCHECK, 'container'], { AGENT_PORT: String(agentPort), CLUSTER_PORT: String(managerPort) });
    assert.equal(checkContainer.code, 0, checkContainer.stderr);
    // No role given and none in PID 1 here: a container is told apart by CENTRAL_MANAGER_URL.
    if (healthcheck.roleFromCmdline('/proc/1/cmdline') === undefined) {
      const guessed = await runTool(process.execPath, [HEALTHCHECK], { AGENT_PORT: String(agentPort), CENTRAL_MANAGER_URL: `http://127.0.0.1:${managerPort}` });
      assert.equal(guessed.code, 0, guessed.stderr);
    }
    // The role decides the port: the container's check on the manager's port is not the same check.
    const wrongPort = await runTool(process.execPath, [HEALTHCHECK, 'container'], { AGENT_PORT: String(await freePort()) });
    assert.equal(wrongPort.code, 1);
    assert.match(wrongPort.stderr, /flotilla container unhealthy: .*ECONNREFUSED/);
  } finally {
    await stopEntrypoint(container);
    await stopEntrypoint(manager);
    keys.remove();
  }
  const after = await runTool(process.execPath, [HEALTHCHECK, 'manager'], { CLUSTER_PORT: String(managerPort) });
  assert.equal(after.code, 1);
  assert.match(after.stderr, /flotilla manager unhealthy/);
});

test('with TLS on, the healthcheck speaks HTTPS to both roles (no client certificate needed for /health)', async () => {
  const managerPort = await freePort();
  const agentPort = await freePort();
  const keys = testKeys('deploy-tls');
  await initClusterCa(keys.keyDir);
  const prefix = `deploy-tls-${process.pid}:`;
  const redisUrl = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`;
  const manager = startEntrypoint(['manager'], { REDIS_URL: redisUrl, CLUSTER_PORT: String(managerPort), FLOTILLA_BIND_ADDRESS: '127.0.0.1', EXTERNAL_IP: '127.0.0.1', FLOTILLA_PREFIX: prefix, FLOTILLA_TLS: 'on', ...keys.env });
  const container = startEntrypoint(['container'], {
    REDIS_URL: redisUrl,
    FLOTILLA_JOIN_TOKEN: keys.joinToken(),
    CENTRAL_MANAGER_URL: `https://127.0.0.1:${managerPort}`,
    AGENT_PORT: String(agentPort),
    EXTERNAL_IP: '127.0.0.1',
    CONTAINER_NAME: 'deploy-tls-test',
    FLOTILLA_BIND_ADDRESS: '127.0.0.1',
    FLOTILLA_PREFIX: prefix,
  });
  try {
    const managerEnv = { CLUSTER_PORT: String(managerPort), FLOTILLA_TLS: 'on' };
    const containerEnv = { AGENT_PORT: String(agentPort), CENTRAL_MANAGER_URL: `https://127.0.0.1:${managerPort}` };
    await waitFor('the manager healthy over https', async () => (await runTool(process.execPath, [HEALTHCHECK, 'manager'], managerEnv)).code === 0, 20_000, 250);
    await waitFor('the container healthy over https', async () => (await runTool(process.execPath, [HEALTHCHECK, 'container'], containerEnv)).code === 0, 30_000, 250);
    // The same check in plain HTTP fails against a TLS port: the scheme really follows the settings.
    const plain = await runTool(process.execPath, [HEALTHCHECK, 'manager'], { CLUSTER_PORT: String(managerPort) });
    assert.equal(plain.code, 1, plain.stderr);
  } finally {
    await stopEntrypoint(container);
    await stopEntrypoint(manager);
    keys.remove();
  }
});
