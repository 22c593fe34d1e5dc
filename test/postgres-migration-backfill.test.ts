import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../src/db/sql-client.ts';
import { backfillSearch } from '../src/store/postgres/search-backfill.ts';
import type { Store } from '../src/store/index.ts';
import type { ListParams } from '../src/validation.ts';
import { BACKFILL_SEARCHED, BACKFILL_USAGE, backfillRecords, BACKFILL_WORDS } from './helpers/backfill-records.ts';
import { openTestStore, type TestStore } from './helpers/service.ts';

/**
 * PostgreSQL's migration 0001 fills the token columns and the usage rollup of completions stored
 * before it, in SQL, and start-up fills their search columns (backfillSearch). Both must agree
 * with what the store writes for a new completion, as test/migration-backfill.test.ts checks for
 * SQLite: store completions of every shape, wipe what the backfills fill, run them, compare.
 */

const MIGRATION = new URL('../migrations-pg/0001_search_and_usage.sql', import.meta.url);

let opened: TestStore;
let store: Store;
let db: SqlDatabase;

beforeEach(async () => {
  opened = await openTestStore('postgres');
  store = opened.store;
  db = opened.postgres!;
  await store.saveCompletions('project-a', backfillRecords());
  // A body with a NUL (`\u0000` in its JSON), which jsonb would refuse, in another project.
  const [nul] = backfillRecords();
  await store.saveCompletions('project-b', [{ ...nul!, body: nul!.body.replace('"model"', '"note":"nul\\u0000here","model"') }]);
});

afterEach(async () => {
  await opened.close();
});

async function snapshot() {
  const searched: Record<string, string[]> = {};
  for (const search of BACKFILL_WORDS) {
    const params: ListParams = { after: undefined, limit: 100, order: 'asc', model: undefined, metadata: [], search };
    searched[search] = (await store.listCompletions('project-a', params)).items.map((row) => row.id);
  }
  return {
    searched,
    usage: await store.summarizeUsage('project-a', { model: undefined, metadata: [] }),
    other: await store.summarizeUsage('project-b', { model: undefined, metadata: [] }),
    tokens: await db.query('SELECT project_id, id, prompt_tokens, completion_tokens, total_tokens FROM completions ORDER BY project_id, id'),
  };
}

describe('PostgreSQL migration 0001 backfill and the search backfill at start-up', () => {
  it('index and count completions stored before them exactly as the store does for new ones', async () => {
    const written = await snapshot();
    expect(written.searched).toEqual(BACKFILL_SEARCHED);
    expect(written.usage.rows.map((row) => [row.day, row.model, row.completions, row.promptTokens, row.completionTokens, row.totalTokens])).toEqual(
      BACKFILL_USAGE,
    );
    expect(written.other.rows).toEqual([{ day: 20454, model: 'gpt-4o', completions: 1, promptTokens: 3, completionTokens: 4, totalTokens: 7 }]);

    await db.query('DELETE FROM usage_daily');
    await db.query('UPDATE completions SET prompt_tokens = 0, completion_tokens = 0, total_tokens = 0, search_keys = NULL, search_text = NULL');
    const wiped = await snapshot();
    expect(wiped.usage.rows).toEqual([]);
    expect(wiped.searched.alpha).toEqual([]);

    const backfills = readFileSync(MIGRATION, 'utf8')
      .split('--> statement-breakpoint')
      .filter((statement) => /^\s*(--.*\n\s*)*(UPDATE|INSERT)/.test(statement));
    expect(backfills).toHaveLength(2);
    for (const statement of backfills) await db.query(statement);
    expect(await backfillSearch(db)).toBe(5);
    expect(await backfillSearch(db)).toBe(0);
    expect(await snapshot()).toEqual(written);
  });
});
