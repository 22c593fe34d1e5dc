import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../src/db/sql-client.ts';
import type { Store } from '../src/store/index.ts';
import type { ListParams } from '../src/validation.ts';
import { backfillRecords } from './helpers/backfill-records.ts';
import { openTestStore, type TestStore } from './helpers/service.ts';

/**
 * PostgreSQL's migration 0008 gives the tombstones retention leaves the time their completion expired (they go a
 * window later). Applied to a database with deletes behind it, as 0007 left it: the tombstones there are kept for
 * good (nothing tells an expiry from a delete), without a row rewritten, every read answers as before, and one an
 * instance of the previous version writes meanwhile (a rolling upgrade) is kept for good too.
 */

const MIGRATION = readFileSync(new URL('../migrations-pg/0008_tombstone_expired_at.sql', import.meta.url), 'utf8');

let opened: TestStore;
let store: Store;
let db: SqlDatabase;

const page: ListParams = { after: undefined, limit: 100, order: 'asc', model: undefined, metadata: [] };

beforeEach(async () => {
  opened = await openTestStore('postgres');
  store = opened.store;
  db = opened.postgres!;
  await store.saveCompletions('project-a', backfillRecords());
});

afterEach(async () => {
  await opened.close();
});

describe('PostgreSQL migration 0008 on a database 0007 left', () => {
  it('keeps the tombstones there for good, in place, and changes no answer', async () => {
    const [deleted] = backfillRecords().map((record) => record.id) as [string];
    expect(await store.deleteCompletion('project-a', deleted)).toBe(true);
    await db.query('DROP INDEX deleted_completions_expired_at_idx');
    await db.query('ALTER TABLE deleted_completions DROP COLUMN expired_at');
    const before = { list: await store.listCompletions('project-a', page), after: await store.listCompletions('project-a', { ...page, after: deleted }) };
    const fileOf = async () => (await db.query<{ file: string }>("SELECT pg_relation_filenode('deleted_completions')::text AS file"))[0]!.file;
    const fileBefore = await fileOf();

    for (const statement of MIGRATION.split('--> statement-breakpoint')) await db.query(statement);

    expect(await fileOf()).toBe(fileBefore);
    // The previous version, still running beside this one, writes a tombstone naming no time: kept for good too.
    await db.query("INSERT INTO deleted_completions (project_id, id, created) SELECT id, 'chatcmpl-old-version', 5 FROM projects WHERE name = 'project-a'");
    expect(await db.query('SELECT id, expired_at AS "expiredAt" FROM deleted_completions ORDER BY id')).toEqual([
      { id: deleted, expiredAt: 0 },
      { id: 'chatcmpl-old-version', expiredAt: 0 },
    ]);
    expect({ list: await store.listCompletions('project-a', page), after: await store.listCompletions('project-a', { ...page, after: deleted }) }).toEqual(before);
    expect(await store.purgeTombstones(Number.MAX_SAFE_INTEGER, 10)).toBe(0);
    expect(await store.isIdTaken('project-a', deleted)).toBe(true);
  });
});
