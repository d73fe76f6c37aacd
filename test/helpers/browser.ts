/**
 * Headless Chromium for the dashboard tests: Debian's `chromium` driven by playwright-core (no
 * browser download), with a fresh profile per launch that is removed on close. Without the binary
 * the tests skip loudly, except under CI=true, where a missing browser is a failure.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Where screenshots go (gitignored). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/dashboard/', import.meta.url));
const LAUNCH_TIMEOUT_MS = 30_000;

export class ChromiumMissingError extends Error {
  override readonly name = 'ChromiumMissingError';
}

/**
 * Why the browser tests cannot run here, or undefined when they can. Under CI a missing browser
 * throws: CI installs it (.ci/run), so its absence is a broken setup, not a reason to skip.
 */
export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const reason = `${CHROMIUM_PATH} not found: the dashboard's browser tests need Debian's chromium (apt-get install -y chromium)`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new ChromiumMissingError(`${reason}; CI must install it (.ci/run)`);
  console.error(`\n*** SKIPPING the dashboard browser tests: ${reason} ***\n`);
  return reason;
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Every URL the page asked for (the tests check that all of them are the manager's). */
  requests: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'flotilla-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: LAUNCH_TIMEOUT_MS,
      viewport: { width: 1400, height: 900 },
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const requests: string[] = [];
  context.on('request', (req) => requests.push(req.url()));
  page.on('pageerror', (err) => console.error(`dashboard page error: ${err.message}`));
  return {
    context,
    page,
    requests,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as test-artifacts/dashboard/<name>.png and prints the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
  return path;
}

/** A JWT-shaped token with these claims (unsigned: the page only decodes it for display). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'ES256', typ: 'JWT' })}.${part(claims)}.${Buffer.from('not-a-signature').toString('base64url')}`;
}
