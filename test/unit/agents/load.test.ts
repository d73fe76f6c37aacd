import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AgentModuleError, BUILTIN_AGENTS, agentModulesFromEnv, loadAgentTypes } from '../../../src/agents/index.js';
import { fakeContext } from '../../helpers/agent-context.js';

const SDK_URL = pathToFileURL(join(import.meta.dirname, '../../../src/sdk/index.ts')).href;
let dir: string;

/** Module files the tests load, by name. */
const MODULES: Record<string, string> = {
  'custom.mjs': `import { defineAgent } from ${JSON.stringify(SDK_URL)};
export default defineAgent({ type: 'custom', onMessage: (m) => ({ got: m }) });
export const notAnAgent = { answer: 42 };`,
  'named.mjs': `export const alpha = { type: 'alpha', onMessage: () => 'a' };
export const beta = { type: 'beta', init: () => ({}), onMessage: () => 'b' };
export default alpha;`,
  'list.mjs': `export default [{ type: 'one', onMessage: () => 1 }, { type: 'two', onMessage: () => 2 }];`,
  'bad-name.mjs': `export default { type: 'bad name', onMessage() {} };`,
  'dup-echo.mjs': `export const myEcho = { type: 'echo', onMessage() {} };`,
  'throws.mjs': `throw new Error('boom at load');`,
  'empty.mjs': `export const x = 1;`,
  'not-def.mjs': `export default function handler() {}`,
  'bad-init.mjs': `export default { type: 'bad-init', init: 5, onMessage() {} };`,
  'no-handler.mjs': `export const broken = { type: 'broken', init: () => null };`,
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-agent-modules-'));
  for (const [name, text] of Object.entries(MODULES)) writeFileSync(join(dir, name), text);
  const pkg = join(dir, 'node_modules', 'flotilla-test-agents');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'flotilla-test-agents', type: 'module', exports: './index.js' }));
  writeFileSync(join(pkg, 'index.js'), `export default { type: 'from-package', onMessage: () => 'pkg' };`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const types = (defs: { type: string }[]): string[] => defs.map((d) => d.type);

describe('loadAgentTypes', () => {
  test('no modules: the built-ins', async () => {
    const defs = await loadAgentTypes([]);
    assert.deepEqual(types(defs), ['echo', 'llm', 'http', 'group-chat']);
    assert.deepEqual(defs, BUILTIN_AGENTS);
  });

  test('adds a custom type from a file path relative to cwd, and it works', async () => {
    const defs = await loadAgentTypes(['./custom.mjs'], { cwd: dir });
    assert.deepEqual(types(defs), ['echo', 'llm', 'http', 'group-chat', 'custom']);
    const custom = defs.find((d) => d.type === 'custom');
    assert.deepEqual(await custom?.onMessage('hi', fakeContext({ id: 'custom/a' })), { got: 'hi' });
  });

  test('named exports, default lists, absolute paths and package names', async () => {
    const defs = await loadAgentTypes(['named.mjs', join(dir, 'list.mjs'), 'flotilla-test-agents'], { cwd: dir });
    // `export default alpha` beside `export const alpha` is one type, not a duplicate.
    assert.deepEqual(types(defs).slice(4), ['alpha', 'beta', 'one', 'two', 'from-package']);
  });

  test('reads FLOTILLA_AGENT_MODULES as a comma-separated list', () => {
    assert.deepEqual(agentModulesFromEnv({ FLOTILLA_AGENT_MODULES: ' ./a.js, @acme/agents ,, b ' }), ['./a.js', '@acme/agents', 'b']);
    assert.deepEqual(agentModulesFromEnv({}), []);
  });

  test('bad modules give clear errors naming the module and the type', async () => {
    const cases: [string[], RegExp][] = [
      [['./bad-name.mjs'], /agent module "\.\/bad-name\.mjs" \(FLOTILLA_AGENT_MODULES\): export default \(type "bad name"\): agent type "bad name" is not a valid name/],
      [['./dup-echo.mjs'], /agent module "\.\/dup-echo\.mjs" \(FLOTILLA_AGENT_MODULES\): agent type "echo" \(export myEcho\) is already defined by the built-in types/],
      [['./custom.mjs', 'custom.mjs'], /agent module "custom\.mjs" .*: agent type "custom" \(export default\) is already defined by agent module "\.\/custom\.mjs"/],
      [['./missing.mjs'], /agent module "\.\/missing\.mjs" .*: no such file: .*missing\.mjs/],
      [['no-such-package-xyz'], /agent module "no-such-package-xyz" .*: cannot find it: not a file under .*, nor a package installed there or beside flotilla/],
      [['./throws.mjs'], /agent module "\.\/throws\.mjs" .*: failed to load: boom at load/],
      [['./empty.mjs'], /agent module "\.\/empty\.mjs" .*: exports no agent definition/],
      [['./not-def.mjs'], /agent module "\.\/not-def\.mjs" .*: export default is not an agent definition/],
      [['./bad-init.mjs'], /export default \(type "bad-init"\): init must be a function/],
      [['./no-handler.mjs'], /export broken \(type "broken"\): agent type broken: onMessage must be a function/],
    ];
    for (const [modules, expected] of cases) {
      await assert.rejects(loadAgentTypes(modules, { cwd: dir }), (err: Error) => {
        assert.ok(err instanceof AgentModuleError, `${modules.join(',')}: ${err.name}`);
        assert.match(err.message, expected);
        return true;
      });
    }
  });
});
