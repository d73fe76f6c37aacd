/**
 * Every compose and stack file under deploy/ passes Debian's `docker-compose config` (1.29) with
 * the environment it needs, refuses to render without it (naming the variable), and renders what
 * its guide promises. The Swarm stack also passes the Docker CLI's own stack loader
 * (`docker stack config`, offline) where the CLI is installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_AGENT_PORT, DEFAULT_CLUSTER_PORT } from '../../src/protocol/paths.js';
import { COMPOSE_ENV, DEPLOY_DIR, SAMPLE_JOIN_TOKEN, asArray, asRecord, dig, listFiles, parseYamlDocs, rel, runTool, toolRuns, type Yaml } from './deploy-files.js';


const composeFiles = [...listFiles(join(DEPLOY_DIR, 'compose'), ['.yml', '.yaml']), ...listFiles(join(DEPLOY_DIR, 'swarm'), ['.yml', '.yaml'])];

async function composeConfig(file: string, env: Record<string, string>): Promise<Yaml> {
  const r = await runTool('docker-compose', ['-f', file, 'config'], env);
  assert.equal(r.code, 0, `docker-compose config ${rel(file)} failed:\n${r.stderr}`);
  const [doc] = parseYamlDocs(r.stdout, `docker-compose config ${rel(file)}`);
  assert.ok(doc !== undefined, `docker-compose config ${rel(file)} printed nothing`);
  return doc;
}

function service(config: Yaml, name: string): Yaml {
  const s = dig(config, 'services', name);
  assert.ok(s !== undefined, `no service ${name}; services: ${Object.keys(asRecord(config.services)).join(', ')}`);
  return asRecord(s);
}

function env(svc: Yaml): Record<string, string> {
  return Object.fromEntries(Object.entries(asRecord(svc.environment)).map(([k, v]) => [k, String(v ?? '')]));
}

/** [published, target] pairs of a rendered service (docker-compose prints long or short syntax). */
function ports(svc: Yaml): [string, number][] {
  return asArray(svc.ports).map((p) => {
    if (typeof p === 'string') {
      const m = /^(?:(?:[\d.]+):)?(\d+):(\d+)(?:\/\w+)?$/.exec(p);
      assert.ok(m, `unreadable port ${p}`);
      return [m[1]!, Number(m[2])];
    }
    return [String(dig(p, 'published')), Number(dig(p, 'target'))];
  });
}

test('docker-compose is installed (apt-get install docker-compose; .ci/run does it)', async () => {
  const r = await runTool('docker-compose', ['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /docker-compose version/);
});

test('every compose and stack file under deploy/ has its environment listed (COMPOSE_ENV in deploy-files.ts)', () => {
  assert.ok(composeFiles.length >= 6, `found only ${composeFiles.length} compose files`);
  assert.deepEqual(composeFiles.map(rel).sort(), Object.keys(COMPOSE_ENV).sort());
});

for (const file of composeFiles) {
  const name = rel(file);
  const required = COMPOSE_ENV[name] ?? {};

  test(`${name}: docker-compose config passes with its environment`, async () => {
    const config = await composeConfig(file, required);
    assert.ok(Object.keys(asRecord(config.services)).length > 0, 'no services rendered');
    // What the operator gave must arrive unchanged in some service's environment or command.
    const rendered = JSON.stringify(config);
    for (const [k, v] of Object.entries(required)) assert.ok(rendered.includes(v), `${k}=${v} does not appear in the rendered file`);
  });

  for (const missing of Object.keys(required)) {
    test(`${name}: refuses to render without ${missing}, naming it`, async () => {
      const { [missing]: _dropped, ...rest } = required;
      const r = await runTool('docker-compose', ['-f', file, 'config'], rest);
      assert.notEqual(r.code, 0, `rendered without ${missing}`);
      assert.match(r.stderr, new RegExp(missing));
    });
  }
}

/** The image's key directory (deploy/Dockerfile creates it, owned by the image's user, 0700). */
const IMAGE_KEY_DIR = '/var/lib/flotilla/keys';

/** The manager keeps its keys in a named volume mounted at FLOTILLA_KEY_DIR (not a bind mount, not the image layer). */
function assertKeyVolume(config: Yaml, manager: Yaml, where: string): string {
  assert.equal(env(manager).FLOTILLA_KEY_DIR, IMAGE_KEY_DIR, `${where}: FLOTILLA_KEY_DIR`);
  assert.equal(env(manager).FLOTILLA_AUTH, undefined, `${where}: FLOTILLA_AUTH is set`);
  const mounts = asArray(manager.volumes).map((v) => (typeof v === 'string' ? v.split(':') : [String(dig(v, 'source')), String(dig(v, 'target'))]));
  const mount = mounts.find((m) => m[1] === IMAGE_KEY_DIR);
  assert.ok(mount, `${where}: nothing mounted at ${IMAGE_KEY_DIR}`);
  assert.ok(mount[0]! in asRecord(config.volumes), `${where}: ${mount[0]} is not a named volume of the file`);
  return mount[0]!;
}

test('single-host: Redis, the manager and two containers on one bridge network, found by service name', async () => {
  const config = await composeConfig(join(DEPLOY_DIR, 'compose/single-host.yml'), COMPOSE_ENV['deploy/compose/single-host.yml']!);
  assert.equal(dig(config, 'networks', 'flotilla', 'driver'), 'bridge');
  const manager = service(config, 'central-manager');
  assert.deepEqual(manager.command, ['manager']);
  const port = Number(env(manager).CLUSTER_PORT ?? DEFAULT_CLUSTER_PORT);
  assert.deepEqual(ports(manager), [['8000', port]]);
  assert.equal(env(manager).REDIS_URL, 'redis://redis:6379');
  for (const agent of ['agent-1', 'agent-2']) {
    const s = service(config, agent);
    assert.deepEqual(s.command, ['container']);
    assert.equal(env(s).CENTRAL_MANAGER_URL, `http://central-manager:${port}`);
    assert.equal(env(s).REDIS_URL, 'redis://redis:6379');
    assert.equal(env(s).CONTAINER_NAME, agent);
    assert.equal(env(s).FLOTILLA_JOIN_TOKEN, SAMPLE_JOIN_TOKEN);
    assert.equal(env(s).FLOTILLA_TOKEN, undefined);
    assert.equal(dig(s, 'depends_on', 'central-manager', 'condition'), 'service_healthy');
    assert.ok('flotilla' in asRecord(s.networks));
  }
  assert.match(JSON.stringify(service(config, 'redis').command), /appendonly/);
  // The keys' volume has a fixed name: the `docker run -v flotilla-keys:...` of the guide finds it.
  const volume = assertKeyVolume(config, manager, 'single-host');
  assert.equal(dig(config, 'volumes', volume, 'name'), 'flotilla-keys');
});

test('single-host: refuses to start agent containers without a join token, saying how to get one', async () => {
  const r = await runTool('docker-compose', ['-f', join(DEPLOY_DIR, 'compose/single-host.yml'), 'config'], {});
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /FLOTILLA_JOIN_TOKEN.*join-token/);
});

test('external-IP: the manager and agent files carry REDIS_URL, EXTERNAL_IP, CLUSTER_PORT, CENTRAL_MANAGER_URL as given', async () => {
  const managerEnv: Record<string, string> = { ...COMPOSE_ENV['deploy/compose/external-ip/manager-host.yml'], CLUSTER_PORT: '8100' };
  const manager = service(await composeConfig(join(DEPLOY_DIR, 'compose/external-ip/manager-host.yml'), managerEnv), 'central-manager');
  assert.deepEqual(manager.command, ['manager']);
  assert.equal(env(manager).REDIS_URL, managerEnv.REDIS_URL);
  assert.equal(env(manager).EXTERNAL_IP, managerEnv.EXTERNAL_IP);
  assert.equal(env(manager).CLUSTER_PORT, '8100');
  // Other hosts reach EXTERNAL_IP:CLUSTER_PORT, so the published port is the listening one.
  assert.deepEqual(ports(manager), [['8100', 8100]]);
  assertKeyVolume(await composeConfig(join(DEPLOY_DIR, 'compose/external-ip/manager-host.yml'), managerEnv), manager, 'manager-host');

  const agentEnv = COMPOSE_ENV['deploy/compose/external-ip/agent-host.yml']!;
  const agent = service(await composeConfig(join(DEPLOY_DIR, 'compose/external-ip/agent-host.yml'), agentEnv), 'agent-container');
  assert.deepEqual(agent.command, ['container']);
  for (const k of ['CENTRAL_MANAGER_URL', 'REDIS_URL', 'EXTERNAL_IP', 'CONTAINER_NAME', 'FLOTILLA_JOIN_TOKEN']) assert.equal(env(agent)[k], agentEnv[k]);
  assert.equal(env(agent).AGENT_PORT, String(DEFAULT_AGENT_PORT));
  assert.deepEqual(ports(agent), [[String(DEFAULT_AGENT_PORT), DEFAULT_AGENT_PORT]]);

  const redis = service(await composeConfig(join(DEPLOY_DIR, 'compose/external-ip/redis-host.yml'), { REDIS_PASSWORD: 'pw-1' }), 'redis');
  assert.deepEqual(ports(redis), [['6379', 6379]]);
  const command = asArray(redis.command).map(String);
  assert.equal(command[command.indexOf('--requirepass') + 1], 'pw-1');
  assert.ok(command.includes('--appendonly'));
});

test('the example .env of the external-IP method fills in every file of the method', async () => {
  for (const f of ['redis-host.yml', 'manager-host.yml', 'agent-host.yml']) {
    const r = await runTool('docker-compose', ['--env-file', 'example.env', '-f', f, 'config'], {}, join(DEPLOY_DIR, 'compose/external-ip'));
    assert.equal(r.code, 0, `${f} with example.env: ${r.stderr}`);
  }
});

test('swarm stack: overlay network, manager on manager nodes, agents replicated on workers, secrets, health checks, rolling updates', async () => {
  const config = await composeConfig(join(DEPLOY_DIR, 'swarm/stack.yml'), {});
  assert.equal(dig(config, 'networks', 'flotilla-overlay', 'driver'), 'overlay');
  const manager = service(config, 'central-manager');
  const agent = service(config, 'agent-container');
  assert.ok(asArray(dig(manager, 'deploy', 'placement', 'constraints')).includes('node.role == manager'));
  assert.ok(asArray(dig(agent, 'deploy', 'placement', 'constraints')).includes('node.role == worker'));
  assert.ok(Number(dig(agent, 'deploy', 'replicas')) >= 2);
  for (const [name, s, role] of [['central-manager', manager, 'manager'], ['agent-container', agent, 'container']] as const) {
    assert.deepEqual(s.command, [role], name);
    assert.ok(asArray(dig(s, 'healthcheck', 'test')).includes('/app/deploy/healthcheck.mjs'), `${name}: no health check`);
    assert.equal(dig(s, 'deploy', 'update_config', 'failure_action'), 'rollback', `${name}: update_config`);
    assert.ok(dig(s, 'deploy', 'rollback_config') !== undefined, `${name}: no rollback_config`);
    assert.ok('flotilla-overlay' in asRecord(s.networks), `${name}: not on the overlay`);
    // Secrets arrive as files; the entrypoint turns REDIS_URL_FILE into REDIS_URL.
    assert.equal(env(s).REDIS_URL_FILE, '/run/secrets/flotilla_redis_url');
    assert.ok(asArray(s.secrets).some((x) => dig(x, 'source') === 'flotilla_redis_url' || x === 'flotilla_redis_url'), `${name}: secret not mounted`);
  }
  assert.equal(env(agent).CENTRAL_MANAGER_URL, `http://central-manager:${DEFAULT_CLUSTER_PORT}`);
  // The join token as a secret file, which the entrypoint reads into FLOTILLA_JOIN_TOKEN.
  assert.equal(env(agent).FLOTILLA_JOIN_TOKEN_FILE, '/run/secrets/flotilla_join_token');
  assert.equal(env(agent).FLOTILLA_TOKEN_FILE, undefined);
  const joinSecret = asArray(agent.secrets).find((x) => dig(x, 'source') === 'flotilla_join_token');
  assert.deepEqual([dig(joinSecret, 'uid'), dig(joinSecret, 'gid'), dig(joinSecret, 'mode')], ['1000', '1000', 0o400]);
  // The managers' key directory: each key file a secret, under FLOTILLA_KEY_DIR, owned by the image's user, 0400.
  assert.equal(env(manager).FLOTILLA_AUTH, undefined);
  const keyDir = env(manager).FLOTILLA_KEY_DIR;
  assert.ok(keyDir?.startsWith('/run/secrets/'), `FLOTILLA_KEY_DIR=${keyDir}`);
  const keyFiles = asArray(manager.secrets)
    .filter((x) => String(dig(x, 'target') ?? '').includes('/'))
    .map((x) => {
      assert.deepEqual([dig(x, 'uid'), dig(x, 'gid'), dig(x, 'mode')], ['1000', '1000', 0o400], String(dig(x, 'source')));
      return `/run/secrets/${String(dig(x, 'target'))}`;
    });
  assert.deepEqual(keyFiles.map((f) => f.slice(0, f.lastIndexOf('/'))), keyFiles.map(() => keyDir));
  const names = keyFiles.map((f) => f.slice(f.lastIndexOf('/') + 1)).sort();
  assert.deepEqual(names.filter((n) => !n.startsWith('signing-')), ['identity.json', 'join-token.json']);
  // What the key directory accepts as a signing key's file (src/auth/key-dir.ts).
  assert.ok(names.some((n) => /^signing-[A-Za-z0-9_-]+\.json$/.test(n)), `no signing key among ${names.join(', ')}`);
  assert.deepEqual(ports(manager), [[String(DEFAULT_CLUSTER_PORT), DEFAULT_CLUSTER_PORT]]);
  for (const secret of Object.values(asRecord(config.secrets))) assert.equal(dig(secret, 'external'), true);
});

test('swarm stack: the Docker CLI stack loader accepts it (docker stack config, offline)', async (t) => {
  if (!(await toolRuns('docker', ['stack', 'config', '--help']))) return t.skip('the docker CLI is not installed');
  const file = join(DEPLOY_DIR, 'swarm/stack.yml');
  const r = await runTool('docker', ['stack', 'config', '-c', file]);
  assert.equal(r.code, 0, r.stderr);
  const [doc] = parseYamlDocs(r.stdout, 'docker stack config');
  assert.equal(dig(doc, 'services', 'agent-container', 'environment', 'CONTAINER_NAME'), 'agent-{{.Task.Slot}}');
  // The loader must be able to say no, or its yes means nothing: a misspelt key is refused.
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-stack-'));
  try {
    const broken = join(dir, 'stack.yml');
    writeFileSync(broken, readFileSync(file, 'utf8').replace('replicas: 3', 'replica: 3'));
    const bad = await runTool('docker', ['stack', 'config', '-c', broken]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /replica/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cloud: managers behind Traefik, routed by host name to port 8000, health-checked on /ready', async () => {
  const required = COMPOSE_ENV['deploy/compose/cloud-traefik.yml']!;
  const config = await composeConfig(join(DEPLOY_DIR, 'compose/cloud-traefik.yml'), required);
  const manager = service(config, 'central-manager');
  const labels = asRecord(manager.labels);
  assert.equal(labels['traefik.enable'], 'true');
  assert.equal(labels['traefik.http.routers.flotilla.rule'], `Host(\`${required.FLOTILLA_API_HOST}\`)`);
  assert.equal(labels['traefik.http.services.flotilla.loadbalancer.server.port'], String(env(manager).CLUSTER_PORT ?? DEFAULT_CLUSTER_PORT));
  assert.equal(labels['traefik.http.services.flotilla.loadbalancer.healthcheck.path'], '/ready');
  assert.equal(env(manager).REDIS_URL, required.REDIS_URL);
  assert.ok(Number(dig(manager, 'deploy', 'replicas')) >= 2);
  // Both replicas share one key directory, made once before the first start (the file says how).
  assertKeyVolume(config, manager, 'cloud-traefik');
  assert.match(readFileSync(join(DEPLOY_DIR, 'compose/cloud-traefik.yml'), 'utf8'), /docker compose -f cloud-traefik\.yml run --rm central-manager keys init/);
});
