import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../src/db/sql-client.ts';
import type { Store } from '../src/store/index.ts';
import type { ListParams } from '../src/validation.ts';
import { backfillRecords } from './helpers/backfill-records.ts';
import { openTestStore, type TestStore } from './helpers/service.ts';

/**
 * PostgreSQL's migration 0008 stamps each tombstone with the time it was made (retention lets it go a
 * window later). Applied to a database with deletes behind it, as 0007 left it: the tombstones there
 * count from the upgrade, without a row rewritten, every read answers as before, and what is written
 * after names its own time.
 */

const MIGRATION = readFileSync(new URL('../migrations-pg/0008_tombstone_deleted_at.sql', import.meta.url), 'utf8');

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
  it('stamps the tombstones there with the upgrade time, in place, and changes no answer', async () => {
    const [deleted] = backfillRecords().map((record) => record.id) as [string];
    expect(await store.deleteCompletion('project-a', deleted)).toBe(true);
    await db.query('DROP INDEX deleted_completions_deleted_at_idx');
    await db.query('ALTER TABLE deleted_completions DROP COLUMN deleted_at');
    const before = { list: await store.listCompletions('project-a', page), after: await store.listCompletions('project-a', { ...page, after: deleted }) };
    const fileOf = async () => (await db.query<{ file: string }>("SELECT pg_relation_filenode('deleted_completions')::text AS file"))[0]!.file;
    const fileBefore = await fileOf();

    const upgradedFrom = Math.floor(Date.now() / 1000);
    for (const statement of MIGRATION.split('--> statement-breakpoint')) await db.query(statement);
    const upgradedBy = Math.floor(Date.now() / 1000) + 1;

    const stamps = await db.query<{ id: string; deletedAt: number }>('SELECT id, deleted_at AS "deletedAt" FROM deleted_completions');
    expect(stamps).toEqual([{ id: deleted, deletedAt: expect.any(Number) }]);
    expect(stamps[0]!.deletedAt).toBeGreaterThanOrEqual(upgradedFrom);
    expect(stamps[0]!.deletedAt).toBeLessThanOrEqual(upgradedBy);
    // The default was evaluated once for the rows there and kept in the catalog: the table was not rewritten.
    expect(await fileOf()).toBe(fileBefore);
    // A tombstone the previous version writes (still running beside this one: a rolling upgrade) names no time: it gets the clock's.
    await db.query("INSERT INTO deleted_completions (project_id, id, created) SELECT id, 'chatcmpl-old-version', 5 FROM projects WHERE name = 'project-a'");
    const [oldVersion] = await db.query<{ deletedAt: number }>(`SELECT deleted_at AS "deletedAt" FROM deleted_completions WHERE id = 'chatcmpl-old-version'`);
    expect(oldVersion!.deletedAt).toBeGreaterThanOrEqual(upgradedFrom);
    expect(oldVersion!.deletedAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
    await db.query("DELETE FROM deleted_completions WHERE id = 'chatcmpl-old-version'");
    expect({ list: await store.listCompletions('project-a', page), after: await store.listCompletions('project-a', { ...page, after: deleted }) }).toEqual(before);

    // Purged by that time, as retention would a window later: the id is free again.
    expect(await store.purgeTombstones(upgradedFrom, 10)).toBe(0);
    expect(await store.purgeTombstones(upgradedBy + 1, 10)).toBe(1);
    expect(await store.isIdTaken('project-a', deleted)).toBe(false);
  });
});
