import { multistream, pino, type Level, type Logger } from 'pino';

export type { Logger };

/** Somewhere a copy of each JSON line goes besides stdout (the log shipper). */
export interface LogCopy {
  write(line: string): void;
}

/**
 * Structured JSON logs on stdout; level from FLOTILLA_LOG_LEVEL (default info). With `copy`, each
 * line also goes there (the container ships its lines to the cluster's shared log).
 */
export function createLogger(bindings: Record<string, unknown>, level = process.env.FLOTILLA_LOG_LEVEL ?? 'info', copy?: LogCopy): Logger {
  const options = { level, base: bindings, timestamp: pino.stdTimeFunctions.isoTime };
  if (copy === undefined) return pino(options);
  return pino(options, multistream([{ level: level as Level, stream: process.stdout }, { level: level as Level, stream: copy }]));
}
