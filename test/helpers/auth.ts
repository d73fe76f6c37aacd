/**
 * Authentication for tests: a key directory of the test's own (removed at the end) and tokens
 * minted from it, for any role, lifetime or moment. Tests that are not about security run
 * managers with FLOTILLA_AUTH=off instead (the default of test/helpers/processes.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyDir, mintToken, type Role } from '../../src/auth/index.js';

export interface TestKeys {
  dir: string;
  keyDir: KeyDir;
  /** A token from the key directory as it is now. `atMs` mints it as if at that moment (expired tokens). */
  token(role: Role, opts?: { ttlMs?: number; cid?: string; sub?: string; atMs?: number }): Promise<string>;
  joinToken(): string;
  /** Env for a manager process that uses these keys. */
  env: Record<string, string>;
  remove(): void;
}

export function testKeys(label = 'keys'): TestKeys {
  const dir = mkdtempSync(join(tmpdir(), `flotilla-test-${label}-`));
  const keyDir = new KeyDir(join(dir, 'keys'));
  keyDir.init();
  return {
    dir,
    keyDir,
    async token(role, opts = {}) {
      const minted = await mintToken(
        keyDir.load(),
        { sub: opts.sub ?? `test-${role}`, role, ttlMs: opts.ttlMs ?? 3_600_000, ...(opts.cid === undefined ? {} : { cid: opts.cid }) },
        opts.atMs,
      );
      return minted.token;
    },
    joinToken: () => keyDir.load().joinToken,
    env: { FLOTILLA_AUTH: 'on', FLOTILLA_KEY_DIR: keyDir.path },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
