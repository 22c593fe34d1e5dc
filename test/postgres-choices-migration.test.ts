import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../src/db/sql-client.ts';
import type { CompletionRecord, Store } from '../src/store/index.ts';
import { splitChoices } from '../src/store/joined-choices.ts';
import type { ListParams } from '../src/validation.ts';
import { backfillRecords } from './helpers/backfill-records.ts';
import { openTestStore, type TestStore } from './helpers/service.ts';

/**
 * PostgreSQL's migration 0002 moves each completion's choices from the `choices` table into its
 * row (the layout SQLite's 0008 gives its database). A database the store filled is taken back
 * to the layout before it (the table as 0000 created it, one row per choice, the column gone),
 * migrated, and must then answer every read and dump byte for byte as before.
 */

const MIGRATION = readFileSync(new URL('../migrations-pg/0002_choices_in_completion_row.sql', import.meta.url), 'utf8');
const INIT = readFileSync(new URL('../migrations-pg/0000_init.sql', import.meta.url), 'utf8');

let opened: TestStore;
let store: Store;
let db: SqlDatabase;

/** Completions with one, two and no choices, the choices' texts holding the commas and brackets the join must keep. */
function records(): CompletionRecord[] {
  const none = { ...backfillRecords()[0]!, id: 'chatcmpl-none', choices: [] };
  const tricky = {
    ...backfillRecords()[0]!,
    id: 'chatcmpl-tricky',
    choices: ['{"index":0,"message":{"role":"assistant","content":"a, [b], {c}, \\"d,\\""}}', '{"index":1,"message":{"content":"é,"}}'],
  };
  return [...backfillRecords(), none, tricky];
}

beforeEach(async () => {
  opened = await openTestStore('postgres');
  store = opened.store;
  db = opened.postgres!;
  await store.saveCompletions('project-a', records());
});

afterEach(async () => {
  await opened.close();
});

/** Back to the layout of migrations 0000-0001: the `choices` table, filled from the row, and no column. */
async function storeChoicesApart(): Promise<void> {
  for (const statement of INIT.split('--> statement-breakpoint').filter((s) => s.includes('"choices"'))) await db.query(statement);
  const rows = await db.query<{ seq: number; choices: string }>('SELECT seq, choices FROM completions');
  for (const { seq, choices } of rows) {
    for (const [idx, body] of splitChoices(choices).entries()) {
      await db.query('INSERT INTO choices (completion_seq, idx, body) VALUES ($1, $2, $3)', [seq, idx, body]);
    }
  }
  await db.query('ALTER TABLE completions DROP COLUMN choices');
}

async function reads() {
  const ids = records().map((record) => record.id);
  const page: ListParams = { after: undefined, limit: 100, order: 'asc', model: undefined, metadata: [] };
  const dumped = [];
  for await (const batch of store.dump(2)) dumped.push(...batch);
  return {
    retrieved: await Promise.all(ids.map((id) => store.getCompletion('project-a', id))),
    listed: await store.listCompletions('project-a', page),
    dumped,
  };
}

describe('PostgreSQL migration 0002: choices into the completion row', () => {
  it('moves every completion’s choices in order, and every read and the dump answer as before', async () => {
    const before = await reads();
    expect(before.retrieved.find((row) => row!.id === 'chatcmpl-tricky')!.choices).toBe(records().at(-1)!.choices.join(','));
    expect(before.retrieved.find((row) => row!.id === 'chatcmpl-none')!.choices).toBe('');

    await storeChoicesApart();
    expect(await opened.countRows('choices')).toBe(7);
    expect(await db.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'completions' AND column_name = 'choices'")).toEqual([]);

    for (const statement of MIGRATION.split('--> statement-breakpoint')) await db.query(statement);
    expect(await db.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'choices'")).toEqual([]);
    expect(await reads()).toEqual(before);
  });
});
