import type Database from 'better-sqlite3';
import { type BackgroundCheckpointOptions, startBackgroundCheckpoints } from '../../db/background-checkpoints.ts';
import type { SqliteDatabase } from '../../db/client.ts';
import type { Store } from '../contract.ts';
import { busyAsUnavailable } from './busy.ts';
import { createCompletionChanges } from './changes.ts';
import { createDump } from './dump.ts';
import { createListPages } from './list-pages.ts';
import { createListQueries } from './list-query.ts';
import { watchOpenedFile } from './opened-file.ts';
import type { Immediate, SqliteParts } from './parts.ts';
import { createProjectIds } from './projects.ts';
import { createCompletionReads } from './reads.ts';
import { createCompletionSaves } from './saves.ts';
import { reindexQueuedSearch } from './search-requeue.ts';
import { createSettings } from './settings.ts';
import { createStatementCache } from './statements.ts';
import { createWriteLock } from './write-lock.ts';
import { createRowWrites } from './writes.ts';

export interface SqliteStoreOptions {
  /** Tests lower it to drive both search strategies over a small database (see SEARCH_SORT_THRESHOLD). */
  searchSortThreshold?: number;
  /** Tests lower it to cut a search's walk over a small database (see SEARCH_WALK_LIMIT). */
  searchWalkLimit?: number;
  /** Tests lower it to reach a truncated usage summary (see USAGE_WALK_LIMIT). */
  usageWalkLimit?: number;
  /**
   * WAL checkpoints from a worker thread instead of inside a commit (see
   * background-checkpoints.ts): what the service does; off by default, so a
   * short-lived store (a test, a CLI run) starts no thread.
   */
  backgroundCheckpoints?: BackgroundCheckpointOptions | boolean;
}

/**
 * The SQLite backend. better-sqlite3 is synchronous, so each method runs start
 * to end without yielding, and each write wraps its statements in one
 * transaction: a completion and all its rows commit together or not at all.
 * The methods are async only to meet the contract, but the retrieve and the
 * list page, which answer in the turn they read (`Answered` in contract.ts).
 *
 * Several processes may share the file (a rolling restart, `--scale`), so every
 * write transaction begins IMMEDIATE: it takes the write lock first, waiting
 * for the busy timeout. A deferred one that reads and then writes fails at
 * once with SQLITE_BUSY when another process wrote in between, since waiting
 * cannot make its stale read current. And each one first checks that the path
 * still names the file opened (opened-file.ts).
 */
export function createSqliteStore(db: SqliteDatabase, options: SqliteStoreOptions = {}): Store {
  return busyAsUnavailable(createStore(db, options));
}

/** The store, put together from its parts: each module holds one kind of work, all on the one connection. */
function createStore(db: SqliteDatabase, options: SqliteStoreOptions): Store {
  const prepare = createStatementCache(db);
  const file = watchOpenedFile(db);
  const whenLockFree = createWriteLock(db);
  /**
   * better-sqlite3's transaction function, begun with BEGIN IMMEDIATE once the write lock is free (waiting
   * for it without blocking the event loop), on the file this store opened only.
   */
  const immediate: Immediate =
    <A extends unknown[], R>(transaction: Database.Transaction<(...args: A) => R>) =>
    (...args: A) =>
      whenLockFree(() => {
        file.assertStillOpened();
        return transaction.immediate(...args);
      });
  // Completions a migration queued to be indexed again for search (0009), before anything is served. A file
  // at an older migration (tests that fill one through the store) has no queue.
  if (prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'search_requeue'").get()) reindexQueuedSearch(db, prepare);
  const projects = createProjectIds(prepare, whenLockFree);
  const rows = createRowWrites(prepare);
  const lists = createListQueries(prepare, options.searchSortThreshold, options.searchWalkLimit);
  const checkpoints =
    options.backgroundCheckpoints && !db.memory
      ? startBackgroundCheckpoints(db, options.backgroundCheckpoints === true ? {} : options.backgroundCheckpoints)
      : undefined;
  const parts: SqliteParts = { db, prepare, file, whenLockFree, immediate, projects, rows, lists, checkpoints };
  const dumps = createDump(db, prepare, projects, rows, whenLockFree);

  return {
    ...createCompletionSaves(parts),
    ...createCompletionReads(parts, options.usageWalkLimit),
    ...createListPages(parts),
    ...createCompletionChanges(parts),
    ...createSettings(parts),
    dump: (batchSize) => dumps.dump(batchSize),
    restore: async (items) => dumps.restore(items),
    isEmpty: async () => dumps.isEmpty(),
    holdings: async () => dumps.holdings(),
    close: async () => {
      if (!db.open) return;
      await checkpoints?.stop();
      // Folds the WAL into the main file, so a stopped service is one self-contained file to copy or back up.
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
    },
  };
}
