/**
 * The agent types a container serves: the built-ins plus those exported by the modules named in
 * `FLOTILLA_AGENT_MODULES` (comma-separated file paths, relative to the working directory, or
 * package names). Everything is checked at start-up, so a typo or a clash stops the container
 * with a message naming the module and the type, instead of surfacing as `unknown_type` later.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { envList, type Env } from '../common/env.js';
import { defineAgent, type AgentDefinition } from '../sdk/index.js';
import { BUILTIN_AGENTS } from './builtins.js';

export const AGENT_MODULES_ENV = 'FLOTILLA_AGENT_MODULES';

/** A module could not be found or loaded, exports no valid definition, or redefines a type. */
export class AgentModuleError extends Error {
  override readonly name = 'AgentModuleError';
}

export function agentModulesFromEnv(env: Env = process.env): string[] {
  return envList(env, AGENT_MODULES_ENV);
}

export interface LoadOptions {
  /** Where relative paths and package names are resolved from (default: process.cwd()). */
  cwd?: string;
  /** The types every container serves (default: BUILTIN_AGENTS). */
  builtins?: readonly AgentDefinition[];
}

/** Built-ins first, then each module's definitions in the order listed. */
export async function loadAgentTypes(modules: string[], options: LoadOptions = {}): Promise<AgentDefinition[]> {
  const cwd = options.cwd ?? process.cwd();
  const out: AgentDefinition[] = [];
  const origin = new Map<string, string>();
  for (const d of options.builtins ?? BUILTIN_AGENTS) {
    out.push(d);
    origin.set(d.type, 'the built-in types');
  }
  for (const spec of modules) {
    const where = `agent module ${JSON.stringify(spec)} (${AGENT_MODULES_ENV})`;
    const exports = await importModule(spec, cwd, where);
    for (const { exportName, definition } of definitionsOf(exports, where)) {
      const seen = origin.get(definition.type);
      if (seen !== undefined) throw new AgentModuleError(`${where}: agent type "${definition.type}" (export ${exportName}) is already defined by ${seen}`);
      origin.set(definition.type, `agent module ${JSON.stringify(spec)}`);
      out.push(definition);
    }
  }
  return out;
}

/** A file path (leading `.` or `/`, `file:` URL, or an existing file under cwd) or else a package name. */
function isPath(spec: string, cwd: string): boolean {
  return spec.startsWith('.') || isAbsolute(spec) || spec.startsWith('file:') || existsSync(resolve(cwd, spec));
}

async function importModule(spec: string, cwd: string, where: string): Promise<Record<string, unknown>> {
  let url: string;
  if (spec.startsWith('file:')) {
    url = spec;
  } else if (isPath(spec, cwd)) {
    const path = resolve(cwd, spec);
    if (!existsSync(path)) throw new AgentModuleError(`${where}: no such file: ${path}`);
    url = pathToFileURL(path).href;
  } else {
    url = resolvePackage(spec, cwd);
  }
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'ERR_MODULE_NOT_FOUND' && url === spec) {
      throw new AgentModuleError(`${where}: cannot find it: not a file under ${cwd}, nor a package installed there or beside flotilla (${e.message ?? String(err)})`, { cause: err });
    }
    throw new AgentModuleError(`${where}: failed to load: ${e.message ?? String(err)}`, { cause: err });
  }
}

/**
 * A package as installed under cwd (the image's app directory) when `require`-style resolution
 * finds it; otherwise the bare name, which `import` resolves beside flotilla itself (and which also
 * covers ESM-only packages whose `exports` only have an `import` condition).
 */
function resolvePackage(spec: string, cwd: string): string {
  try {
    return pathToFileURL(createRequire(join(cwd, 'noop.js')).resolve(spec)).href;
  } catch {
    return spec;
  }
}

function looksLikeDefinition(value: unknown): boolean {
  return typeof value === 'object' && value !== null && ('onMessage' in value || ('type' in value && 'init' in value));
}

/** The module's default export (a definition or a list of them) and named exports that look like one. */
function definitionsOf(exports: Record<string, unknown>, where: string): { exportName: string; definition: AgentDefinition }[] {
  const candidates: { exportName: string; value: unknown }[] = [];
  const def = exports.default;
  if (Array.isArray(def)) def.forEach((value: unknown, i) => candidates.push({ exportName: `default[${i}]`, value }));
  else if (def !== undefined) candidates.push({ exportName: 'default', value: def });
  for (const [exportName, value] of Object.entries(exports)) {
    if (exportName !== 'default' && looksLikeDefinition(value)) candidates.push({ exportName, value });
  }

  const found: { exportName: string; definition: AgentDefinition }[] = [];
  const seen = new Set<unknown>();
  for (const { exportName, value } of candidates) {
    // `export default x` beside `export const x` is one definition, not a duplicate.
    if (seen.has(value)) continue;
    seen.add(value);
    if (exportName.startsWith('default') && !looksLikeDefinition(value)) {
      throw new AgentModuleError(`${where}: export ${exportName} is not an agent definition (use export default defineAgent({ type, onMessage }))`);
    }
    found.push({ exportName, definition: checkDefinition(value, exportName, where) });
  }
  if (found.length === 0) throw new AgentModuleError(`${where}: exports no agent definition (export default defineAgent({ type, onMessage }), or named exports)`);
  return found;
}

function checkDefinition(value: unknown, exportName: string, where: string): AgentDefinition {
  const type = (value as { type?: unknown }).type;
  const label = `export ${exportName}${typeof type === 'string' ? ` (type "${type}")` : ''}`;
  for (const hook of ['init', 'onStop'] as const) {
    const fn = (value as Record<string, unknown>)[hook];
    if (fn !== undefined && typeof fn !== 'function') throw new AgentModuleError(`${where}: ${label}: ${hook} must be a function`);
  }
  try {
    // The same checks as at the author's own defineAgent call, for modules that export a plain object.
    return defineAgent(value as AgentDefinition);
  } catch (err) {
    throw new AgentModuleError(`${where}: ${label}: ${(err as Error).message}`, { cause: err });
  }
}
