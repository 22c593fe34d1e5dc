import pino, { type Logger } from 'pino';
import type { Config } from './config.ts';

/** JSON lines on stdout. Authorization headers and bodies are never passed to it, so keys and message contents never reach a log. */
export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}
