import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { createSqliteStore, type CompletionRecord, type DumpItem, type Store } from '../src/store/index.ts';
import type { ListParams } from '../src/validation.ts';
import { BACKFILL_WORDS, backfillRecords } from './helpers/backfill-records.ts';
import { storeChoicesApart } from './helpers/choices-apart.ts';
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

    // 0005 ran on the JSON as it was stored then, whole (0007 compacts it), the choices in their own table (0008 moves them).
    storeJsonWhole(db);
    storeChoicesApart(db, { dropColumn: false });
    const statements = readFileSync(MIGRATION, 'utf8').split('--> statement-breakpoint');
    expect(statements[0]).toContain('CREATE VIRTUAL TABLE');
    for (const statement of statements.slice(1)) db.exec(statement);
    expect(await snapshot()).toEqual(written);
  });
});

/**
 * Migration 0008 moves each completion's choices from the `choices` table into its row, joined by
 * commas in `idx` order. Checked on a file left in 0007's layout (the store's rows, their choices
 * moved back into the table and the column dropped) and opened as the service opens it: every
 * completion reads back byte for byte, through retrieve, a list page and a dump.
 */
describe('migration 0008: choices into the completion row', () => {
  const JOURNAL = new URL('../migrations/meta/_journal.json', import.meta.url);
  let folder: string;

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'migration-0008-'));
  });

  afterEach(() => {
    rmSync(folder, { recursive: true, force: true });
  });

  /**
   * Completions with no choice, one and several, their texts holding what a split could stumble on;
   * bodies ending with the four null echoed fields and others that do not, or only look as if.
   */
  function records(): CompletionRecord[] {
    const base = { created: 1_767_225_600, storedAt: 0, model: 'gpt-4o', requestedModel: 'gpt-4o', metadata: {}, messages: [] };
    const body = (id: string, rest: Record<string, unknown> = {}) =>
      JSON.stringify({ id, object: 'chat.completion', created: base.created, model: base.model, ...rest });
    const nulls = { tool_choice: null, tools: null, input_user: null, response_format: null };
    const usual = { usage: { total_tokens: 3 }, frequency_penalty: null, ...nulls };
    /** OpenAI's usual single answer, which the store keeps without the fixed text around its content. */
    const answer = (content: string, finishReason = 'stop') =>
      JSON.stringify({ index: 0, message: { role: 'assistant', content, refusal: null, annotations: [] }, logprobs: null, finish_reason: finishReason });
    return [
      ...backfillRecords(),
      { ...base, id: 'chatcmpl-none', body: body('chatcmpl-none'), choices: [] },
      { ...base, id: 'chatcmpl-usual', body: body('chatcmpl-usual', usual), choices: [answer('the usual, "quoted" {answer}')] },
      { ...base, id: 'chatcmpl-usual-two', body: body('chatcmpl-usual-two', usual), choices: [answer('first'), answer('second')] },
      // Nothing but the head and the nulls: kept whole (nothing would be left).
      { ...base, id: 'chatcmpl-cut', body: body('chatcmpl-cut', nulls), choices: [answer('cut short', 'length')] },
      {
        ...base,
        id: 'chatcmpl-tricky',
        // What precedes the nulls ends with `}`: kept whole.
        body: body('chatcmpl-tricky', { frequency_penalty: { odd: 1 }, ...nulls }),
        metadata: { user: 'u,1' },
        choices: [
          JSON.stringify({ index: 0, message: { role: 'assistant', content: 'a, b }, {"c": [1, 2]} \\", "é 😀' }, finish_reason: 'stop' }),
          // Not as JSON.stringify writes it: the texts come back as stored, not re-serialized.
          '{ "index" : 1 , "message" : { "role" : "assistant", "content" : "x\\\\" }, "logprobs": {"content": [ ]} }',
          '{"index":2,"message":{"role":"assistant","content":"\\u002c,"},"finish_reason":"length"}',
        ],
      },
    ];
  }

  async function readBack(store: Store) {
    const ids = records().map((r) => r.id);
    const retrieved = await Promise.all(ids.map((id) => store.getCompletion('project-a', id)));
    const listed = await store.listCompletions('project-a', { after: undefined, limit: 100, order: 'asc', model: undefined, metadata: [] });
    const dumped: DumpItem[] = [];
    for await (const items of store.dump(3)) dumped.push(...items);
    return { retrieved, listed, dumped };
  }

  it('reads every completion stored under 0007 back byte for byte after it', async () => {
    const path = join(folder, 'old.db');
    const old = openDatabase(path);
    const oldStore = createSqliteStore(old);
    await oldStore.saveCompletions('project-a', records());
    const before = await readBack(oldStore);
    // What the store wrote is what it was given: no choice, and every text exactly.
    const dumpedRecords = before.dumped.flatMap((item) => (item.kind === 'completion' ? [item.record] : []));
    expect(dumpedRecords.map((r) => r.choices)).toEqual(records().map((r) => r.choices));
    expect(before.retrieved.find((row) => row?.id === 'chatcmpl-none')?.choices).toBe('');

    // Back to 0007's layout: bodies without only their head, the choices in their table, the column gone, 0008 not applied.
    storeJsonWhole(old);
    old.exec(readFileSync(new URL('../migrations/0007_compact_stored_json.sql', import.meta.url), 'utf8').split('--> statement-breakpoint')[0]!);
    expect(old.prepare("SELECT count(*) FROM completions WHERE body NOT LIKE '{%'").pluck().get()).toBe(5);
    storeChoicesApart(old, { dropColumn: true });
    expect(old.prepare('SELECT count(*) FROM choices').pluck().get()).toBe(1 + 2 + 1 + 1 + 0 + 1 + 2 + 1 + 3);
    const { entries } = JSON.parse(readFileSync(JOURNAL, 'utf8')) as { entries: { tag: string; when: number }[] };
    const when = entries.find((entry) => entry.tag.startsWith('0008_'))!.when;
    old.prepare('DELETE FROM __drizzle_migrations WHERE created_at >= ?').run(when);
    // Nor the ones after it (0009 queues completions to index again for search in a table of its own; 0010 gives tombstones a time).
    old.exec('DROP TABLE search_requeue');
    old.exec('DROP INDEX deleted_completions_expired_at_idx');
    old.exec('ALTER TABLE deleted_completions DROP COLUMN expired_at');
    old.close();

    const upgraded = openDatabase(path);
    try {
      expect(upgraded.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'choices'").pluck().get()).toBe(0);
      // Kept without the text around the content where it is OpenAI's usual answer (a second choice or
      // another finish reason is still only text around it), whole otherwise.
      expect(upgraded.prepare(`SELECT id FROM completions WHERE substr(choices, 1, 1) = '"' ORDER BY id`).pluck().all()).toEqual([
        'chatcmpl-usual',
        'chatcmpl-usual-two',
      ]);
      expect(upgraded.prepare(`SELECT id FROM completions WHERE substr(body, -1) <> '}' ORDER BY id`).pluck().all()).toEqual([
        'chatcmpl-0', 'chatcmpl-1', 'chatcmpl-2', 'chatcmpl-3', 'chatcmpl-usual', 'chatcmpl-usual-two',
      ]);
      expect(await readBack(createSqliteStore(upgraded))).toEqual(before);
    } finally {
      upgraded.close();
    }
  });
});
