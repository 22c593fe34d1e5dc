import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../src/db/sql-client.ts';
import type { CompletionRecord, Store } from '../src/store/index.ts';
import { openTestStore, type TestStore } from './helpers/service.ts';

/**
 * PostgreSQL's migration 0006 compresses long values with lz4 where the server has it, and leaves a
 * server without it (PGlite, a build without lz4) on pglz, migrated all the same. Either way a
 * completion long enough to be compressed reads back byte for byte.
 */

const MIGRATION = readFileSync(new URL('../migrations-pg/0006_lz4_compression.sql', import.meta.url), 'utf8');
const COLUMNS = ['completions.body', 'completions.choices', 'completions.metadata', 'completions.search_keys', 'completions.search_text', 'input_messages.body'];

let opened: TestStore;
let store: Store;
let db: SqlDatabase;

beforeEach(async () => {
  opened = await openTestStore('postgres');
  store = opened.store;
  db = opened.postgres!;
});

afterEach(async () => {
  await opened.close();
});

async function serverHasLz4(): Promise<boolean> {
  const [row] = await db.query<{ has: boolean }>("SELECT 'lz4' = ANY (enumvals) AS has FROM pg_settings WHERE name = 'default_toast_compression'");
  return row!.has;
}

/** Each column's compression method: 'l' for lz4, '' for the server's default. */
async function compressions(): Promise<Record<string, string>> {
  const rows = await db.query<{ column: string; method: string }>(
    `SELECT c.relname || '.' || a.attname AS column, a.attcompression AS method FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relname IN ('completions', 'input_messages') AND a.attname IN ('body', 'choices', 'metadata', 'search_keys', 'search_text')`,
  );
  return Object.fromEntries(rows.map((row) => [row.column, row.method]));
}

/** Words enough to pass the 2 kB from which PostgreSQL compresses a row's values. */
function longRecord(): CompletionRecord {
  const content = Array.from({ length: 800 }, (_, n) => `word${n % 97} é東京🎉 "quoted" \\ back`).join(' ');
  return {
    id: 'chatcmpl-long',
    created: 1_700_000_000,
    storedAt: 1_700_000_000,
    model: 'gpt-4o',
    requestedModel: 'gpt-4o',
    metadata: { env: 'prod' },
    body: JSON.stringify({ id: 'chatcmpl-long', object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o', note: content }),
    choices: [JSON.stringify({ index: 0, message: { role: 'assistant', content } })],
    messages: [JSON.stringify({ role: 'user', content })],
  };
}

describe('PostgreSQL migration 0006: lz4 for long values', () => {
  it('sets lz4 on the long columns when the server has it, and nothing when it has not', async () => {
    const expected = (await serverHasLz4()) ? 'l' : '';
    expect(await compressions()).toEqual(Object.fromEntries(COLUMNS.map((column) => [column, expected])));
    // Applied again (an operator replaying it), it changes nothing and does not fail.
    await db.query(MIGRATION);
    expect(await compressions()).toEqual(Object.fromEntries(COLUMNS.map((column) => [column, expected])));
  });

  it('stores a long completion compressed, and reads it back byte for byte', async () => {
    const record = longRecord();
    await store.saveCompletion('project-a', record);
    const [row] = await db.query<{ method: string | null }>("SELECT pg_column_compression(search_text) AS method FROM completions WHERE id = 'chatcmpl-long'");
    expect(row!.method).toBe((await serverHasLz4()) ? 'lz4' : 'pglz');
    const read = await store.getCompletion('project-a', 'chatcmpl-long');
    expect(read!.body).toBe(record.body);
    expect(read!.choices).toBe(record.choices[0]);
    const messages = await store.listMessagesOf('project-a', ['chatcmpl-long']);
    expect(messages.get('chatcmpl-long')!.map((message) => message.body)).toEqual(record.messages);
  });
});
