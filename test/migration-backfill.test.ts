import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { createSqliteStore, type Store } from '../src/store/index.ts';
import type { ListParams } from '../src/validation.ts';
import { toCompletionRecord } from '../src/wire.ts';
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
  const exchanges: { messages: unknown[]; choices: unknown[]; usage?: unknown }[] = [
    { messages: [{ role: 'user', content: 'plain alpha' }], choices: [{ index: 0, message: { role: 'assistant', content: 'reply bravo' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
    {
      messages: [
        { role: 'system', content: 'system charlie' },
        { role: 'user', content: [{ type: 'text', text: 'parts delta' }, { type: 'image_url', image_url: { url: 'https://example.com/echo.png' } }, { type: 'text', text: 'foxtrot' }] },
      ],
      choices: [
        { index: 0, message: { role: 'assistant', content: null, refusal: 'refused golf' }, finish_reason: 'stop' },
        { index: 1, message: { role: 'assistant', content: 'second hotel' }, finish_reason: 'stop' },
      ],
    },
    {
      messages: [{ role: 'user', content: 'tools india' }],
      choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'juliet', arguments: '{"kilo":1}' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: '5', completion_tokens: 2.5, total_tokens: -1 },
    },
    { messages: [{ role: 'user', content: "don't lima" }], choices: [{ index: 0, message: { role: 'assistant', content: ['mike'] }, finish_reason: 'stop' }], usage: { prompt_tokens: 11, completion_tokens: 0, total_tokens: 11 } },
  ];
  const records = exchanges.map((exchange, n) =>
    toCompletionRecord({
      request: { model: 'gpt-4o', messages: exchange.messages },
      response: { id: `chatcmpl-${n}`, created: 1_767_225_600 + n * 50_000, model: n % 2 ? 'gpt-4o-2024-08-06' : 'gpt-4o', choices: exchange.choices, usage: exchange.usage },
      id: `chatcmpl-${n}`,
      requestId: `req_${n}`,
      metadata: {},
      now: 0,
    }),
  );
  await store.saveCompletions('project-a', records);
});

afterEach(() => {
  db.close();
});

const WORDS = ['plain', 'alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', "don't", 'mike'];

async function snapshot() {
  const searched: Record<string, string[]> = {};
  for (const search of WORDS) {
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
