import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../src/db/sql-client.ts';
import { CompletionIdTaken, type CompletionRecord, type Store } from '../src/store/index.ts';
import type { ListParams } from '../src/validation.ts';
import { backfillRecords } from './helpers/backfill-records.ts';
import { openTestStore, type TestStore } from './helpers/service.ts';

/**
 * PostgreSQL's migration 0005 adds the trigger that keeps a deleted id taken when another instance
 * stores it during the delete (test/postgres-instance-races.test.ts drives that race). Applied to a
 * database filled and with deletes behind it, as 0004 left it: every read answers as before, and
 * stored and deleted ids stay taken for creates and imports while new ids still go in.
 */

const MIGRATION = readFileSync(new URL('../migrations-pg/0005_deleted_ids_stay_taken.sql', import.meta.url), 'utf8');

let opened: TestStore;
let store: Store;
let db: SqlDatabase;

const page: ListParams = { after: undefined, limit: 100, order: 'asc', model: undefined, metadata: [] };
const fresh = (id: string): CompletionRecord => ({ ...backfillRecords()[0]!, id });

beforeEach(async () => {
  opened = await openTestStore('postgres');
  store = opened.store;
  db = opened.postgres!;
  await store.saveCompletions('project-a', backfillRecords());
});

afterEach(async () => {
  await opened.close();
});

describe('PostgreSQL migration 0005 on a database 0004 left', () => {
  it('changes no answer, and ids stored or deleted before it stay taken', async () => {
    const [deleted, kept] = backfillRecords().map((record) => record.id) as [string, string];
    expect(await store.deleteCompletion('project-a', deleted)).toBe(true);
    await db.query('DROP TRIGGER completions_refuse_deleted_ids ON completions');
    await db.query('DROP FUNCTION refuse_deleted_completion_ids()');
    const before = { list: await store.listCompletions('project-a', page), after: await store.listCompletions('project-a', { ...page, after: deleted }) };

    for (const statement of MIGRATION.split('--> statement-breakpoint')) await db.query(statement);

    expect({ list: await store.listCompletions('project-a', page), after: await store.listCompletions('project-a', { ...page, after: deleted }) }).toEqual(before);
    for (const id of [deleted, kept]) await expect(store.saveCompletion('project-a', fresh(id))).rejects.toBeInstanceOf(CompletionIdTaken);
    expect(await store.importCompletions('project-a', [fresh(deleted), fresh('chatcmpl-new-import'), fresh(kept)])).toEqual({ stored: 1, skipped: [deleted, kept] });
    await store.saveCompletion('project-a', fresh('chatcmpl-new-create'));
    expect(await store.getCompletion('project-a', 'chatcmpl-new-create')).toMatchObject({ id: 'chatcmpl-new-create' });
    expect(await store.getCompletion('project-a', deleted)).toBeUndefined();
  });
});
