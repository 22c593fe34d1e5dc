import { ApiError } from '../../errors.ts';
import type { Store } from '../contract.ts';

/** Another process (a rolling restart, `--scale`, a backup) held SQLite's lock past the busy timeout. */
function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * Makes a lock held past the busy timeout the client's 503, as a PostgreSQL
 * server that cannot be reached is (the SDKs wait and retry it), instead of a
 * 500: the request was fine, the database could not take it now. It also lets
 * the write batcher fail a batch whole at once rather than retry each write
 * alone, each waiting out the busy timeout again. Other errors (a full disk, a
 * corrupt file) stay what they are, logged as unexpected.
 */
export function busyAsUnavailable(store: Store): Store {
  const wrapped: Record<string, unknown> = { ...store };
  for (const [name, member] of Object.entries(store)) {
    // The health check reports the cause itself ("SQLITE_BUSY: database is locked").
    if (typeof member !== 'function' || name === 'checkWritable') continue;
    const method = member as (...args: unknown[]) => unknown;
    wrapped[name] = (...args: unknown[]) => {
      const result = method(...args);
      return result instanceof Promise
        ? result.catch((err: unknown) => {
            throw isBusy(err) ? ApiError.databaseUnavailable() : err;
          })
        : result;
    };
  }
  return wrapped as unknown as Store;
}
