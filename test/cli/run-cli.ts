/** Runs the real `flotilla` entry point as a child process, as an operator's shell would. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The built bin (npm test builds first): starts in ~0.2 s where tsx would compile for ~1 s. */
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
/** Generous for a loaded 2-core CI machine; a hung CLI fails the test instead of hanging it. */
const CLI_TIMEOUT_MS = 20_000;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The developer's own settings must not leak into what the tests see; nor may the test
 * runner's NODE_TEST_CONTEXT, which would make the child act as a test-runner worker and hang.
 */
function childEnv(): NodeJS.ProcessEnv {
  const { FLOTILLA_URL: _url, FLOTILLA_TOKEN: _token, NODE_TEST_CONTEXT: _ctx, ...inherited } = process.env;
  return inherited;
}

/** A long-running command (`events -f`), for tests that read its output as it comes and signal it. */
export function spawnCli(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, [MAIN, ...args], { cwd: REPO_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: CLI_TIMEOUT_MS });
}

export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const inherited = childEnv();
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { cwd: REPO_ROOT, env: { ...inherited, ...env }, timeout: CLI_TIMEOUT_MS },
      (err, stdout, stderr) => {
        if (err === null) return resolve({ code: 0, stdout, stderr });
        if (typeof err.code === 'number') return resolve({ code: err.code, stdout, stderr });
        reject(new Error(`flotilla ${args.join(' ')} did not exit normally: ${err.message}\n${stderr}`, { cause: err }));
      },
    );
  });
}
