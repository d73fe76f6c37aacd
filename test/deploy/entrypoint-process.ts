/**
 * The image's entrypoint run for real, as Docker runs it: `sh deploy/docker-entrypoint.sh ARGS`
 * with exactly the given environment (+ PATH), its output kept, and every child killed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DEPLOY_DIR } from './deploy-files.js';

export const ENTRYPOINT = join(DEPLOY_DIR, 'docker-entrypoint.sh');
/** SIGTERM, then SIGKILL after this long. */
const STOP_GRACE_MS = 10_000;

export interface EntrypointProcess {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();

/** `prefix`: argv put before `/bin/sh` (e.g. setpriv to drop capabilities). */
export function startEntrypoint(args: string[], env: Record<string, string>, prefix: readonly string[] = []): EntrypointProcess {
  const argv = [...prefix, '/bin/sh', ENTRYPOINT, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const output: string[] = [];
  child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, output, exited };
}

export async function stopEntrypoint(p: EntrypointProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), STOP_GRACE_MS);
  await p.exited;
  clearTimeout(timer);
}

/** For a test file's `after`: whatever is still running. */
export function killAllEntrypoints(): void {
  for (const child of children) child.kill('SIGKILL');
}
