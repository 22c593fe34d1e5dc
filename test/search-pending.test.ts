import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { createSqliteStore, type CompletionRecord, type Store } from '../src/store/index.ts';
import { SEARCH_INDEX_DELAY_MS } from '../src/store/sqlite/search-pending.ts';
import type { ListParams } from '../src/validation.ts';
import { toCompletionRecord } from '../src/wire.ts';

/**
 * The service's creates on SQLite commit with their search rows pending (src/store/sqlite/search-pending.ts);
 * the index rows follow a moment later, many to a transaction. A search never misses an acknowledged
 * completion all the same: it indexes what is pending first, from any process on the file.
 */
const PROJECT = 'proj_pending';

/** A stored create: `words` in its input, as text parts the way the SDKs send them, and in its reply. */
function record(n: number, words: string): CompletionRecord {
  return toCompletionRecord({
    request: { model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: `question ${words}` }] }] },
    response: {
      id: `chatcmpl-pending${n}`,
      object: 'chat.completion',
      created: 1_767_225_600 + n,
      model: 'gpt-4o',
      choices: [{ index: 0, message: { role: 'assistant', content: `reply ${words}` }, finish_reason: 'stop' }],
    },
    id: `chatcmpl-pending${n}`,
    requestId: `req_${n}`,
    metadata: {},
    now: 1_767_225_600,
  });
}

function search(words: string): ListParams {
  return { limit: 20, order: 'asc', after: undefined, model: undefined, metadata: [], search: words };
}

async function found(store: Store, words: string): Promise<string[]> {
  return (await store.listCompletions(PROJECT, search(words))).items.map((row) => row.id);
}

const pending = (db: SqliteDatabase) => db.prepare('SELECT seq FROM search_pending ORDER BY seq').pluck().all();
/** What the full-text index itself holds for a word (no store in between, so nothing is indexed first). */
const indexed = (db: SqliteDatabase, word: string) =>
  db.prepare('SELECT rowid FROM completion_search WHERE completion_search MATCH ? ORDER BY rowid').pluck().all(`text : "${word}"`);

/** Whether a merge step would change anything: true while the index has more than one segment (as FTS5 documents it). */
function hasSegmentsToMerge(db: SqliteDatabase): boolean {
  const totalChanges = () => db.prepare('SELECT total_changes()').pluck().get() as number;
  const before = totalChanges();
  db.prepare("INSERT INTO completion_search (completion_search, rank) VALUES ('merge', -500)").run();
  return totalChanges() - before >= 2;
}

let folder: string;
let path: string;
const opened: SqliteDatabase[] = [];
function open(): { db: SqliteDatabase; store: Store } {
  const db = openDatabase(path);
  opened.push(db);
  return { db, store: createSqliteStore(db) };
}

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'search-pending-'));
  path = join(folder, 'completions.db');
});
afterEach(() => {
  for (const db of opened.splice(0)) if (db.open) db.close();
  rmSync(folder, { recursive: true, force: true });
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('search rows of stored creates (SQLite)', () => {
  it('a create commits with its search rows pending, a search at once finds it, and the pending rows are then indexed', async () => {
    const { db, store } = open();
    await store.saveCompletion(PROJECT, record(1, 'marigold'));
    expect(pending(db)).toEqual([1]);
    expect(indexed(db, 'marigold')).toEqual([]);
    expect(await found(store, 'marigold')).toEqual(['chatcmpl-pending1']);
    expect(pending(db)).toEqual([]);
    expect(indexed(db, 'marigold')).toEqual([1]);
  });

  it('without a search, the pending rows are indexed after SEARCH_INDEX_DELAY_MS, the creates of the meantime in one transaction', async () => {
    const { db, store } = open();
    await store.saveCompletionBatch([[PROJECT, record(1, 'tulip one')]]);
    await store.saveCompletion(PROJECT, record(2, 'tulip two'));
    await store.saveCompletionBatch([[PROJECT, record(3, 'tulip three')], [PROJECT, record(4, 'tulip four')]]);
    expect(pending(db)).toEqual([1, 2, 3, 4]);
    await new Promise((resolve) => setTimeout(resolve, SEARCH_INDEX_DELAY_MS));
    await until(() => pending(db).length === 0);
    expect(indexed(db, 'tulip')).toEqual([1, 2, 3, 4]);
    expect(indexed(db, 'three')).toEqual([3]);
    // FTS5 writes a segment per transaction: one segment, so no create was indexed on its own.
    expect(hasSegmentsToMerge(db)).toBe(false);
  });

  it("another process's pending creates are found by a search here, their text read back from the rows as the creating process holds it", async () => {
    const creator = open();
    const reader = open();
    await creator.store.saveCompletion(PROJECT, record(1, 'lavender field'));
    await creator.store.saveCompletion(PROJECT, record(2, 'lavender hill'));
    expect(pending(reader.db)).toEqual([1, 2]);
    expect(await found(reader.store, 'lavender')).toEqual(['chatcmpl-pending1', 'chatcmpl-pending2']);
    expect(await found(reader.store, 'question hill')).toEqual(['chatcmpl-pending2']);
    expect(await found(reader.store, 'reply field')).toEqual(['chatcmpl-pending1']);
    expect(pending(creator.db)).toEqual([]);
    // The creator's own run later finds nothing pending and indexes nothing twice.
    await new Promise((resolve) => setTimeout(resolve, SEARCH_INDEX_DELAY_MS * 2));
    expect(indexed(creator.db, 'lavender')).toEqual([1, 2]);
    expect(await found(creator.store, 'lavender')).toEqual(['chatcmpl-pending1', 'chatcmpl-pending2']);
  });

  it('pending lines a crash left are indexed when the store opens again', async () => {
    const crashed = open();
    await crashed.store.saveCompletion(PROJECT, record(1, 'peony'));
    // The process dies before its timer runs: its connection closes without the store's close().
    crashed.db.close();
    const after = open();
    expect(pending(after.db)).toEqual([1]);
    await until(() => pending(after.db).length === 0);
    expect(indexed(after.db, 'peony')).toEqual([1]);
  });

  it('a clean close indexes what is pending', async () => {
    const first = open();
    await first.store.saveCompletion(PROJECT, record(1, 'orchid'));
    await first.store.close();
    const db = openDatabase(path);
    opened.push(db);
    expect(pending(db)).toEqual([]);
    expect(indexed(db, 'orchid')).toEqual([1]);
  });

  it('a completion deleted while pending takes its line with it and is never indexed; one deleted after is taken out of the index', async () => {
    const { db, store } = open();
    await store.saveCompletion(PROJECT, record(1, 'daisy'));
    await store.saveCompletion(PROJECT, record(2, 'daisy'));
    expect(await store.deleteCompletion(PROJECT, 'chatcmpl-pending1')).toBe(true);
    expect(pending(db)).toEqual([2]);
    expect(await found(store, 'daisy')).toEqual(['chatcmpl-pending2']);
    expect(indexed(db, 'daisy')).toEqual([2]);
    expect(await store.deleteCompletion(PROJECT, 'chatcmpl-pending2')).toBe(true);
    expect(indexed(db, 'daisy')).toEqual([]);
    expect(await found(store, 'daisy')).toEqual([]);
  });

  it('bulk writes (import, copy, seeding) index in their own transaction, leaving nothing pending', async () => {
    const { db, store } = open();
    await store.saveCompletions(PROJECT, [record(1, 'aster'), record(2, 'aster')]);
    await store.importCompletions(PROJECT, [record(3, 'aster')]);
    expect(pending(db)).toEqual([]);
    expect(indexed(db, 'aster')).toEqual([1, 2, 3]);
  });
});
