import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { ApiError } from '../src/errors.ts';
import { createSqliteStore, type Store } from '../src/store/index.ts';
import { busyAsUnavailable } from '../src/store/sqlite/busy.ts';

/**
 * A SQLite write waits for another process's lock on timers (src/store/sqlite/write-lock.ts), so the
 * event loop goes on meanwhile; from the store's very first write on (a cached `PRAGMA busy_timeout`
 * statement changed nothing at its first run, and that write waited inside the call).
 */
describe('SQLite writes waiting for another connection\'s lock', () => {
  let folder: string;
  let db: SqliteDatabase;
  let other: Database.Database;
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'write-lock-'));
    db = openDatabase(join(folder, 'c.db'));
    other = new Database(join(folder, 'c.db'));
  });
  afterEach(() => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    db.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('the first and every later write wait on timers while the lock is held, and go in once it is free', async () => {
    const store = createSqliteStore(db);
    for (const attempt of ['first', 'second']) {
      other.exec('BEGIN IMMEDIATE');
      const events: string[] = [];
      const write = store.setSetting('write-lock-test', attempt).then(() => events.push('written'));
      // A timer that fires while the write waits: it could not if the wait held the event loop.
      await new Promise((resolve) => setTimeout(resolve, 50));
      events.push('timer');
      other.exec('COMMIT');
      await write;
      expect({ attempt, events }).toEqual({ attempt, events: ['timer', 'written'] });
      expect(await store.getSetting('write-lock-test')).toBe(attempt);
    }
  });
});

describe('SQLite errors of a database that cannot take the request now', () => {
  it('are the 503 whether a method fails in a promise or in the same turn (a list page, a retrieve)', async () => {
    const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const store = busyAsUnavailable({
      listCompletionsJson: () => {
        throw busy();
      },
      getCompletion: async () => {
        throw busy();
      },
    } as unknown as Store);
    expect(() => store.listCompletionsJson('p', { after: undefined, limit: 20, order: 'asc', model: undefined, metadata: [] })).toThrow(ApiError);
    await expect(store.getCompletion('p', 'x')).rejects.toMatchObject({ status: 503 });
    try {
      store.listCompletionsJson('p', { after: undefined, limit: 20, order: 'asc', model: undefined, metadata: [] });
    } catch (err) {
      expect({ status: (err as ApiError).status, cause: ((err as ApiError).cause as Error).message }).toEqual({ status: 503, cause: 'database is locked' });
    }
  });
});
