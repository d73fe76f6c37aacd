/**
 * The Kubernetes manifests (deploy/k8s): every object validates OFFLINE against the official
 * schema (kubernetes-models, strict about unknown fields); the kustomization lists exactly the
 * files present; every Secret, ConfigMap, Service, selector and named port reference resolves;
 * and the objects have what docs/deploy/kubernetes.md promises. Where kubectl is installed (it is
 * on this project's machines), `kubectl kustomize` renders the base and the production overlay and
 * the rendered objects are checked the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DEFAULT_AGENT_PORT, DEFAULT_CLUSTER_PORT } from '../../src/protocol/paths.js';
import { CLI } from '../helpers/processes.js';
import { DEPLOY_DIR, asArray, asRecord, dig, parseYamlDocs, readYamlDocs, rel, runTool, toolRuns, type Yaml } from './deploy-files.js';
import { SchemaValidationError, validateK8sObject } from './k8s-schema.js';

const BASE = join(DEPLOY_DIR, 'k8s/base');
const OVERLAY = join(DEPLOY_DIR, 'k8s/overlays/production');

function baseObjects(): Yaml[] {
  const kustomization = readYamlDocs(join(BASE, 'kustomization.yaml'))[0]!;
  return asArray(kustomization.resources).flatMap((f) => readYamlDocs(join(BASE, String(f))));
}

function named(objects: Yaml[], kind: string, name: string): Yaml | undefined {
  return objects.find((o) => o.kind === kind && dig(o, 'metadata', 'name') === name);
}

function workloads(objects: Yaml[]): Yaml[] {
  return objects.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(String(o.kind)));
}

function containers(workload: Yaml): Yaml[] {
  return asArray(dig(workload, 'spec', 'template', 'spec', 'containers')).map(asRecord);
}

function podLabels(workload: Yaml): Record<string, string> {
  return asRecord(dig(workload, 'spec', 'template', 'metadata', 'labels')) as Record<string, string>;
}

function selects(selector: Record<string, unknown>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function envOf(container: Yaml): Yaml[] {
  return asArray(container.env).map(asRecord);
}

function envValue(container: Yaml, name: string): Yaml | undefined {
  return envOf(container).find((e) => e.name === name);
}

/**
 * Every reference inside `objects` resolves within them; returns what does not (empty = good).
 * Secret and ConfigMap keys, envFrom, secret volumes, $(VAR) expansions, selectors of Services,
 * PDBs and NetworkPolicies, Service target ports and probe ports by name, StatefulSet serviceName.
 */
function unresolvedReferences(objects: Yaml[]): string[] {
  const problems: string[] = [];
  const keysOf = (kind: string, name: string): Set<string> | undefined => {
    const o = named(objects, kind, name);
    return o === undefined ? undefined : new Set([...Object.keys(asRecord(o.data)), ...Object.keys(asRecord(o.stringData))]);
  };
  for (const w of workloads(objects)) {
    const where = `${String(w.kind)} ${String(dig(w, 'metadata', 'name'))}`;
    for (const c of containers(w)) {
      const defined = new Set<string>();
      for (const e of envOf(c)) {
        for (const [kind, ref] of [['Secret', dig(e, 'valueFrom', 'secretKeyRef')], ['ConfigMap', dig(e, 'valueFrom', 'configMapKeyRef')]] as const) {
          if (ref === undefined) continue;
          const keys = keysOf(kind, String(dig(ref, 'name')));
          if (keys === undefined) problems.push(`${where}: env ${String(e.name)} names ${kind} ${String(dig(ref, 'name'))}, which does not exist`);
          else if (!keys.has(String(dig(ref, 'key')))) problems.push(`${where}: env ${String(e.name)} names key ${String(dig(ref, 'key'))} missing from ${kind} ${String(dig(ref, 'name'))}`);
        }
        for (const m of String(e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!defined.has(m[1]!)) problems.push(`${where}: env ${String(e.name)} expands $(${m[1]}), not defined before it`);
        }
        defined.add(String(e.name));
      }
      for (const from of asArray(c.envFrom)) {
        for (const [kind, key] of [['Secret', 'secretRef'], ['ConfigMap', 'configMapRef']] as const) {
          const ref = dig(from, key);
          if (ref !== undefined && named(objects, kind, String(dig(ref, 'name'))) === undefined) problems.push(`${where}: envFrom names ${kind} ${String(dig(ref, 'name'))}, which does not exist`);
        }
      }
      const portNames = new Set(asArray(c.ports).map((p) => String(dig(p, 'name'))));
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const port = dig(c, probe, 'httpGet', 'port') ?? dig(c, probe, 'tcpSocket', 'port');
        if (typeof port === 'string' && !portNames.has(port)) problems.push(`${where}: ${probe} uses port ${port}, not a named port of the container`);
      }
      const mounts = new Set(asArray(c.volumeMounts).map((m) => String(dig(m, 'name'))));
      const volumes = new Set([...asArray(dig(w, 'spec', 'template', 'spec', 'volumes')), ...asArray(dig(w, 'spec', 'volumeClaimTemplates')).map((t) => ({ name: dig(t, 'metadata', 'name') }))].map((v) => String(dig(v, 'name'))));
      for (const m of mounts) if (!volumes.has(m)) problems.push(`${where}: mounts volume ${m}, which is not declared`);
    }
    for (const v of asArray(dig(w, 'spec', 'template', 'spec', 'volumes'))) {
      const secretName = dig(v, 'secret', 'secretName');
      if (secretName !== undefined && named(objects, 'Secret', String(secretName)) === undefined) problems.push(`${where}: volume ${String(dig(v, 'name'))} names Secret ${String(secretName)}, which does not exist`);
      const cm = dig(v, 'configMap', 'name');
      if (cm !== undefined && named(objects, 'ConfigMap', String(cm)) === undefined) problems.push(`${where}: volume names ConfigMap ${String(cm)}, which does not exist`);
    }
    if (!selects(asRecord(dig(w, 'spec', 'selector', 'matchLabels')), podLabels(w))) problems.push(`${where}: its selector does not match its own pod labels`);
    const serviceName = dig(w, 'spec', 'serviceName');
    if (serviceName !== undefined && named(objects, 'Service', String(serviceName)) === undefined) problems.push(`${where}: serviceName ${String(serviceName)} does not exist`);
  }
  for (const o of objects) {
    const where = `${String(o.kind)} ${String(dig(o, 'metadata', 'name'))}`;
    const selector =
      o.kind === 'Service' ? asRecord(dig(o, 'spec', 'selector')) : o.kind === 'PodDisruptionBudget' || o.kind === 'NetworkPolicy' ? asRecord(dig(o, 'spec', o.kind === 'NetworkPolicy' ? 'podSelector' : 'selector', 'matchLabels')) : undefined;
    if (selector === undefined || Object.keys(selector).length === 0) continue;
    const matched = workloads(objects).filter((w) => selects(selector, podLabels(w)));
    if (matched.length === 0) problems.push(`${where}: selects no pods`);
    if (o.kind === 'Service') {
      for (const p of asArray(dig(o, 'spec', 'ports'))) {
        const target = dig(p, 'targetPort');
        if (typeof target !== 'string') continue;
        for (const w of matched) {
          if (!containers(w).some((c) => asArray(c.ports).some((cp) => dig(cp, 'name') === target))) problems.push(`${where}: targetPort ${target} is not a port of ${String(dig(w, 'metadata', 'name'))}`);
        }
      }
    }
  }
  return problems;
}

function assertAllValid(objects: Yaml[], source: string): void {
  const errors: string[] = [];
  for (const o of objects) {
    try {
      validateK8sObject(o, source);
    } catch (err) {
      if (!(err instanceof SchemaValidationError)) throw err;
      errors.push(err.message);
    }
  }
  assert.deepEqual(errors, []);
}

test('the kustomization lists exactly the manifest files of deploy/k8s/base', () => {
  const kustomization = readYamlDocs(join(BASE, 'kustomization.yaml'))[0]!;
  const listed = asArray(kustomization.resources).map(String).sort();
  const present = readdirSync(BASE).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
  assert.deepEqual(listed, present);
});

test('every manifest of the base validates against the Kubernetes schema (offline, unknown fields refused)', () => {
  for (const f of readdirSync(BASE).filter((n) => n !== 'kustomization.yaml')) {
    const docs = readYamlDocs(join(BASE, f));
    assert.ok(docs.length > 0, `${f} is empty`);
    assertAllValid(docs, rel(join(BASE, f)));
  }
});

test('the schema check can fail: a misspelt field, a wrong type, an unknown kind', () => {
  const [deployment] = readYamlDocs(join(BASE, 'manager-deployment.yaml'));
  const misspelt = structuredClone(deployment!);
  (misspelt.spec as Yaml).replica = 2;
  assert.throws(() => validateK8sObject(misspelt, 'test'), /\/spec\/replica is not a field of Deployment/);
  const wrongType = structuredClone(deployment!);
  asRecord(asArray(dig(wrongType, 'spec', 'template', 'spec', 'containers', 0, 'ports'))[0]).containerPort = 'eight thousand';
  assert.throws(() => validateK8sObject(wrongType, 'test'), /containerPort must be integer/);
  const noSelector = structuredClone(deployment!);
  delete (noSelector.spec as Yaml).selector;
  assert.throws(() => validateK8sObject(noSelector, 'test'), /selector/);
  assert.throws(() => validateK8sObject({ apiVersion: 'apps/v1', kind: 'Deployments', metadata: { name: 'x' } }, 'test'), /not a Kubernetes kind/);
});

test('every Secret, ConfigMap, Service, selector, volume and named port reference of the base resolves', () => {
  assert.deepEqual(unresolvedReferences(baseObjects()), []);
});

test('the reference check can fail: a Secret key, a ConfigMap, a selector and a port that do not exist', () => {
  const objects = structuredClone(baseObjects());
  const agent = named(objects, 'Deployment', 'agent-container')!;
  const c = containers(agent)[0]!;
  asRecord(dig(envValue(c, 'REDIS_PASSWORD'), 'valueFrom', 'secretKeyRef')).key = 'passwd';
  asRecord(dig(asArray(c.envFrom)[0], 'configMapRef')).name = 'flotilla-conf';
  asRecord(dig(c, 'readinessProbe', 'httpGet')).port = 'api';
  asRecord(dig(named(objects, 'PodDisruptionBudget', 'central-manager'), 'spec', 'selector', 'matchLabels'))['app.kubernetes.io/component'] = 'managers';
  const problems = unresolvedReferences(objects).join('\n');
  assert.match(problems, /key passwd missing from Secret flotilla-redis/);
  assert.match(problems, /ConfigMap flotilla-conf, which does not exist/);
  assert.match(problems, /readinessProbe uses port api/);
  assert.match(problems, /PodDisruptionBudget central-manager: selects no pods/);
});

test('Redis: a StatefulSet with a persistent volume and the append-only file, behind redis-service:6379', () => {
  const objects = baseObjects();
  const redis = named(objects, 'StatefulSet', 'redis')!;
  assert.ok(redis, 'no StatefulSet redis');
  assert.ok(asArray(dig(redis, 'spec', 'volumeClaimTemplates')).length === 1);
  const c = containers(redis)[0]!;
  const args = asArray(c.args).map(String);
  assert.equal(args[args.indexOf('--appendonly') + 1], 'yes');
  assert.ok(asArray(c.volumeMounts).some((m) => dig(m, 'mountPath') === '/data'));
  const svc = named(objects, 'Service', 'redis-service')!;
  assert.equal(dig(svc, 'spec', 'ports', 0, 'port'), 6379);
  // Flotilla's REDIS_URL points at that service and port, with the password Redis requires.
  for (const name of ['central-manager', 'agent-container']) {
    const fc = containers(named(objects, 'Deployment', name)!)[0]!;
    assert.equal(dig(envValue(fc, 'REDIS_URL'), 'value'), 'redis://:$(REDIS_PASSWORD)@redis-service:6379');
    assert.deepEqual(dig(envValue(fc, 'REDIS_PASSWORD'), 'valueFrom', 'secretKeyRef'), dig(envValue(c, 'REDIS_PASSWORD'), 'valueFrom', 'secretKeyRef'));
  }
});

test('manager: two replicas, a LoadBalancer Service on 8000, probes on /health and /ready, a PDB', () => {
  const objects = baseObjects();
  const manager = named(objects, 'Deployment', 'central-manager')!;
  assert.equal(dig(manager, 'spec', 'replicas'), 2);
  const c = containers(manager)[0]!;
  assert.deepEqual(c.args, ['manager']);
  assert.equal(dig(c, 'ports', 0, 'containerPort'), Number(dig(envValue(c, 'CLUSTER_PORT'), 'value')));
  assert.equal(dig(c, 'ports', 0, 'containerPort'), DEFAULT_CLUSTER_PORT);
  assert.equal(dig(c, 'livenessProbe', 'httpGet', 'path'), '/health');
  assert.equal(dig(c, 'readinessProbe', 'httpGet', 'path'), '/ready');
  const svc = named(objects, 'Service', 'central-manager-service')!;
  assert.equal(dig(svc, 'spec', 'type'), 'LoadBalancer');
  assert.equal(dig(svc, 'spec', 'ports', 0, 'port'), DEFAULT_CLUSTER_PORT);
  assert.ok(named(objects, 'PodDisruptionBudget', 'central-manager'));
});

test('agent containers: a Deployment, EXTERNAL_IP from the pod IP, the name from the pod, probes, a PDB', () => {
  const objects = baseObjects();
  const agent = named(objects, 'Deployment', 'agent-container')!;
  const c = containers(agent)[0]!;
  assert.deepEqual(c.args, ['container']);
  assert.equal(dig(envValue(c, 'EXTERNAL_IP'), 'valueFrom', 'fieldRef', 'fieldPath'), 'status.podIP');
  assert.equal(dig(envValue(c, 'CONTAINER_NAME'), 'valueFrom', 'fieldRef', 'fieldPath'), 'metadata.name');
  assert.equal(dig(envValue(c, 'CENTRAL_MANAGER_URL'), 'value'), `http://central-manager-service:${DEFAULT_CLUSTER_PORT}`);
  assert.equal(dig(c, 'ports', 0, 'containerPort'), DEFAULT_AGENT_PORT);
  assert.equal(dig(c, 'ports', 0, 'containerPort'), Number(dig(envValue(c, 'AGENT_PORT'), 'value')));
  assert.equal(dig(c, 'livenessProbe', 'httpGet', 'path'), '/health');
  assert.equal(dig(c, 'readinessProbe', 'httpGet', 'path'), '/ready');
  assert.ok(named(objects, 'PodDisruptionBudget', 'agent-container'));
});

test('every container: resources requested and limited, non-root, read-only root filesystem, no privilege escalation', () => {
  for (const w of workloads(baseObjects())) {
    const podSecurity = asRecord(dig(w, 'spec', 'template', 'spec', 'securityContext'));
    for (const c of containers(w)) {
      const where = `${String(dig(w, 'metadata', 'name'))}/${String(c.name)}`;
      assert.ok(dig(c, 'resources', 'requests', 'memory') !== undefined && dig(c, 'resources', 'limits', 'memory') !== undefined, `${where}: memory request and limit`);
      assert.ok(dig(c, 'resources', 'requests', 'cpu') !== undefined, `${where}: cpu request`);
      assert.equal(podSecurity.runAsNonRoot, true, `${where}: runAsNonRoot`);
      assert.ok(Number(podSecurity.runAsUser) > 0, `${where}: runAsUser`);
      assert.equal(dig(c, 'securityContext', 'readOnlyRootFilesystem'), true, `${where}: readOnlyRootFilesystem`);
      assert.equal(dig(c, 'securityContext', 'allowPrivilegeEscalation'), false, `${where}: allowPrivilegeEscalation`);
      assert.deepEqual(dig(c, 'securityContext', 'capabilities', 'drop'), ['ALL'], `${where}: capabilities`);
    }
  }
});

/** What every rendering must say about authentication: returns the manager's key-dir mount. */
function assertAuthWiring(objects: Yaml[]): void {
  const manager = named(objects, 'Deployment', 'central-manager')!;
  const m = containers(manager)[0]!;
  assert.equal(envValue(m, 'FLOTILLA_AUTH'), undefined, 'the manager sets FLOTILLA_AUTH');
  const keyDir = String(dig(envValue(m, 'FLOTILLA_KEY_DIR'), 'value'));
  const mount = asArray(m.volumeMounts).find((v) => dig(v, 'mountPath') === keyDir);
  assert.ok(mount, `nothing mounted at FLOTILLA_KEY_DIR=${keyDir}`);
  assert.equal(dig(mount, 'readOnly'), true);
  // A subPath mount would never see a Secret update (a rotated key).
  assert.equal(dig(mount, 'subPath'), undefined);
  const volume = asArray(dig(manager, 'spec', 'template', 'spec', 'volumes')).find((v) => dig(v, 'name') === dig(mount, 'name'));
  assert.equal(dig(volume, 'secret', 'secretName'), 'flotilla-keys');
  // Readable by the manager's user through its group (0440, group fsGroup), by nobody else.
  assert.equal(dig(volume, 'secret', 'defaultMode'), 0o440);
  assert.equal(dig(manager, 'spec', 'template', 'spec', 'securityContext', 'fsGroup'), dig(manager, 'spec', 'template', 'spec', 'securityContext', 'runAsGroup'));
  const keys = named(objects, 'Secret', 'flotilla-keys')!;
  const keyNames = Object.keys({ ...asRecord(keys.data), ...asRecord(keys.stringData) }).sort();
  assert.deepEqual(keyNames.filter((k) => !k.startsWith('signing-')), ['identity.json', 'join-token.json']);
  assert.ok(keyNames.some((k) => /^signing-[A-Za-z0-9_-]+\.json$/.test(k)), keyNames.join(', '));
  const agent = containers(named(objects, 'Deployment', 'agent-container')!)[0]!;
  assert.deepEqual(dig(envValue(agent, 'FLOTILLA_JOIN_TOKEN'), 'valueFrom', 'secretKeyRef'), { name: 'flotilla-tokens', key: 'join-token' });
  assert.equal(envValue(agent, 'FLOTILLA_TOKEN'), undefined, 'containers join with the join token, not FLOTILLA_TOKEN');
}

test('authentication: managers read the flotilla-keys Secret read-only at FLOTILLA_KEY_DIR; containers join with the join token', () => {
  assertAuthWiring(baseObjects());
  // The base's key and token values are placeholders, and say so.
  for (const name of ['flotilla-keys', 'flotilla-tokens']) {
    for (const v of Object.values(asRecord(named(baseObjects(), 'Secret', name)!.stringData))) assert.match(String(v), /REPLACE-ME/, name);
  }
});

test('the authentication check can fail: FLOTILLA_AUTH=off, a writable mount, a Secret without a signing key', () => {
  const breakers: [string, (objects: Yaml[]) => void][] = [
    ['FLOTILLA_AUTH', (o) => asArray(containers(named(o, 'Deployment', 'central-manager')!)[0]!.env).push({ name: 'FLOTILLA_AUTH', value: 'off' })],
    ['readOnly', (o) => asRecord(asArray(containers(named(o, 'Deployment', 'central-manager')!)[0]!.volumeMounts).find((v) => dig(v, 'name') === 'keys')).readOnly = false],
    ['signing', (o) => delete asRecord(named(o, 'Secret', 'flotilla-keys')!.stringData)['signing-REPLACE-ME.json']],
  ];
  for (const [what, breakIt] of breakers) {
    const objects = structuredClone(baseObjects());
    breakIt(objects);
    assert.throws(() => assertAuthWiring(objects), assert.AssertionError, what);
  }
});

test('NetworkPolicy: ingress denied by default; Redis only from Flotilla pods; each API port opened', () => {
  const policies = baseObjects().filter((o) => o.kind === 'NetworkPolicy');
  const deny = policies.find((p) => Object.keys(asRecord(dig(p, 'spec', 'podSelector'))).length === 0 && dig(p, 'spec', 'ingress') === undefined);
  assert.ok(deny, 'no default-deny policy');
  const ports = policies.flatMap((p) => asArray(dig(p, 'spec', 'ingress')).flatMap((i) => asArray(dig(i, 'ports')).map((x) => dig(x, 'port'))));
  assert.deepEqual(ports.sort(), [6379, DEFAULT_CLUSTER_PORT, DEFAULT_AGENT_PORT].sort());
  const redis = policies.find((p) => dig(p, 'spec', 'podSelector', 'matchLabels', 'app.kubernetes.io/name') === 'redis')!;
  assert.deepEqual(dig(redis, 'spec', 'ingress', 0, 'from', 0, 'podSelector', 'matchLabels'), { 'app.kubernetes.io/name': 'flotilla' });
});

test('the production overlay names files that exist, each secrets file with its .example', () => {
  const k = readYamlDocs(join(OVERLAY, 'kustomization.yaml'))[0]!;
  for (const r of asArray(k.resources)) assert.ok(existsSync(join(OVERLAY, String(r))), `resource ${String(r)}`);
  const base = baseObjects();
  for (const g of asArray(k.secretGenerator)) {
    assert.equal(dig(g, 'behavior'), 'replace');
    const secret = named(base, 'Secret', String(dig(g, 'name')));
    assert.ok(secret, `the overlay replaces Secret ${String(dig(g, 'name'))}, which the base lacks`);
    // Files (the key directory): under keys/, which git ignores; the Secret keeps its name so that
    // an update reaches the mounted files in place.
    for (const f of asArray(dig(g, 'files')).map(String)) assert.match(f, /^keys\/(identity|join-token|signing-[A-Za-z0-9_-]+)\.json$/);
    if (asArray(dig(g, 'files')).length > 0) {
      assert.equal(dig(g, 'options', 'disableNameSuffixHash'), true, `${String(dig(g, 'name'))}: a name hash would restart the managers on every key change`);
      assert.match(readFileSync(join(OVERLAY, '.gitignore'), 'utf8'), /^keys\/$/m);
    }
    for (const envFile of asArray(dig(g, 'envs')).map(String)) {
      const example = join(OVERLAY, `${envFile}.example`);
      assert.ok(existsSync(example), `${basename(example)} missing`);
      // The example must give every key the base Secret has, so the replacement is whole.
      const keys = readFileSync(example, 'utf8').split('\n').filter((l) => /^[^#\s][^=]*=/.test(l)).map((l) => l.slice(0, l.indexOf('=')));
      assert.deepEqual(keys.sort(), Object.keys(asRecord(secret.stringData)).sort(), `${basename(example)} vs Secret ${String(dig(g, 'name'))}`);
    }
  }
});

async function kustomize(dir: string): Promise<Yaml[]> {
  const r = await runTool('kubectl', ['kustomize', dir]);
  assert.equal(r.code, 0, `kubectl kustomize ${dir}: ${r.stderr}`);
  return parseYamlDocs(r.stdout, `kubectl kustomize ${dir}`);
}

test('kubectl kustomize renders the base: every object valid, in the flotilla namespace, references resolved', async (t) => {
  if (!(await toolRuns('kubectl', ['version', '--client']))) return t.skip('kubectl is not installed');
  const objects = await kustomize(BASE);
  assert.equal(objects.length, baseObjects().length);
  assertAllValid(objects, 'kustomize base');
  for (const o of objects.filter((x) => x.kind !== 'Namespace')) assert.equal(dig(o, 'metadata', 'namespace'), 'flotilla', `${String(o.kind)} ${String(dig(o, 'metadata', 'name'))}`);
  assert.deepEqual(unresolvedReferences(objects), []);
});

test('kubectl kustomize renders the production overlay with its example secrets filled in and keys from `flotilla keys init`', async (t) => {
  if (!(await toolRuns('kubectl', ['version', '--client']))) return t.skip('kubectl is not installed');
  // A copy, so that the test writes no secrets file into the repository.
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-k8s-'));
  try {
    cpSync(join(DEPLOY_DIR, 'k8s'), join(dir, 'k8s'), { recursive: true });
    const overlay = join(dir, 'k8s/overlays/production');
    // The steps of docs/deploy/kubernetes.md: the key directory, its join token, its signing key listed.
    const init = await runTool(process.execPath, [CLI, 'keys', 'init', '--key-dir', 'keys'], {}, overlay);
    assert.equal(init.code, 0, init.stderr);
    const joinToken = await runTool(process.execPath, [CLI, 'join-token', '--key-dir', 'keys'], {}, overlay);
    assert.equal(joinToken.code, 0, joinToken.stderr);
    const signing = readdirSync(join(overlay, 'keys')).filter((f) => f.startsWith('signing-'));
    assert.equal(signing.length, 1);
    const kustomization = join(overlay, 'kustomization.yaml');
    assert.match(readFileSync(kustomization, 'utf8'), /keys\/signing-REPLACE-WITH-KID\.json/);
    writeFileSync(kustomization, readFileSync(kustomization, 'utf8').replace('keys/signing-REPLACE-WITH-KID.json', `keys/${signing[0]}`));
    for (const f of readdirSync(overlay).filter((n) => n.endsWith('.env.example'))) {
      writeFileSync(join(overlay, f.replace(/\.example$/, '')), readFileSync(join(overlay, f), 'utf8').replace(/=$/gm, '=test-value-1'));
    }
    writeFileSync(join(overlay, 'tokens.env'), `join-token=${joinToken.stdout.trim()}\n`);
    const objects = await kustomize(overlay);
    // kustomize folds long base64 values over lines; the API server's decoder (Go's base64)
    // skips the newlines, the schema's "byte" format does not: unfold them as the server reads them.
    for (const secret of objects.filter((o) => o.kind === 'Secret')) {
      for (const [k, v] of Object.entries(asRecord(secret.data))) asRecord(secret.data)[k] = String(v).replace(/\s+/g, '');
    }
    assertAllValid(objects, 'kustomize overlay');
    assert.deepEqual(unresolvedReferences(objects), []);
    assertAuthWiring(objects);
    const keysSecret = named(objects, 'Secret', 'flotilla-keys')!;
    const decoded = (s: Yaml, key: string): string => Buffer.from(String(dig(s, 'data', key)), 'base64').toString();
    assert.deepEqual(Object.keys(asRecord(keysSecret.data)).sort(), readdirSync(join(overlay, 'keys')).sort());
    assert.equal(decoded(keysSecret, signing[0]!), readFileSync(join(overlay, 'keys', signing[0]!), 'utf8'));
    // The join token the containers get is the one in the managers' key directory.
    const tokenInKeys = (JSON.parse(decoded(keysSecret, 'join-token.json')) as { token: string }).token;
    assert.equal(decoded(named(objects, 'Secret', 'flotilla-tokens')!, 'join-token'), tokenInKeys);
    const redisSecret = named(objects, 'Secret', 'flotilla-redis')!;
    assert.equal(Buffer.from(String(dig(redisSecret, 'data', 'password')), 'base64').toString(), 'test-value-1');
    assert.equal(dig(named(objects, 'Deployment', 'agent-container'), 'spec', 'replicas'), 5);
    assert.match(String(dig(containers(named(objects, 'Deployment', 'central-manager')!)[0], 'image')), /^registry\.example\.com\/flotilla:0\.1\.0$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
