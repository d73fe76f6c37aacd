import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout; level from FLOTILLA_LOG_LEVEL (default info). */
export function createLogger(bindings: Record<string, unknown>, level = process.env.FLOTILLA_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: bindings, timestamp: pino.stdTimeFunctions.isoTime });
}
