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
/**
 * Variables that deploy files may give Flotilla before the code reads them (authentication is
 * being built): none today. A name added here must be marked "coming" in the docs.
 */
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

test('the healthcheck reads only variables Flotilla reads', () => {
  const text = readFileSync(join(DEPLOY_DIR, 'healthcheck.mjs'), 'utf8');
  const names = [...text.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!);
  assert.ok(names.length >= 3);
  assert.deepEqual(names.filter((n) => !isKnown(n)), []);
});

test('docs/deploy names no variable that does not exist, unless it says it is coming', () => {
  const pattern = /\b(FLOTILLA_[A-Z0-9_]+|REDIS_URL(?:_FILE)?|EXTERNAL_IP|CLUSTER_PORT|CENTRAL_MANAGER_URL|AGENT_PORT|CONTAINER_NAME|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_FILE)\b/g;
  const problems: string[] = [];
  for (const file of listFiles(DOCS_DIR, ['.md'])) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(pattern)) {
          const name = m[1]!;
          if (isKnown(name) || COMPOSE_ONLY_VARS.has(name) || name === 'SSL_CERT_FILE' || name === 'NAME_FILE') continue;
          if (/coming/i.test(line)) continue;
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
