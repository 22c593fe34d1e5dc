import type { Logger } from 'pino';

/** At most one `database unavailable` line per cause in this long. */
const INTERVAL_MS = 10_000;
/** Causes remembered at once: an outage has one or two; past this many the memory starts over. */
const MAX_CAUSES = 100;

interface Seen {
  at: number;
  suppressed: number;
}

/**
 * The `database unavailable` warning of a request's 503, once per cause and interval. In an outage every request
 * fails the same way: 500 requests a second made 500 lines a second (the SDKs retry each twice more), each with a
 * stack through our own frames. One line per cause every 10 s, saying how many it stands for, tells the operator
 * as much; /healthz and `database_errors_total` follow it request by request.
 */
export function createDatabaseWarnings(logger: Logger, now: () => number = Date.now) {
  const seen = new Map<string, Seen>();
  return (cause: Error, context: { requestId?: string; path: string }): void => {
    const code = (cause as { code?: unknown }).code;
    const key = `${typeof code === 'string' ? code : ''}\n${cause.message}`;
    const at = now();
    const last = seen.get(key);
    if (last && at - last.at < INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    if (seen.size >= MAX_CAUSES) seen.clear();
    seen.set(key, { at, suppressed: 0 });
    const since = last?.suppressed ? { alsoFailedSinceLastLine: last.suppressed } : {};
    logger.warn({ cause: { code, message: cause.message }, ...context, ...since }, 'database unavailable');
  };
}
