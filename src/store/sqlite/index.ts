import type Database from 'better-sqlite3';
import { type BackgroundCheckpointOptions, startBackgroundCheckpoints } from '../../db/background-checkpoints.ts';
import type { SqliteDatabase } from '../../db/client.ts';
import { parseStoredMetadata } from '../../key-order.ts';
import type { ListParams, Metadata, PageParams } from '../../validation.ts';
import type { CompletionListJson, CompletionRecord, CompletionRow, MessageRow, Page, Store } from '../contract.ts';
import { COMPLETION_COLUMNS, createListQueries, PAGE_ITEM_COLUMNS, pageSql } from './list-query.ts';
import { createDump } from './dump.ts';
import { STORED_SIZE_SQL } from '../text-size.ts';
import { listMessagePage } from './messages.ts';
import { createProjectIds } from './projects.ts';
import { mergeSearchIndexAfter } from './search-merge.ts';
import { reindexQueuedSearch } from './search-requeue.ts';
import { createStatementCache, LIMIT_PARAMETER } from './statements.ts';
import { createUsageQueries } from './usage.ts';
import { createRowWrites, POSITION_COLUMNS, type StoredPosition } from './writes.ts';
import { messageSql } from './stored-json.ts';
import { busyAsUnavailable } from './busy.ts';
import { watchOpenedFile } from './opened-file.ts';
import { createWriteLock } from './write-lock.ts';
import { applyMetadataChange, type MetadataChange, type MetadataChangeResult } from '../metadata-change.ts';

const EMPTY_ITEMS = Buffer.alloc(0);

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
 * The methods are async only to meet the contract.
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

function createStore(db: SqliteDatabase, options: SqliteStoreOptions): Store {
  const prepare = createStatementCache(db);
  const file = watchOpenedFile(db);
  const whenLockFree = createWriteLock(db);
  /**
   * better-sqlite3's transaction function, begun with BEGIN IMMEDIATE once the write lock is free (waiting
   * for it without blocking the event loop), on the file this store opened only.
   */
  function immediate<A extends unknown[], R>(transaction: Database.Transaction<(...args: A) => R>): (...args: A) => Promise<R> {
    return (...args) =>
      whenLockFree(() => {
        file.assertStillOpened();
        return transaction.immediate(...args);
      });
  }
  // Completions a migration queued to be indexed again for search (0009), before anything is served. A file
  // at an older migration (tests that fill one through the store) has no queue.
  if (prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'search_requeue'").get()) reindexQueuedSearch(db, prepare);
  const projects = createProjectIds(prepare, whenLockFree);
  const rows = createRowWrites(prepare);
  const lists = createListQueries(prepare, options.searchSortThreshold, options.searchWalkLimit);
  const dumps = createDump(db, prepare, projects, rows, whenLockFree);
  const usage = createUsageQueries(prepare, lists, options.usageWalkLimit);
  const checkpoints =
    options.backgroundCheckpoints && !db.memory
      ? startBackgroundCheckpoints(db, options.backgroundCheckpoints === true ? {} : options.backgroundCheckpoints)
      : undefined;

  // Calls the unwrapped inserts: a nested transaction would cost a SAVEPOINT and RELEASE per completion.
  const saveMany = immediate(
    db.transaction((writes: [projectId: number, record: CompletionRecord][]) => {
      const inserts = rows.startInserts();
      for (const [projectId, record] of writes) inserts.insert(projectId, record);
      inserts.finish();
    }),
  );

  // IMMEDIATE like every write here: the check of taken ids and the inserts happen under the write lock.
  const importMany = immediate(db.transaction((projectId: number, records: CompletionRecord[]): { stored: number; skipped: string[] } => {
    const skipped: string[] = [];
    const seen = new Set<string>();
    const inserts = rows.startInserts();
    for (const record of records) {
      if (seen.has(record.id) || lists.findPosition(projectId, record.id) !== undefined) {
        skipped.push(record.id);
        continue;
      }
      seen.add(record.id);
      inserts.insert(projectId, record);
    }
    inserts.finish();
    return { stored: records.length - skipped.length, skipped };
  }));

  function listMessagesOf(project: string, completionIds: string[]): Map<string, MessageRow[]> {
    const messages = new Map<string, MessageRow[]>();
    const projectId = projects.find(project);
    if (projectId === undefined || completionIds.length === 0) return messages;
    // One statement whatever the number of ids: they arrive as one JSON array.
    const found = prepare(
      `SELECT c.id AS completionId, m.idx, ${messageSql('m.body')} AS body FROM completions c LEFT JOIN input_messages m ON m.completion_seq = c.seq
       WHERE c.project_id = ? AND c.id IN (SELECT value FROM json_each(?)) ORDER BY c.seq, m.idx`,
    ).all(projectId, JSON.stringify(completionIds)) as (MessageRow & { completionId: string })[];
    for (const { completionId, idx, body } of found) {
      let list = messages.get(completionId);
      if (!list) messages.set(completionId, (list = []));
      // A completion without input messages: its row, with none joined.
      if (idx !== null) list.push({ idx, body });
    }
    return messages;
  }

  function getCompletion(project: string, id: string): CompletionRow | undefined {
    const projectId = projects.find(project);
    if (projectId === undefined) return undefined;
    return prepare(`SELECT ${COMPLETION_COLUMNS} FROM completions c WHERE c.project_id = ? AND c.id = ?`).get(projectId, id) as
      | CompletionRow
      | undefined;
  }

  const updateMetadata = immediate(db.transaction((project: string, id: string, metadata: Metadata): CompletionRow | undefined => {
    const projectId = projects.find(project);
    if (projectId === undefined) return undefined;
    const position = prepare('SELECT created, metadata FROM completions WHERE project_id = ? AND id = ?').get(projectId, id) as
      | { created: number; metadata: string }
      | undefined;
    if (!position) return undefined;
    rows.replaceMetadata(projectId, id, position, metadata);
    return getCompletion(project, id);
  }));

  // One IMMEDIATE transaction: each map is read under the write lock, so no other process writes between the read and the write.
  const changeMetadata = immediate(db.transaction((project: string, ids: string[], change: MetadataChange): MetadataChangeResult[] => {
    const projectId = projects.find(project);
    return ids.map((id): MetadataChangeResult => {
      const position = projectId === undefined
        ? undefined
        : (prepare('SELECT created, metadata FROM completions WHERE project_id = ? AND id = ?').get(projectId, id) as
          | { created: number; metadata: string }
          | undefined);
      if (!position) return { id, outcome: 'not_found' };
      const previous = parseStoredMetadata(position.metadata);
      const { outcome, metadata } = applyMetadataChange(previous, change);
      if (outcome === 'updated') rows.replaceMetadata(projectId!, id, position, metadata);
      return { id, outcome, metadata, previous };
    });
  }));

  const deleteCompletion = immediate(db.transaction((project: string, id: string): boolean => {
    const projectId = projects.find(project);
    if (projectId === undefined) return false;
    const row = prepare(`SELECT ${POSITION_COLUMNS} FROM completions WHERE project_id = ? AND id = ?`).get(projectId, id) as
      | StoredPosition
      | undefined;
    if (!row) return false;
    rows.removeCompletion(row);
    // Kept for good (expired_at 0): a mirror or an import must never bring back what a user deleted.
    prepare('INSERT OR IGNORE INTO deleted_completions (project_id, id, created) VALUES (?, ?, ?)').run(projectId, id, row.created);
    return true;
  }));

  // Each expired completion leaves a tombstone, as a delete does: an `after` cursor naming it keeps
  // paging (an oldest-first walk meets the sweep at its very cursor) and a provider that reuses its id
  // gets a fresh one. A tombstone is its id and position, about 100 bytes against the kilobytes freed,
  // until purgeTombstones lets it go a window after it expired.
  const deleteExpired = immediate(db.transaction((storedBefore: number, batchSize: number, now: number): number => {
    const expired = prepare(`SELECT ${POSITION_COLUMNS} FROM completions WHERE stored_at < ? ORDER BY stored_at ${LIMIT_PARAMETER}`).all(
      storedBefore,
      batchSize,
    ) as StoredPosition[];
    const tombstone = prepare('INSERT OR IGNORE INTO deleted_completions (project_id, id, created, expired_at) VALUES (?, ?, ?, ?)');
    for (const row of expired) {
      rows.removeCompletion(row);
      tombstone.run(row.projectId, row.id, row.created, now);
    }
    return expired.length;
  }));

  // Only tombstones retention made (expired_at > 0, the partial index's own condition): every other is kept for good.
  const purgeTombstones = immediate(
    db.transaction(
      (expiredBefore: number, batchSize: number): number =>
        prepare(
          `DELETE FROM deleted_completions WHERE rowid IN
             (SELECT rowid FROM deleted_completions WHERE expired_at > 0 AND expired_at < ? ORDER BY expired_at ${LIMIT_PARAMETER})`,
        ).run(expiredBefore, batchSize).changes,
    ),
  );

  /**
   * Runs a page's list query (`read` turns its SQL into a result holding `count(result)` rows),
   * and once more with the search's matches sorted when the search's walk was cut before the page
   * filled (the words are rare there after all). Undefined when nothing can match.
   */
  function readList<T>(project: string, params: ListParams, columns: string, read: (sql: string, args: unknown[]) => T, count: (result: T) => number) {
    const projectId = projects.find(project);
    const query = lists.buildListQuery(projectId, params, { columns });
    if (!query) return undefined;
    const result = read(query.sql, query.args);
    if (!query.walkCut || count(result) > params.limit) return result;
    const sorted = lists.buildListQuery(projectId, params, { columns, sortSearchMatches: true })!;
    return read(sorted.sql, sorted.args);
  }

  /**
   * A messages page is up to three reads (the completion, the cursor's message, the page): one read
   * transaction makes them one snapshot, so another process deleting the completion between them
   * cannot turn a valid cursor into a 400 or the page into an empty one instead of the 404.
   */
  const listMessages = db.transaction((project: string, completionId: string, params: PageParams): Page<MessageRow> | undefined => {
    const projectId = projects.find(project);
    if (projectId === undefined) return undefined;
    const completion = prepare('SELECT seq FROM completions WHERE project_id = ? AND id = ?').get(projectId, completionId) as
      | { seq: number }
      | undefined;
    return completion && listMessagePage(prepare, completion.seq, completionId, params);
  });

  function listCompletions(project: string, params: ListParams): Page<CompletionRow> {
    const read = (sql: string, args: unknown[]) => prepare(sql).all(...args) as CompletionRow[];
    const items = readList(project, params, COMPLETION_COLUMNS, read, (rows) => rows.length) ?? [];
    const hasMore = items.length > params.limit;
    if (hasMore) items.pop();
    return { items, hasMore };
  }

  function listCompletionSizes(project: string, params: ListParams): Page<{ id: string; size: number }> {
    const read = (sql: string, args: unknown[]) => prepare(sql).all(...args) as { id: string; size: number }[];
    const items = readList(project, params, `c.id, ${STORED_SIZE_SQL} AS size`, read, (rows) => rows.length) ?? [];
    const hasMore = items.length > params.limit;
    if (hasMore) items.pop();
    return { items, hasMore };
  }

  function listCompletionsOf(project: string, ids: string[]): Map<string, CompletionRow> {
    const projectId = projects.find(project);
    if (projectId === undefined || ids.length === 0) return new Map();
    // One statement whatever the number of ids, as listMessagesOf.
    const rows = prepare(`SELECT ${COMPLETION_COLUMNS} FROM completions c WHERE c.project_id = ? AND c.id IN (SELECT value FROM json_each(?))`).all(
      projectId,
      JSON.stringify(ids),
    ) as CompletionRow[];
    return new Map(rows.map((row) => [row.id, row]));
  }

  function completionSizesOf(project: string, ids: string[]): Map<string, number> {
    const projectId = projects.find(project);
    if (projectId === undefined || ids.length === 0) return new Map();
    const rows = prepare(`SELECT c.id, ${STORED_SIZE_SQL} AS size FROM completions c WHERE c.project_id = ? AND c.id IN (SELECT value FROM json_each(?))`).all(
      projectId,
      JSON.stringify(ids),
    ) as { id: string; size: number }[];
    return new Map(rows.map(({ id, size }) => [id, size]));
  }

  /**
   * Each list text's page statement, found by the list text itself: wrapping it in pageSql first
   * built, flattened and hashed a longer text at every request (about 3% of a served list's
   * instructions under callgrind) only to find the same statement.
   */
  const pageStatements = new Map<string, Database.Statement>();

  /** A page as one row (see pageSql): no row of it becomes a JavaScript object or string. */
  function readPage(sql: string, args: unknown[]) {
    let statement = pageStatements.get(sql);
    if (!statement) {
      statement = prepare(pageSql(sql));
      pageStatements.set(sql, statement);
    }
    const row = statement.get(...args) as { ids: string; items: Buffer | null; lengths: string | null };
    return { ids: JSON.parse(row.ids) as string[], items: row.items ?? EMPTY_ITEMS, lengths: row.lengths ?? '' };
  }

  function listCompletionsJson(project: string, params: ListParams): CompletionListJson {
    const page = readList(project, params, PAGE_ITEM_COLUMNS, readPage, (read) => read.ids.length);
    if (!page) return { items: EMPTY_ITEMS, count: 0, firstId: null, lastId: null, hasMore: false };
    const { ids, lengths } = page;
    let { items } = page;
    const hasMore = ids.length > params.limit;
    if (hasMore) {
      // The row read beyond the page tells there is more; it is not served: cut it and the comma before it.
      items = items.subarray(0, items.length - 1 - Number(lengths.slice(lengths.lastIndexOf(',') + 1)));
      ids.pop();
    }
    return { items, count: ids.length, firstId: ids[0] ?? null, lastId: ids.at(-1) ?? null, hasMore };
  }

  async function saveCompletion(project: string, record: CompletionRecord): Promise<void> {
    await checkpoints?.beforeWrite();
    await saveMany([[await projects.ensure(project), record]]);
  }

  /** Each write's project as its id, new projects committed first (createProjectIds). */
  async function withProjectIds(writes: readonly (readonly [string, CompletionRecord])[]): Promise<[number, CompletionRecord][]> {
    const ids: [number, CompletionRecord][] = [];
    for (const [project, record] of writes) ids.push([await projects.ensure(project), record]);
    return ids;
  }

  /** One autocommit statement that writes, once the write lock is free. */
  function writeOne(sql: string, ...args: unknown[]): Promise<Database.RunResult> {
    return whenLockFree(() => prepare(sql).run(...args));
  }

  function isIdTaken(project: string, id: string): boolean {
    const projectId = projects.find(project);
    return projectId !== undefined && lists.findPosition(projectId, id) !== undefined;
  }

  return {
    saveCompletion,
    saveCompletions: async (project, records) => {
      const projectId = await projects.ensure(project);
      await saveMany(records.map((record) => [projectId, record]));
    },
    saveCompletionBatch: async (writes) => {
      await checkpoints?.beforeWrite();
      await saveMany(await withProjectIds(writes));
    },
    importCompletions: async (project, records) => importMany(await projects.ensure(project), records),
    settleSearchIndex: (written) => mergeSearchIndexAfter(db, prepare, written),
    getCompletion,
    listCompletions: async (project, params) => listCompletions(project, params),
    listCompletionSizes: async (project, params) => listCompletionSizes(project, params),
    listCompletionsOf: async (project, ids) => listCompletionsOf(project, ids),
    completionSizesOf: async (project, ids) => completionSizesOf(project, ids),
    listCompletionsJson,
    summarizeUsage: async (project, filters) => usage.summarize(projects.find(project), filters),
    updateMetadata: async (project, id, metadata) => updateMetadata(project, id, metadata),
    changeMetadata: async (project, ids, change) => changeMetadata(project, ids, change),
    deleteCompletion: async (project, id) => deleteCompletion(project, id),
    deleteExpired: async (storedBefore, batchSize, now) => deleteExpired(storedBefore, batchSize, now),
    purgeTombstones: async (expiredBefore, batchSize) => purgeTombstones(expiredBefore, batchSize),
    listMessages: async (project, completionId, params) => listMessages(project, completionId, params),
    listMessagesOf: async (project, completionIds) => listMessagesOf(project, completionIds),
    isIdTaken: async (project, id) => isIdTaken(project, id),
    // One service serves a SQLite file: the allocator's own memory holds a stream's id (completion-ids.ts).
    holdStreamId: async (project, id) => (isIdTaken(project, id) ? 'taken' : 'free'),
    releaseStreamId: async () => {},
    saveHeldCompletion: async (project, record) => saveCompletion(project, record),
    getSetting: async (key) => (prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value,
    setSetting: async (key, value) => {
      await writeOne('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, value);
    },
    deleteSetting: async (key) => {
      await writeOne('DELETE FROM settings WHERE key = ?', key);
    },
    replaceSetting: async (key, expected, value) => {
      if (expected === undefined && value === undefined) return prepare('SELECT 1 FROM settings WHERE key = ?').get(key) === undefined;
      if (expected === undefined) return (await writeOne('INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)', key, value)).changes === 1;
      if (value === undefined) return (await writeOne('DELETE FROM settings WHERE key = ? AND value = ?', key, expected)).changes === 1;
      return (await writeOne('UPDATE settings SET value = ? WHERE key = ? AND value = ?', value, key, expected)).changes === 1;
    },
    getOrCreateSetting: async (key, create) => {
      await writeOne('INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)', key, create());
      return (prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string }).value;
    },
    checkWritable: async () => {
      file.assertStillOpened();
      file.assertDiskHasRoom();
      await writeOne("INSERT INTO settings (key, value) VALUES ('health_checked_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", String(Date.now()));
    },
    explainList: async (project, params) => {
      const query = lists.buildListQuery(projects.find(project), params);
      if (!query) return { walked: undefined, steps: [] };
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...query.args) as { detail: string }[];
      return { walked: query.walked, steps: plan.map((r) => r.detail) };
    },
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
