import { ApiError } from '../../errors.ts';
import type { Store } from '../contract.ts';

/**
 * The database cannot take the request now, whatever the request: another process (a rolling
 * restart, `--scale`, a backup) held SQLite's lock past the busy timeout, or the disk is full,
 * failing, read-only or gone.
 */
const UNAVAILABLE_CODES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CANTOPEN'];

function isUnavailable(err: unknown): err is Error {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && UNAVAILABLE_CODES.some((prefix) => code.startsWith(prefix));
}

/**
 * Makes those the client's 503, as a PostgreSQL server that cannot be reached
 * is (the SDKs wait and retry it), instead of a 500: the request was fine,
 * the database could not take it now (the cause is logged, and `/healthz`
 * names it). It also lets the write batcher fail a batch whole at once rather
 * than retry each write alone, each waiting out the busy timeout again. Other
 * errors (a corrupt file, a bug) stay what they are, logged as unexpected.
 */
export function busyAsUnavailable(store: Store): Store {
  const wrapped: Record<string, unknown> = { ...store };
  for (const [name, member] of Object.entries(store)) {
    // The health check reports the cause itself ("SQLITE_BUSY: database is locked").
    if (typeof member !== 'function' || name === 'checkWritable') continue;
    const method = member as (...args: unknown[]) => unknown;
    wrapped[name] = (...args: unknown[]) => {
      let result: unknown;
      try {
        // Some answer in the same turn (a list page, a retrieve: `Answered`), so they throw here, not in a promise.
        result = method(...args);
      } catch (err) {
        throw isUnavailable(err) ? ApiError.databaseUnavailable(err) : err;
      }
      return result instanceof Promise
        ? result.catch((err: unknown) => {
            throw isUnavailable(err) ? ApiError.databaseUnavailable(err) : err;
          })
        : result;
    };
  }
  return wrapped as unknown as Store;
}
