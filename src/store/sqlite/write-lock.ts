import { setTimeout as sleep } from 'node:timers/promises';
import type { SqliteDatabase } from '../../db/client.ts';

/** The first pause between two tries for the lock, doubled after each try up to the longest. */
const FIRST_PAUSE_MS = 1;
const LONGEST_PAUSE_MS = 50;

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * Waits for SQLite's write lock without blocking the event loop. SQLite's own busy timeout
 * waits inside the call, and better-sqlite3's calls are synchronous: while another process
 * held the lock (the other instance of a rolling restart or `--scale`, an import, a backup
 * tool), the whole process stood still, `/livez` too, for up to the 5 s timeout, which a
 * liveness probe with a 1 s timeout takes for a dead process. Here a write is tried with no
 * wait; while the lock is taken, it is tried again after a timer (1, 2, 4 ... 50 ms), and
 * after the connection's busy timeout (as opened: SQLITE_BUSY_TIMEOUT_MS in the service) its
 * SQLITE_BUSY is thrown as before (the 503 to retry).
 *
 * `write` must take the lock itself and hold nothing when it throws: a `.immediate()`
 * transaction (BEGIN IMMEDIATE fails before anything ran) or one autocommit statement. The
 * connection's busy timeout is 0 only while it runs: inside a transaction begun IMMEDIATE
 * in WAL mode nothing waits for another process (a commit's checkpoint is PASSIVE), and
 * reads keep the timeout. Set by SQL run each time, not by a cached statement: SQLite applies
 * `PRAGMA busy_timeout` when it prepares the statement, so a cached one's first run changed
 * nothing and the store's first write waited inside the call. By `db.exec()`, not `db.pragma()`:
 * the same prepare and step, without a Statement object and a result row built for JavaScript
 * each time (the two `db.pragma()` calls of every commit took 4-6x as long as these two).
 */
export function createWriteLock(db: SqliteDatabase, waitMs = db.pragma('busy_timeout', { simple: true }) as number) {
  const restore = `PRAGMA busy_timeout = ${waitMs}`;
  function tryOnce<R>(write: () => R): R {
    db.exec('PRAGMA busy_timeout = 0');
    try {
      return write();
    } finally {
      db.exec(restore);
    }
  }

  return async function whenLockFree<R>(write: () => R): Promise<R> {
    const deadline = Date.now() + waitMs;
    for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, LONGEST_PAUSE_MS)) {
      try {
        return tryOnce(write);
      } catch (err) {
        if (!isBusy(err) || Date.now() >= deadline) throw err;
      }
      await sleep(Math.min(pause, Math.max(deadline - Date.now(), 0)));
    }
  };
}

export type WhenLockFree = ReturnType<typeof createWriteLock>;
