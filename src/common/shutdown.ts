import type { Logger } from './logger.js';

/** A clean stop that takes longer than this is cut short: orchestrators kill at ~10 s anyway. */
export const SHUTDOWN_GRACE_MS = 8_000;

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits 0 (or 1 when stop failed or overran the
 * grace period). A second signal exits at once.
 */
export function exitOnSignal(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error(`clean shutdown took longer than ${SHUTDOWN_GRACE_MS} ms; exiting`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    timer.unref();
    stop().then(
      () => {
        log.flush?.();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** For a CLI role command: print a configuration error the way a person reads it, and exit 2. */
export function exitWithConfigError(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`flotilla: ${message}\n`);
  process.exit(2);
}

/** `redis://user:secret@host:6379` → `redis://user:***@host:6379`, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
