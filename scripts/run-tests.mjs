#!/usr/bin/env node
// Runs the test files under the given folders (default: all of test/) with node's own test
// runner, TypeScript loaded by tsx. Node 20's --test takes no globs, so the files are found here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

// The integration and contract tests start real redis-server processes: say so plainly if absent.
if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error) {
  console.error('redis-server is not on PATH: the tests start their own Redis. Install it (Debian/Ubuntu: apt-get install -y redis-server).');
  process.exit(1);
}

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['test'];
// The multi-host harness (test/cluster) needs root and network namespaces and runs on its own
// (`npm run test:cluster`, after `npm test` in .ci/run); only an explicit root includes it.
const SEPARATE = [join('test', 'cluster')];
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (SEPARATE.includes(path) && !roots.includes(path)) continue;
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts')) files.push(path);
  }
};
roots.forEach((root) => (statSync(root).isDirectory() ? walk(root) : files.push(root)));
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}`);
  process.exit(1);
}
const concurrency = process.env.FLOTILLA_TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
