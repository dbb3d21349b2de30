/** Structured JSON logs for everything outside workflows and activities, secrets censored. */
import { pino, type Logger } from 'pino';
import { REDACTED_LOG_PATHS } from '../config/redact';

export function createLogger(level: string, component: string): Logger {
  return pino(
    {
      level,
      base: { component },
      redact: { paths: REDACTED_LOG_PATHS, censor: '[REDACTED]' },
    },
    pino.destination(2),
  );
}
export type { Logger };
