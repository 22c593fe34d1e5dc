import type { Logger } from 'pino';

/** At most one `database unavailable` line per cause in this long. */
const INTERVAL_MS = 10_000;
/** A count older than this belongs to an outage that is over: not carried onto the first line of the next. */
const COUNT_KEPT_MS = 60_000;
/** Causes remembered at once: an outage has one or two; past this many the memory starts over. */
const MAX_CAUSES = 100;

interface Seen {
  at: number;
  suppressed: number;
}

/**
 * What makes two failures one cause: a PostgreSQL error's SQLSTATE alone (its message may name a segment, a block or
 * a process that differs each time: "could not resize shared memory segment \"/PostgreSQL.1804289383\""), else the
 * code and the message with its numbers taken out (a port, an address).
 */
function causeKey(code: unknown, message: string): string {
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  return `${typeof code === 'string' ? code : ''}\n${message.replace(/\d+/g, '#')}`;
}

/**
 * The `database unavailable` warning of a request's 503, once per cause and interval. In an outage every request
 * fails the same way: 500 requests a second made 500 lines a second (the SDKs retry each twice more), each with a
 * stack through our own frames. One line per cause every 10 s, saying how many it stands for, tells the operator
 * as much; /healthz and `database_errors_total` follow it request by request.
 */
export function createDatabaseWarnings(logger: Logger, now: () => number = () => performance.now()) {
  const seen = new Map<string, Seen>();
  return (cause: Error, context: { requestId?: string; path: string }): void => {
    const code = (cause as { code?: unknown }).code;
    const key = causeKey(code, cause.message);
    const at = now();
    const last = seen.get(key);
    if (last && at - last.at < INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    if (seen.size >= MAX_CAUSES) seen.clear();
    seen.set(key, { at, suppressed: 0 });
    const since = last?.suppressed && at - last.at < COUNT_KEPT_MS ? { alsoFailedSinceLastLine: last.suppressed } : {};
    logger.warn({ cause: { code, message: cause.message }, ...context, ...since }, 'database unavailable');
  };
}
