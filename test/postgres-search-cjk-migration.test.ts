import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../src/db/sql-client.ts';
import { backfillSearch } from '../src/store/postgres/search-backfill.ts';
import { searchTokens } from '../src/store/postgres/search-tokens.ts';
import type { Store } from '../src/store/index.ts';
import { CJK_RECORD_COUNT, cjkRecords, cjkTexts } from './helpers/cjk-records.ts';
import { openTestStore, type TestStore } from './helpers/service.ts';

/**
 * PostgreSQL's migration 0007 hands the completions indexed before CJK runs were split into
 * characters and pairs (src/store/cjk-segments.ts) to the start-up search backfill: those that
 * hold such text, and only those. After it, a search for part of a run finds them, as on SQLite
 * (test/migration-upgrade.test.ts).
 */

const MIGRATION = readFileSync(new URL('../migrations-pg/0007_search_cjk_reindex.sql', import.meta.url), 'utf8');
const PROJECT = 'project-a';

let opened: TestStore;
let store: Store;
let db: SqlDatabase;

const search = async (words: string) =>
  (await store.listCompletions(PROJECT, { after: undefined, limit: 100, order: 'asc', model: undefined, metadata: [], search: words })).items.map((row) => row.id);

beforeEach(async () => {
  opened = await openTestStore('postgres');
  store = opened.store;
  db = opened.postgres!;
  await store.saveCompletions(PROJECT, cjkRecords());
});

afterEach(async () => {
  await opened.close();
});

describe('PostgreSQL migration 0007 on a database indexed before CJK runs were split', () => {
  it('hands the completions holding CJK text, and only those, to the backfill, which indexes them as new ones are', async () => {
    const written = await db.query('SELECT id, search_keys, search_text FROM completions ORDER BY id');
    // Indexed as the code of that time indexed them: a run of CJK characters one token.
    for (let n = 0; n < CJK_RECORD_COUNT; n++) {
      const [{ projectId }] = (await db.query<{ projectId: number }>('SELECT project_id AS "projectId" FROM completions WHERE id = $1', [`chatcmpl-${n}`])) as [
        { projectId: number },
      ];
      const tokens = searchTokens(cjkTexts(n).join('\n'));
      await db.query('UPDATE completions SET search_keys = $1, search_text = $2 WHERE id = $3', [
        [...new Set(tokens)].map((token) => `${projectId}:${token}`),
        ` ${tokens.join(' ')} `,
        `chatcmpl-${n}`,
      ]);
    }
    expect(await search('東京')).toEqual([]);
    const plain = await search('plain');
    expect(plain).toEqual(['chatcmpl-2', 'chatcmpl-5', 'chatcmpl-8', 'chatcmpl-11']);

    await db.query(MIGRATION);
    // The eight with CJK text, not the four without.
    expect(await backfillSearch(db)).toBe(8);
    expect(await db.query('SELECT id, search_keys, search_text FROM completions ORDER BY id')).toEqual(written);
    expect(await search('東京')).toEqual(['chatcmpl-0', 'chatcmpl-3', 'chatcmpl-6', 'chatcmpl-9']);
    expect(await search('タワー 6')).toEqual(['chatcmpl-6']);
    expect(await search('天气')).toEqual(['chatcmpl-1', 'chatcmpl-4', 'chatcmpl-7', 'chatcmpl-10']);
    expect(await search('plain')).toEqual(plain);
  });
});
