import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { createSqliteStore, type Store } from '../src/store/index.ts';
import type { ListParams, Metadata } from '../src/validation.ts';
import { toCompletionRecord } from '../src/wire.ts';
import { storeChoicesApart } from './helpers/choices-apart.ts';
import { storeJsonWhole } from './helpers/whole-stored-json.ts';
import { CJK_RECORD_COUNT, cjkRecords, cjkTexts } from './helpers/cjk-records.ts';

/**
 * Migrations that move stored data (0006 rebuilds the filter tables WITHOUT ROWID and the
 * full-text index with `text` first, 0007 compacts the stored JSON, 0008 moves the choices into the
 * completion's row) must leave a database that answers exactly as before: every
 * list, filter, search and usage figure. Checked on a file at the migration before them, filled
 * through the store, then opened as the service opens it.
 */

const MIGRATIONS_FOLDER = new URL('../migrations', import.meta.url).pathname;
/** The last migration before the ones that move data. */
const BEFORE = '0005_search_and_usage_backfill';
const PROJECT = 'project-a';

let folder: string;
let path: string;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'migration-upgrade-'));
  path = join(folder, 'old.db');
});

afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

/** A database file migrated up to and including `last`, recorded as drizzle's migrator records it. */
function openAtMigration(last: string): SqliteDatabase {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  const migrations = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
  // readMigrationFiles gives no names: the journal lists them in the same order.
  const { entries } = JSON.parse(readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, 'utf8')) as { entries: { tag: string }[] };
  db.exec('CREATE TABLE "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
  for (const [n, migration] of migrations.entries()) {
    for (const statement of migration.sql) if (statement.trim() !== '') db.exec(statement);
    db.prepare('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)').run(migration.hash, migration.folderMillis);
    if (entries[n]!.tag === last) return db;
  }
  throw new Error(`no migration ${last}`);
}

function metadataOf(n: number): Metadata {
  return { env: n % 2 === 0 ? 'prod' : 'staging', user: `u${n % 7}` };
}

/** Completions number `from` up to (not including) `to`. */
function recordsOf(from: number, to: number) {
  return Array.from({ length: to - from }, (_, i) => from + i).map((n) =>
    toCompletionRecord({
      request: {
        model: n % 3 === 0 ? 'o3-mini' : 'gpt-4o',
        messages: [
          { role: 'system', content: 'be brief', ...(n % 4 === 0 ? { name: 'ops' } : {}) },
          { role: 'user', content: `question ${n} word${n % 5} don't` },
        ],
      },
      response: {
        id: `chatcmpl-${String(n).padStart(3, '0')}`,
        // As OpenAI's responses, but one in ten without `object` (so its body does not start as a stored body is compacted).
        ...(n % 10 === 0 ? {} : { object: 'chat.completion' }),
        created: 1_767_225_600 + n * 7_000,
        model: n % 3 === 0 ? 'o3-mini' : 'gpt-4o-2024-08-06',
        choices: [{ index: 0, message: { role: 'assistant', content: `answer ${n} reply${n % 4}` }, finish_reason: 'stop' }],
        usage: { prompt_tokens: n, completion_tokens: 2 * n, total_tokens: 3 * n },
      },
      id: `chatcmpl-${String(n).padStart(3, '0')}`,
      requestId: `req_${n}`,
      metadata: metadataOf(n),
      now: 0,
    }),
  );
}

async function fill(store: Store): Promise<void> {
  await store.saveCompletions(PROJECT, recordsOf(0, 60));
  await store.deleteCompletion(PROJECT, 'chatcmpl-010');
  await store.updateMetadata(PROJECT, 'chatcmpl-011', { env: 'test', user: 'u-new' });
}

/** Everything a client can read back, as serialized ids and figures. */
async function answers(store: Store) {
  const list = async (overrides: Partial<ListParams>) =>
    (await store.listCompletions(PROJECT, { after: undefined, limit: 100, order: 'asc', model: undefined, metadata: [], ...overrides })).items;
  const shapes: Record<string, Partial<ListParams>> = {
    all: {},
    desc: { order: 'desc' },
    model: { model: 'o3-mini' },
    requestedModel: { model: 'gpt-4o' },
    respondedModel: { model: 'gpt-4o-2024-08-06' },
    env: { metadata: [['env', 'prod']] },
    pair: { metadata: [['env', 'staging'], ['user', 'u3']] },
    updated: { metadata: [['user', 'u-new']] },
    after: { after: 'chatcmpl-030', model: 'gpt-4o', order: 'desc' },
    word: { search: 'word2' },
    reply: { search: 'reply3', metadata: [['env', 'prod']] },
    apostrophe: { search: "don't" },
    phrase: { search: 'question 12' },
    deleted: { search: 'question 10' },
  };
  const lists: Record<string, unknown> = {};
  for (const [name, shape] of Object.entries(shapes)) lists[name] = await list(shape);
  return {
    lists,
    usage: await store.summarizeUsage(PROJECT, { model: undefined, metadata: [] }),
    modelUsage: await store.summarizeUsage(PROJECT, { model: 'o3-mini', metadata: [] }),
    one: await store.getCompletion(PROJECT, 'chatcmpl-042'),
    messages: await store.listMessages(PROJECT, 'chatcmpl-042', { after: undefined, limit: 10, order: 'asc' }),
  };
}

describe(`upgrading a database from ${BEFORE}`, () => {
  it('keeps every completion, filter, search and usage figure', async () => {
    const old = openAtMigration(BEFORE);
    // The store writes the choices into the completion's row: a column there while it fills, then
    // moved into the table of that time (below).
    old.exec("ALTER TABLE completions ADD choices text DEFAULT '' NOT NULL");
    // And gives an expired completion's tombstone its time: a column here while it fills, dropped before the upgrade adds it.
    old.exec('ALTER TABLE deleted_completions ADD expired_at integer DEFAULT 0 NOT NULL');
    const oldStore = createSqliteStore(old);
    await fill(oldStore);
    old.exec('ALTER TABLE deleted_completions DROP COLUMN expired_at');
    // Stored as the code of that time stored it.
    storeJsonWhole(old);
    const before = await answers(oldStore);
    storeChoicesApart(old, { dropColumn: true });
    expect((before.lists.pair as unknown[]).length).toBeGreaterThan(0);
    expect((before.lists.word as unknown[]).length).toBe(12);
    expect(before.lists.deleted).toEqual([]);
    await oldStore.close();

    const upgraded = openDatabase(path);
    try {
      // 0010: the tombstone already there (it cannot tell an expiry from a delete) is kept for good.
      expect(upgraded.prepare('SELECT id, expired_at AS expiredAt FROM deleted_completions').all()).toEqual([{ id: 'chatcmpl-010', expiredAt: 0 }]);
      const schema = upgraded.prepare("SELECT name, sql FROM sqlite_schema WHERE name IN ('metadata', 'completion_models', 'completion_search')").all() as {
        name: string;
        sql: string;
      }[];
      for (const { name, sql } of schema) {
        if (name === 'completion_search') expect(sql).toMatch(/fts5\(\s*`text`, `project`/);
        else expect(sql).toContain('WITHOUT ROWID');
      }
      expect(upgraded.prepare("SELECT count(*) FROM sqlite_schema WHERE name IN ('metadata_filter_idx', 'completion_models_filter_idx')").pluck().get()).toBe(0);
      // 0007 compacted every body and message of the usual shape, and left the others whole
      // (bodies without `object`: 0, 20, 30, 40, 50; system messages with a name: every fourth)...
      expect(upgraded.prepare("SELECT id FROM completions WHERE body LIKE '{%' ORDER BY id").pluck().all()).toEqual(
        ['chatcmpl-000', 'chatcmpl-020', 'chatcmpl-030', 'chatcmpl-040', 'chatcmpl-050'],
      );
      expect(upgraded.prepare("SELECT count(*) FROM input_messages WHERE body LIKE '%}'").pluck().get()).toBe(15);
      expect(upgraded.prepare('SELECT count(*) FROM input_messages').pluck().get()).toBe(59 * 2);
      // ...and every read serves the same bytes.
      const store = createSqliteStore(upgraded);
      expect(await answers(store)).toEqual(before);
      expect(await store.purgeTombstones(Number.MAX_SAFE_INTEGER, 10)).toBe(0);
      expect(await store.isIdTaken(PROJECT, 'chatcmpl-010')).toBe(true);
      // And it goes on working: new completions are found by their filters and words, the old ones still are.
      await store.saveCompletions(PROJECT, recordsOf(60, 80));
      const found = await store.listCompletions(PROJECT, {
        after: undefined, limit: 100, order: 'asc', model: 'o3-mini', metadata: [['env', 'prod']], search: 'word3',
      });
      expect(found.items.map((row) => row.id)).toEqual(['chatcmpl-018', 'chatcmpl-048', 'chatcmpl-078']);
    } finally {
      upgraded.close();
    }
  });
});

describe('upgrading a database from 0008_choices_in_completion_row (search before CJK runs were split)', () => {
  const search = async (store: Store, words: string) =>
    (await store.listCompletions(PROJECT, { after: undefined, limit: 100, order: 'asc', model: undefined, metadata: [], search: words })).items.map((row) => row.id);

  it('indexes again the completions holding CJK text, once, and each search then finds part of a run', async () => {
    const old = openAtMigration('0008_choices_in_completion_row');
    const oldStore = createSqliteStore(old);
    await oldStore.saveCompletions(PROJECT, cjkRecords());
    // Indexed as the code of that time indexed them: a run of CJK characters one token.
    for (let n = 0; n < CJK_RECORD_COUNT; n++) {
      const seq = old.prepare('SELECT seq FROM completions WHERE id = ?').pluck().get(`chatcmpl-${n}`);
      old.prepare('DELETE FROM completion_search WHERE rowid = ?').run(seq);
      old.prepare('INSERT INTO completion_search (rowid, project, text) VALUES (?, ?, ?)').run(seq, 1, cjkTexts(n).join('\n'));
    }
    // Searched as now (a run split), such rows are found by nothing, not even their whole run: they must be indexed again.
    expect(await search(oldStore, '東京')).toEqual([]);
    expect(await search(oldStore, '東京タワーに行きたい')).toEqual([]);
    const plain = await search(oldStore, 'plain');
    expect(plain).toEqual(['chatcmpl-2', 'chatcmpl-5', 'chatcmpl-8', 'chatcmpl-11']);
    await oldStore.close();

    const upgraded = openDatabase(path);
    try {
      // Queued by the migration, every one; the store indexes again those with CJK text as it opens.
      expect(upgraded.prepare('SELECT count(*) FROM search_requeue').pluck().get()).toBe(12);
      const store = createSqliteStore(upgraded);
      expect(upgraded.prepare('SELECT count(*) FROM search_requeue').pluck().get()).toBe(0);
      expect(await search(store, '東京')).toEqual(['chatcmpl-0', 'chatcmpl-3', 'chatcmpl-6', 'chatcmpl-9']);
      expect(await search(store, 'タワー 6')).toEqual(['chatcmpl-6']);
      expect(await search(store, '天气')).toEqual(['chatcmpl-1', 'chatcmpl-4', 'chatcmpl-7', 'chatcmpl-10']);
      expect(await search(store, 'plain')).toEqual(plain);
      // One index row a completion, as before.
      expect(upgraded.prepare('SELECT count(*) FROM completion_search').pluck().get()).toBe(12);
    } finally {
      upgraded.close();
    }
  });
});
