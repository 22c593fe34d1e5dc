import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { createSqliteStore, type Store } from '../src/store/index.ts';
import type { ListParams } from '../src/validation.ts';
import { BACKFILL_WORDS, backfillRecords } from './helpers/backfill-records.ts';
import { storeJsonWhole } from './helpers/whole-stored-json.ts';

/**
 * Migration 0005 fills the search index, the token columns and the usage rollup for completions
 * stored before them, in SQL. It must agree with what the store writes for a new completion: the
 * same text searchable, the same figures. Checked by storing completions of every shape, wiping
 * what the migration fills, running its backfill statements again, and comparing.
 */

const MIGRATION = new URL('../migrations/0005_search_and_usage_backfill.sql', import.meta.url);

let db: SqliteDatabase;
let store: Store;

beforeEach(async () => {
  db = openDatabase(':memory:');
  store = createSqliteStore(db);
  await store.saveCompletions('project-a', backfillRecords());
});

afterEach(() => {
  db.close();
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
    tokens: db.prepare('SELECT id, prompt_tokens, completion_tokens, total_tokens FROM completions ORDER BY id').all(),
  };
}

describe('migration 0005 backfill', () => {
  it('indexes and counts completions stored before it exactly as the store does for new ones', async () => {
    const written = await snapshot();
    // What the store wrote is what the contract says: the text of messages and replies, nothing else.
    expect(written.searched).toEqual({
      plain: ['chatcmpl-0'], alpha: ['chatcmpl-0'], bravo: ['chatcmpl-0'], charlie: ['chatcmpl-1'], delta: ['chatcmpl-1'],
      echo: [], foxtrot: ['chatcmpl-1'], golf: ['chatcmpl-1'], hotel: ['chatcmpl-1'], india: ['chatcmpl-2'], juliet: [], kilo: [],
      lima: ['chatcmpl-3'], "don't": ['chatcmpl-3'], mike: [],
    });
    expect(written.usage.rows.map((row) => [row.day, row.model, row.completions, row.promptTokens, row.completionTokens, row.totalTokens])).toEqual([
      [20454, 'gpt-4o', 1, 3, 4, 7],
      [20454, 'gpt-4o-2024-08-06', 1, 0, 0, 0],
      [20455, 'gpt-4o', 1, 0, 0, 0],
      [20455, 'gpt-4o-2024-08-06', 1, 11, 0, 11],
    ]);

    db.exec(`
      DELETE FROM usage_daily;
      INSERT INTO completion_search (completion_search) VALUES ('delete-all');
      UPDATE completions SET prompt_tokens = 0, completion_tokens = 0, total_tokens = 0;
    `);
    const wiped = await snapshot();
    expect(wiped.usage.rows).toEqual([]);
    expect(wiped.searched.alpha).toEqual([]);

    // 0005 ran on the JSON as it was stored then, whole (0007 compacts it).
    storeJsonWhole(db);
    const statements = readFileSync(MIGRATION, 'utf8').split('--> statement-breakpoint');
    expect(statements[0]).toContain('CREATE VIRTUAL TABLE');
    for (const statement of statements.slice(1)) db.exec(statement);
    expect(await snapshot()).toEqual(written);
  });
});
