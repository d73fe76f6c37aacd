/**
 * The deploy files and their docs against the code: every environment variable they give Flotilla
 * is one the code reads today (or its NAME_FILE form, which the image's entrypoint turns into
 * NAME); every variable the deploy docs name exists, is one of the compose files' own, or is said
 * to be coming; every port of a Flotilla service is its role's port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_AGENT_PORT, DEFAULT_CLUSTER_PORT } from '../../src/protocol/paths.js';
import {
  COMPOSE_ENV,
  DEPLOY_DIR,
  DOCS_DIR,
  REPO_ROOT,
  asArray,
  asRecord,
  codeEnvVars,
  dig,
  fileSecretTarget,
  listFiles,
  parseYamlDocs,
  readYamlDocs,
  rel,
  runTool,
  type Yaml,
} from './deploy-files.js';

/**
 * Variables that only the compose files read (`${NAME}` interpolation), never Flotilla itself;
 * each is explained in docs/deploy.
 */
const COMPOSE_ONLY_VARS = new Set(['FLOTILLA_IMAGE', 'REDIS_PASSWORD', 'REDIS_PORT', 'FLOTILLA_API_HOST']);
/** Variables that deploy files may give Flotilla before the code reads them: none. */
const UPCOMING_VARS = new Set<string>([]);
const ROLE_PORTS: Record<string, { variable: string; port: number }> = {
  manager: { variable: 'CLUSTER_PORT', port: DEFAULT_CLUSTER_PORT },
  container: { variable: 'AGENT_PORT', port: DEFAULT_AGENT_PORT },
};

const known = codeEnvVars();

function isKnown(name: string): boolean {
  if (known.has(name) || UPCOMING_VARS.has(name)) return true;
  const target = fileSecretTarget(name);
  return target !== undefined && known.has(target);
}

function isFlotillaImage(image: unknown): boolean {
  return /(^|\/|\})flotilla(:|$)|FLOTILLA_IMAGE/.test(String(image ?? ''));
}

const composeFiles = Object.keys(COMPOSE_ENV).map((f) => join(REPO_ROOT, f));
const k8sFiles = listFiles(join(DEPLOY_DIR, 'k8s'), ['.yaml']);

test('the code readers are found (the consistency checks below rest on them)', () => {
  for (const name of ['REDIS_URL', 'EXTERNAL_IP', 'CLUSTER_PORT', 'CENTRAL_MANAGER_URL', 'AGENT_PORT', 'CONTAINER_NAME', 'FLOTILLA_TOKEN', 'FLOTILLA_AGENT_MODULES', 'OPENAI_API_KEY', 'FLOTILLA_LOG_LEVEL']) {
    assert.ok(known.has(name), `${name} not found in src/`);
  }
  assert.ok(!isKnown('FLOTILLA_NO_SUCH_SETTING'));
  assert.ok(isKnown('REDIS_URL_FILE'));
  assert.ok(!isKnown('SSL_CERT_FILE'));
});

test('compose and stack files give Flotilla only variables it reads', () => {
  const unknown: string[] = [];
  for (const file of composeFiles) {
    for (const doc of readYamlDocs(file)) {
      for (const [name, svc] of Object.entries(asRecord(doc.services))) {
        if (!isFlotillaImage(dig(svc, 'image'))) continue;
        for (const variable of Object.keys(asRecord(dig(svc, 'environment')))) if (!isKnown(variable)) unknown.push(`${rel(file)} ${name}: ${variable}`);
      }
    }
  }
  assert.deepEqual(unknown, []);
});

test('compose files interpolate only Flotilla variables or their own, documented ones', () => {
  const docs = listFiles(DOCS_DIR, ['.md']).map((f) => readFileSync(f, 'utf8')).join('\n');
  const stray: string[] = [];
  for (const file of composeFiles) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) {
      const name = m[1]!;
      if (isKnown(name)) continue;
      if (!COMPOSE_ONLY_VARS.has(name)) stray.push(`${rel(file)}: \${${name}} is neither a Flotilla variable nor a known compose one`);
      else if (!docs.includes(name)) stray.push(`${rel(file)}: \${${name}} is not explained in docs/deploy`);
    }
  }
  assert.deepEqual(stray, []);
});

test('Kubernetes containers running Flotilla get only variables it reads (env, ConfigMap and Secret keys by envFrom)', () => {
  const objects = k8sFiles.flatMap((f) => readYamlDocs(f).map((o) => ({ o, f })));
  const byName = (kind: string, name: string): Yaml | undefined => objects.find(({ o }) => o.kind === kind && dig(o, 'metadata', 'name') === name)?.o;
  const unknown: string[] = [];
  for (const { o, f } of objects) {
    for (const c of asArray(dig(o, 'spec', 'template', 'spec', 'containers'))) {
      if (!isFlotillaImage(dig(c, 'image'))) continue;
      const env = asArray(dig(c, 'env'));
      // A variable only expanded into another one ($(REDIS_PASSWORD) in REDIS_URL) is Kubernetes'.
      const expanded = new Set(env.flatMap((e) => [...String(dig(e, 'value') ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]!)));
      const names = env.map((e) => String(dig(e, 'name'))).filter((n) => !expanded.has(n));
      for (const from of asArray(dig(c, 'envFrom'))) {
        const ref = dig(from, 'configMapRef', 'name') ?? dig(from, 'secretRef', 'name');
        const source = byName(dig(from, 'configMapRef') !== undefined ? 'ConfigMap' : 'Secret', String(ref));
        names.push(...Object.keys(asRecord(source?.data)), ...Object.keys(asRecord(source?.stringData)));
      }
      for (const n of names) if (!isKnown(n)) unknown.push(`${rel(f)} ${String(dig(c, 'name'))}: ${n}`);
    }
  }
  assert.deepEqual(unknown, []);
});

interface Setting {
  where: string;
  name: string;
  value: string;
}

/**
 * Every environment variable a deploy file sets for a Flotilla process, with its value: compose and
 * stack services (environment, map or list), Kubernetes containers (env, and the keys of the
 * ConfigMaps and Secrets they take by envFrom), the Dockerfile's ENV, and the .env files of the
 * compose methods. `texts` replaces a file's content (for the tests that prove a check can fail).
 */
function deploySettings(texts: Record<string, string> = {}): Setting[] {
  const read = (path: string): string => texts[rel(path)] ?? readFileSync(path, 'utf8');
  const out: Setting[] = [];
  for (const file of composeFiles) {
    for (const doc of parseYamlDocs(read(file), rel(file))) {
      for (const [name, svc] of Object.entries(asRecord(doc.services))) {
        if (!isFlotillaImage(dig(svc, 'image'))) continue;
        const environment = dig(svc, 'environment');
        const pairs = Array.isArray(environment)
          ? environment.map((e) => String(e).split(/=(.*)/s).slice(0, 2) as [string, string])
          : Object.entries(asRecord(environment)).map(([k, v]) => [k, String(v ?? '')] as [string, string]);
        for (const [k, v] of pairs) out.push({ where: `${rel(file)} ${name}`, name: k, value: v ?? '' });
      }
    }
  }
  const objects = k8sFiles.flatMap((f) => parseYamlDocs(read(f), rel(f)).map((o) => ({ o, f })));
  for (const { o, f } of objects) {
    for (const c of asArray(dig(o, 'spec', 'template', 'spec', 'containers'))) {
      if (!isFlotillaImage(dig(c, 'image'))) continue;
      const where = `${rel(f)} ${String(dig(c, 'name'))}`;
      // A variable only expanded into another one ($(REDIS_PASSWORD) in REDIS_URL) is Kubernetes'.
      const expanded = new Set(asArray(dig(c, 'env')).flatMap((e) => [...String(dig(e, 'value') ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]!)));
      for (const e of asArray(dig(c, 'env'))) {
        if (!expanded.has(String(dig(e, 'name')))) out.push({ where, name: String(dig(e, 'name')), value: String(dig(e, 'value') ?? '') });
      }
      for (const from of asArray(dig(c, 'envFrom'))) {
        const kind = dig(from, 'configMapRef') !== undefined ? 'ConfigMap' : 'Secret';
        const ref = String(dig(from, 'configMapRef', 'name') ?? dig(from, 'secretRef', 'name'));
        const source = objects.find(({ o: x }) => x.kind === kind && dig(x, 'metadata', 'name') === ref)?.o;
        for (const [k, v] of Object.entries({ ...asRecord(source?.data), ...asRecord(source?.stringData) })) out.push({ where: `${where} (${kind} ${ref})`, name: k, value: String(v) });
      }
    }
  }
  const dockerfile = join(DEPLOY_DIR, 'Dockerfile');
  for (const m of read(dockerfile).matchAll(/^ENV\s+([A-Za-z_][A-Za-z0-9_]*)[=\s]\s*(\S*)/gm)) out.push({ where: 'deploy/Dockerfile', name: m[1]!, value: m[2]! });
  for (const file of listFiles(join(DEPLOY_DIR, 'compose'), ['.env'])) {
    for (const m of read(file).matchAll(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm)) out.push({ where: rel(file), name: m[1]!, value: m[2]! });
  }
  return out;
}

/** A check of deploySettings(): what sets FLOTILLA_AUTH=off (in any case, quoted or not). */
const authOff = (settings: Setting[]): string[] => settings.filter((x) => x.name === 'FLOTILLA_AUTH' && /^\s*["']?off["']?\s*$/i.test(x.value)).map((x) => x.where);

test('no deploy file turns authentication off (FLOTILLA_AUTH=off)', () => {
  const settings = deploySettings();
  assert.ok(settings.length > 40, `only ${settings.length} settings found: the collector is broken`);
  assert.deepEqual(authOff(settings), []);
  // Nor anywhere else under deploy/ in a form the collector does not parse.
  for (const file of listFiles(DEPLOY_DIR, [''])) {
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => !/^\s*#/.test(l));
    assert.ok(!lines.some((l) => /FLOTILLA_AUTH/.test(l)), `${rel(file)} mentions FLOTILLA_AUTH outside a comment`);
  }
});

test('the FLOTILLA_AUTH=off check can fail: in a compose map, a Kubernetes env list, the Dockerfile', () => {
  const single = 'deploy/compose/single-host.yml';
  const withOff = readFileSync(join(REPO_ROOT, single), 'utf8').replace('CLUSTER_PORT: "8000"', 'CLUSTER_PORT: "8000"\n      FLOTILLA_AUTH: "off"');
  assert.deepEqual(authOff(deploySettings({ [single]: withOff })), [`${single} central-manager`]);
  const k8s = 'deploy/k8s/base/manager-deployment.yaml';
  const k8sOff = readFileSync(join(REPO_ROOT, k8s), 'utf8').replace('          env:\n', '          env:\n            - name: FLOTILLA_AUTH\n              value: Off\n');
  assert.deepEqual(authOff(deploySettings({ [k8s]: k8sOff })), [`${k8s} central-manager`]);
  const dockerfileOff = readFileSync(join(DEPLOY_DIR, 'Dockerfile'), 'utf8').replace('ENV NODE_ENV=production', 'ENV NODE_ENV=production\nENV FLOTILLA_AUTH=off');
  assert.deepEqual(authOff(deploySettings({ 'deploy/Dockerfile': dockerfileOff })), ['deploy/Dockerfile']);
});

test('every variable a deploy file sets (compose, stack, Kubernetes, Dockerfile ENV, .env) is one Flotilla reads, or a compose-only one', () => {
  const unknown = deploySettings()
    .filter((x) => !isKnown(x.name) && !(COMPOSE_ONLY_VARS.has(x.name) && x.where.endsWith('.env')) && !['NODE_ENV'].includes(x.name))
    .map((x) => `${x.where}: ${x.name}`);
  assert.deepEqual(unknown, []);
  // It can fail: a misspelt variable is reported.
  const typo = readFileSync(join(DEPLOY_DIR, 'Dockerfile'), 'utf8').replace('ENV FLOTILLA_KEY_DIR=', 'ENV FLOTILLA_KEYS_DIR=');
  assert.ok(deploySettings({ 'deploy/Dockerfile': typo }).some((x) => x.name === 'FLOTILLA_KEYS_DIR' && !isKnown(x.name)));
});

test('authentication settings go to the right role: FLOTILLA_KEY_DIR to managers, the join token to agent containers', () => {
  const problems: string[] = [];
  for (const x of deploySettings()) {
    const isManager = /manager/.test(x.where) && !/agent/.test(x.where);
    const isAgent = /agent/.test(x.where);
    if (x.name === 'FLOTILLA_KEY_DIR' && isAgent) problems.push(`${x.where}: an agent container gets the managers' key directory`);
    if (/^FLOTILLA_JOIN_TOKEN(_FILE)?$/.test(x.name) && isManager) problems.push(`${x.where}: a manager gets FLOTILLA_JOIN_TOKEN`);
    if (/^FLOTILLA_TOKEN(_FILE)?$/.test(x.name) && isAgent) problems.push(`${x.where}: agent containers join with FLOTILLA_JOIN_TOKEN, not FLOTILLA_TOKEN`);
  }
  assert.deepEqual(problems, []);
  const agentSettings = deploySettings().filter((x) => /agent/.test(x.where) && !x.where.endsWith('.env'));
  const agentPlaces = new Set(agentSettings.map((x) => x.where.replace(/ \(.*\)$/, '')));
  const withJoin = new Set(agentSettings.filter((x) => /^FLOTILLA_JOIN_TOKEN(_FILE)?$/.test(x.name)).map((x) => x.where));
  assert.deepEqual([...agentPlaces].filter((w) => !withJoin.has(w)), [], 'agent containers without a join token');
  const managerPlaces = new Set(deploySettings().filter((x) => /central-manager/.test(x.where)).map((x) => x.where.replace(/ \(.*\)$/, '')));
  const withKeyDir = new Set(deploySettings().filter((x) => x.name === 'FLOTILLA_KEY_DIR').map((x) => x.where));
  assert.ok(managerPlaces.size >= 5, [...managerPlaces].join(', '));
  assert.deepEqual([...managerPlaces].filter((w) => !withKeyDir.has(w)), [], 'managers without FLOTILLA_KEY_DIR');
});

test('the healthcheck reads only variables Flotilla reads', () => {
  const text = readFileSync(join(DEPLOY_DIR, 'healthcheck.mjs'), 'utf8');
  const names = [...text.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!);
  assert.ok(names.length >= 3);
  assert.deepEqual(names.filter((n) => !isKnown(n)), []);
});

test('docs/deploy names no variable that does not exist', () => {
  const pattern = /\b(FLOTILLA_[A-Z0-9_]+|REDIS_URL(?:_FILE)?|EXTERNAL_IP|CLUSTER_PORT|CENTRAL_MANAGER_URL|AGENT_PORT|CONTAINER_NAME|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_FILE)\b/g;
  const problems: string[] = [];
  for (const file of listFiles(DOCS_DIR, ['.md'])) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(pattern)) {
          const name = m[1]!;
          if (isKnown(name) || COMPOSE_ONLY_VARS.has(name) || name === 'SSL_CERT_FILE' || name === 'NAME_FILE') continue;
          problems.push(`${rel(file)}:${i + 1}: ${name}`);
        }
      });
  }
  assert.deepEqual(problems, []);
});

test('every Flotilla service and container listens on its role\'s port, and publishes that port', async () => {
  const problems: string[] = [];
  for (const file of composeFiles) {
    const r = await runTool('docker-compose', ['-f', file, 'config'], COMPOSE_ENV[rel(file)] ?? {});
    assert.equal(r.code, 0, r.stderr);
    const [config] = parseYamlDocs(r.stdout, rel(file));
    for (const [name, svc] of Object.entries(asRecord(config?.services))) {
      if (!isFlotillaImage(dig(svc, 'image'))) continue;
      const role = String(asArray(dig(svc, 'command'))[0]);
      const expected = ROLE_PORTS[role];
      assert.ok(expected, `${rel(file)} ${name}: command ${role} is not a role`);
      const env = asRecord(dig(svc, 'environment'));
      const port = Number(env[expected.variable] ?? expected.port);
      if (port !== expected.port) problems.push(`${rel(file)} ${name}: ${expected.variable}=${port}, not the default ${expected.port}`);
      for (const p of asArray(dig(svc, 'ports'))) {
        const target = typeof p === 'string' ? Number(p.split(':').at(-1)?.split('/')[0]) : Number(dig(p, 'target'));
        if (target !== port) problems.push(`${rel(file)} ${name}: publishes container port ${target}, but ${role} listens on ${port}`);
      }
      for (const url of Object.values(env).map(String).filter((v) => /^https?:\/\//.test(v))) {
        if (new URL(url).port !== String(DEFAULT_CLUSTER_PORT)) problems.push(`${rel(file)} ${name}: ${url} is not on the manager's port`);
      }
    }
  }
  for (const f of k8sFiles) {
    for (const o of readYamlDocs(f)) {
      for (const c of asArray(dig(o, 'spec', 'template', 'spec', 'containers'))) {
        if (!isFlotillaImage(dig(c, 'image'))) continue;
        const role = String(asArray(dig(c, 'args'))[0]);
        const expected = ROLE_PORTS[role];
        assert.ok(expected, `${rel(f)}: args ${role} is not a role`);
        const ports = asArray(dig(c, 'ports')).map((p) => Number(dig(p, 'containerPort')));
        if (ports.join() !== String(expected.port)) problems.push(`${rel(f)} ${role}: containerPort ${ports.join()} is not ${expected.port}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

/** Lines of docs/deploy that say something is not there: authentication, or any feature "coming". */
function staleClaims(text: string): string[] {
  return text.split('\n').filter((line) => /\bcoming\b|no authentication|not (?:checked|wired|authenticated) yet|FLOTILLA_AUTH=off|FLOTILLA_TOKEN_FILE/i.test(line));
}

test('docs/deploy says nothing is "coming" and that authentication is on (no FLOTILLA_AUTH=off, no open API)', () => {
  const problems = listFiles(DOCS_DIR, ['.md']).flatMap((f) => staleClaims(readFileSync(f, 'utf8')).map((l) => `${rel(f)}: ${l.trim()}`));
  assert.deepEqual(problems, []);
  assert.equal(staleClaims('The API has no authentication yet (coming with security).').length, 1);
  // Every method's page tells how to get the join token and an admin token.
  for (const page of ['single-host.md', 'external-ip.md', 'swarm.md', 'kubernetes.md', 'cloud.md']) {
    const text = readFileSync(join(DOCS_DIR, page), 'utf8');
    assert.match(text, /join-token/, `${page}: how to get the join token`);
    assert.match(text, /token create --role admin/, `${page}: how to make an admin token`);
    assert.match(text, /FLOTILLA_TOKEN/, `${page}: how to use it with the CLI`);
    assert.match(text, /dashboard/, `${page}: how to use it with the dashboard`);
  }
});
