/**
 * What the deploy tests share: where the files are, reading YAML, running the real tools
 * (`docker-compose`, `docker stack config`, `kubectl kustomize`) with only the environment a test
 * gives them, and the environment variables the code reads (for the consistency checks).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');
export const DOCS_DIR = join(REPO_ROOT, 'docs', 'deploy');
/** A tool that hangs fails its test instead of the run. */
const TOOL_TIMEOUT_MS = 30_000;

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a tool with exactly `env` plus PATH and HOME: the developer's own variables (this machine
 * has CONTAINER_NAME set, for one) must not fill in what a file requires.
 */
export function runTool(file: string, args: readonly string[], env: Record<string, string> = {}, cwd = REPO_ROOT): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env }, timeout: TOOL_TIMEOUT_MS, maxBuffer: 16 * 1_048_576 },
      (err, stdout, stderr) => {
        if (err === null) return resolve({ code: 0, stdout, stderr });
        if (typeof err.code === 'number') return resolve({ code: err.code, stdout, stderr });
        reject(err);
      },
    );
  });
}

const available = new Map<string, Promise<boolean>>();
/** Whether `file args` runs (e.g. `docker stack --help`): a missing tool skips only its own check. */
export function toolRuns(file: string, args: readonly string[]): Promise<boolean> {
  const key = [file, ...args].join(' ');
  let known = available.get(key);
  if (known === undefined) {
    known = runTool(file, args).then(
      (r) => r.code === 0,
      () => false,
    );
    available.set(key, known);
  }
  return known;
}

/** Files under `dir` (recursively) whose names end with one of `suffixes`, sorted, as absolute paths. */
export function listFiles(dir: string, suffixes: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (suffixes.some((s) => name.endsWith(s))) out.push(path);
    }
  };
  walk(dir);
  return out;
}

export function rel(path: string): string {
  return relative(REPO_ROOT, path);
}

/**
 * What each compose or stack file needs from the operator (a .env or the shell), as a user would
 * give it; loopback addresses, as nothing is ever sent to them.
 */
/** A join token of the right shape (`flotilla join-token` prints one), of no real cluster. */
export const SAMPLE_JOIN_TOKEN = `FLTKN-1-${'ab'.repeat(32)}-${'cd'.repeat(24)}`;

export const COMPOSE_ENV: Record<string, Record<string, string>> = {
  'deploy/compose/single-host.yml': { FLOTILLA_JOIN_TOKEN: SAMPLE_JOIN_TOKEN },
  'deploy/compose/external-ip/redis-host.yml': { REDIS_PASSWORD: 'test-password' },
  'deploy/compose/external-ip/manager-host.yml': { REDIS_URL: 'redis://:test-password@127.0.0.11:6379', EXTERNAL_IP: '127.0.0.12' },
  'deploy/compose/external-ip/agent-host.yml': {
    CENTRAL_MANAGER_URL: 'http://127.0.0.12:8000',
    REDIS_URL: 'redis://:test-password@127.0.0.11:6379',
    EXTERNAL_IP: '127.0.0.13',
    CONTAINER_NAME: 'agent-7',
    FLOTILLA_JOIN_TOKEN: SAMPLE_JOIN_TOKEN,
  },
  'deploy/compose/cloud-traefik.yml': { REDIS_URL: 'rediss://:test-password@127.0.0.11:6380', FLOTILLA_API_HOST: 'api.flotilla.test' },
  'deploy/swarm/stack.yml': {},
};

export type Yaml = Record<string, unknown>;

/** Every document of a YAML text, as plain data; a syntax error throws, naming the source. */
export function parseYamlDocs(text: string, source: string): Yaml[] {
  return parseAllDocuments(text, { merge: true }).flatMap((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${source} (document ${i + 1}): ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    return value === null || value === undefined ? [] : [value as Yaml];
  });
}

export function readYamlDocs(path: string): Yaml[] {
  return parseYamlDocs(readFileSync(path, 'utf8'), rel(path));
}

/** `obj.a.b.c` without a chain of casts; undefined when any step is missing. */
export function dig(obj: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = obj;
  for (const step of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[step];
  }
  return cur;
}

export function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * The environment variables Flotilla reads today, found in src/ the way every reader is written:
 * `envString(env, 'NAME')` and its siblings, `env.NAME`, and the `*_ENV = 'NAME'` constants
 * (FLOTILLA_AGENT_MODULES, FLOTILLA_URL, FLOTILLA_TOKEN, OPENAI_API_KEY). Read from the sources at
 * test time, so a variable added or removed by any branch is seen.
 */
export function codeEnvVars(): Set<string> {
  const names = new Set<string>();
  const patterns = [
    /\benv[A-Z][A-Za-z]*\(\s*[\w.]+\s*,\s*'([A-Z][A-Z0-9_]*)'/g,
    /\benv\.([A-Z][A-Z0-9_]*)\b/g,
    /\benv\[\s*'([A-Z][A-Z0-9_]*)'\s*\]/g,
    /_ENV\s*=\s*'([A-Z][A-Z0-9_]*)'/g,
  ];
  for (const file of listFiles(join(REPO_ROOT, 'src'), ['.ts'])) {
    const text = readFileSync(file, 'utf8');
    for (const re of patterns) for (const m of text.matchAll(re)) names.add(m[1]!);
  }
  return names;
}

/** The names the image's entrypoint turns from NAME_FILE into NAME (deploy/docker-entrypoint.sh). */
export function fileSecretTarget(name: string): string | undefined {
  if (!name.endsWith('_FILE')) return undefined;
  const target = name.slice(0, -'_FILE'.length);
  return /^(REDIS_URL|CENTRAL_MANAGER_URL|FLOTILLA_.+|.+_API_KEY|.+_TOKEN|.+_PASSWORD|.+_SECRET)$/.test(target) ? target : undefined;
}
