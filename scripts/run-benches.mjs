#!/usr/bin/env node
// `npm run bench`: every benchmark in sequence (TypeScript loaded by tsx), each one run even when
// an earlier one missed a target or failed, so one run gives all the figures. Exits with the worst
// exit code (benchmarks exit 1 for a missed target, 2 when the run itself failed).
import { spawnSync } from 'node:child_process';

const BENCHES = ['bench/auth.bench.ts', 'bench/control-plane.bench.ts', 'bench/dev-startup.bench.ts', 'bench/messaging.bench.ts', 'bench/dashboard.bench.ts'];

let worst = 0;
const summary = [];
for (const file of BENCHES) {
  console.log(`\n=== ${file} ===\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  // Interrupted (Ctrl-C reaches the child too): stop here rather than start the next one.
  if (result.signal !== null) process.exit(130);
  const code = result.status ?? 2;
  summary.push(`${file}: ${code === 0 ? 'all targets met' : code === 1 ? 'a target missed' : `failed (exit ${code})`}`);
  worst = Math.max(worst, code);
}
console.log(`\n${summary.join('\n')}`);
process.exit(worst);
