/**
 * `flotilla dev` start-up: from spawning the process to a manager answering /health and one
 * container registered and active (the target: under 2 s). Measured next to the floor
 * every Node program pays on this machine: starting node and printing the CLI's version.
 *
 *   npm run bench:dev
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FlotillaProcess, freePort, http, waitFor } from '../test/helpers/processes.js';

const RUNS = 7;
const TARGET_MS = 2_000;
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function devStartMs(): Promise<number> {
  const [clusterPort, agentPort] = [await freePort(), await freePort()];
  const started = performance.now();
  const dev = new FlotillaProcess('dev', ['dev'], { CLUSTER_PORT: String(clusterPort), AGENT_PORT: String(agentPort), FLOTILLA_LOG_LEVEL: 'warn' });
  try {
    await waitFor('one active container', async () => {
      const res = await http<{ cluster?: { active_containers: number } }>('GET', `http://127.0.0.1:${clusterPort}/api/v1/cluster/status`);
      return res.status === 200 && res.body.cluster?.active_containers === 1;
    }, 15_000, 10);
    return performance.now() - started;
  } finally {
    await dev.stop();
  }
}

function versionMs(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, '--version'], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(performance.now() - started));
  });
}

const dev: number[] = [];
const floor: number[] = [];
for (let i = 0; i < RUNS; i++) {
  dev.push(await devStartMs());
  floor.push(await versionMs());
  process.stdout.write(`  run ${i + 1}/${RUNS}: dev ${dev.at(-1)!.toFixed(0)} ms, node + CLI --version ${floor.at(-1)!.toFixed(0)} ms\n`);
}
const m = median(dev);
console.log('');
console.log('| what | median | worst | target |');
console.log('|---|---|---|---|');
console.log(`| flotilla dev: spawn → /status shows 1 active container | ${m.toFixed(0)} ms | ${Math.max(...dev).toFixed(0)} ms | < ${TARGET_MS} ms: ${m < TARGET_MS ? 'PASS' : 'FAIL'} |`);
console.log(`| floor: node + \`flotilla --version\` | ${median(floor).toFixed(0)} ms | ${Math.max(...floor).toFixed(0)} ms | – |`);
