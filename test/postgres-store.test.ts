import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgres } from '../src/db/postgres-client.ts';
import { CompletionIdTaken, type CompletionRecord, type Store } from '../src/store/index.ts';
import { openTestStore, type TestStore } from './helpers/service.ts';
import { createTestDatabase, hasPostgresServer, POSTGRES_OPTIONS } from './helpers/test-database.ts';

/**
 * What only a database shared by several instances can meet: an id another
 * instance stored (or deleted) since this one checked it. The database decides:
 * the save is refused with CompletionIdTaken, whole (a group commit writes all
 * or nothing), never overwriting, and the caller retries under a fresh id.
 */

let opened: TestStore;
let store: Store;

beforeEach(async () => {
  opened = await openTestStore('postgres');
  store = opened.store;
});

afterEach(async () => {
  await opened.close();
});

function record(id: string, content: string): CompletionRecord {
  return {
    id,
    created: 1_700_000_000,
    storedAt: 1_700_000_000,
    model: 'gpt-4o',
    requestedModel: 'gpt-4o',
    metadata: { content },
    body: JSON.stringify({ id, object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o' }),
    choices: [JSON.stringify({ index: 0, message: { role: 'assistant', content } })],
    messages: [JSON.stringify({ role: 'user', content })],
  };
}

const ALL_TABLES = ['completions', 'input_messages', 'metadata', 'completion_models', 'deleted_completions'];

async function rowCounts(): Promise<number[]> {
  const counts: number[] = [];
  for (const table of ALL_TABLES) counts.push(await opened.countRows(table));
  return counts;
}

describe('ids taken meanwhile, on PostgreSQL', () => {
  it('refuses an id already stored or deleted in the project with CompletionIdTaken, and keeps what was there', async () => {
    await store.saveCompletion('p', record('chatcmpl-same', 'first'));
    await store.saveCompletion('p', record('chatcmpl-gone', 'deleted'));
    await store.deleteCompletion('p', 'chatcmpl-gone');
    const before = await rowCounts();
    await expect(store.saveCompletion('p', record('chatcmpl-same', 'second'))).rejects.toBeInstanceOf(CompletionIdTaken);
    await expect(store.saveCompletion('p', record('chatcmpl-gone', 'again'))).rejects.toMatchObject({ id: 'chatcmpl-gone' });
    expect(await rowCounts()).toEqual(before);
    expect((await store.getCompletion('p', 'chatcmpl-same'))!.choices).toContain('first');
    // Another project may use the id.
    await store.saveCompletion('q', record('chatcmpl-same', 'other project'));
  });

  it('writes a group commit all or nothing: one taken id, or one id twice, and none of it is stored', async () => {
    await store.saveCompletion('p', record('chatcmpl-taken', 'first'));
    const before = await rowCounts();
    await expect(
      store.saveCompletionBatch([
        ['p', record('chatcmpl-new-1', 'one')],
        ['p', record('chatcmpl-taken', 'two')],
      ]),
    ).rejects.toMatchObject({ id: 'chatcmpl-taken' });
    await expect(
      store.saveCompletionBatch([
        ['p', record('chatcmpl-twice', 'one')],
        ['q', record('chatcmpl-twice', 'other project')],
        ['p', record('chatcmpl-twice', 'two')],
      ]),
    ).rejects.toMatchObject({ id: 'chatcmpl-twice' });
    expect(await rowCounts()).toEqual(before);
    expect(await store.getCompletion('p', 'chatcmpl-new-1')).toBeUndefined();
  });
});

describe('imports and copies on PostgreSQL', () => {
  it('imports only ids the project never had, lists messages of many, and proves it can write', async () => {
    const ahead = store;
    expect(await ahead.isEmpty()).toBe(true);
    await store.saveCompletion('p', record('chatcmpl-kept', 'stored'));
    await store.saveCompletion('p', record('chatcmpl-gone', 'deleted'));
    await store.deleteCompletion('p', 'chatcmpl-gone');
    expect(
      await ahead.importCompletions('p', [
        record('chatcmpl-kept', 'again'),
        record('chatcmpl-gone', 'again'),
        record('chatcmpl-new', 'new'),
        record('chatcmpl-new', 'twice'),
      ]),
    ).toEqual({ stored: 1, skipped: ['chatcmpl-kept', 'chatcmpl-gone', 'chatcmpl-new'] });
    expect((await store.getCompletion('p', 'chatcmpl-new'))!.metadata).toBe('{"content":"new"}');
    const messages = await ahead.listMessagesOf('p', ['chatcmpl-new', 'chatcmpl-kept', 'chatcmpl-none', 'a\u0000b']);
    expect([...messages]).toEqual([
      ['chatcmpl-kept', [{ idx: 0, body: JSON.stringify({ role: 'user', content: 'stored' }) }]],
      ['chatcmpl-new', [{ idx: 0, body: JSON.stringify({ role: 'user', content: 'new' }) }]],
    ]);
    await ahead.checkWritable();
    expect(await ahead.isEmpty()).toBe(false);
  });

  it('copies a whole database (settings, completions, tombstones, text PostgreSQL cannot hold) into an empty one', async () => {
    const source = store;
    await store.getOrCreateSetting('project_hash_secret', () => 'the-secret');
    const nul = { ...record('chatcmpl-nul', 'nul'), metadata: { 'k\u0000': 'v\u0000' }, requestedModel: 'm\u0000' };
    await store.saveCompletions('p', [record('chatcmpl-a', 'a'), nul]);
    await store.saveCompletion('q', record('chatcmpl-b', 'b'));
    await store.saveCompletion('q', record('chatcmpl-c', 'c'));
    await store.deleteCompletion('q', 'chatcmpl-c');

    const target = await openTestStore('postgres');
    try {
      const copy = target.store;
      // A service that answered a request with a key there made a secret of its own: still empty, and the source's secret wins.
      await copy.getOrCreateSetting('project_hash_secret', () => 'the-target-secret');
      expect(await copy.isEmpty()).toBe(true);
      for await (const batch of source.dump(2)) await copy.restore(batch);
      expect(await target.store.getOrCreateSetting('project_hash_secret', () => 'other')).toBe('the-secret');
      for (const [project, id] of [['p', 'chatcmpl-a'], ['p', 'chatcmpl-nul'], ['q', 'chatcmpl-b']] as const) {
        expect(await target.store.getCompletion(project, id)).toEqual(await store.getCompletion(project, id));
      }
      const page = { after: undefined, limit: 10, order: 'asc' as const, model: undefined };
      expect((await target.store.listCompletions('p', { ...page, metadata: [['k\u0000', 'v\u0000']] })).items.map((r) => r.id)).toEqual(['chatcmpl-nul']);
      expect((await target.store.listCompletions('p', { ...page, metadata: [], model: 'm\u0000' })).items.map((r) => r.id)).toEqual(['chatcmpl-nul']);
      expect(await target.store.isIdTaken('q', 'chatcmpl-c')).toBe(true);
      expect((await target.store.listCompletions('q', { ...page, metadata: [], after: 'chatcmpl-c' })).items).toEqual([]);
      for (const table of ['completions', 'input_messages', 'metadata', 'completion_models', 'deleted_completions', 'settings']) {
        expect(await target.countRows(table), table).toBe(await opened.countRows(table));
      }
    } finally {
      await target.close();
    }
  });
});

describe.skipIf(!hasPostgresServer())('plans on a PostgreSQL server', () => {
  it('gives every pooled connection generic plans, so a prepared statement is planned once, not at every call', async () => {
    const db = await openPostgres(await createTestDatabase(), { ...POSTGRES_OPTIONS, poolSize: 3 });
    try {
      // Three at once: three connections of the pool, each set up before its first query.
      const modes = await Promise.all(
        [1, 2, 3].map(() => db.query<{ mode: string }>('SELECT current_setting($1) AS mode, pg_sleep(0.05)', ['plan_cache_mode'])),
      );
      expect(modes.map((rows) => rows[0]!.mode)).toEqual(['force_generic_plan', 'force_generic_plan', 'force_generic_plan']);
      expect(db.pool.totalCount).toBe(3);
    } finally {
      await db.close();
    }
  });

  it('prepares at most preparedStatementLimit distinct statements on a connection, and answers the rest unprepared', async () => {
    const db = await openPostgres(await createTestDatabase(), { ...POSTGRES_OPTIONS, poolSize: 1, preparedStatementLimit: 3 });
    try {
      // Distinct texts, as page sizes written into LIMITs make them: each answers, prepared or not.
      for (let n = 1; n <= 6; n++) {
        expect(await db.query<{ n: number }>(`SELECT $1::int + ${n} AS n`, [10])).toEqual([{ n: 10 + n }]);
        expect(await db.query<{ n: number }>(`SELECT $1::int + ${n} AS n`, [20])).toEqual([{ n: 20 + n }]);
      }
      const [{ prepared }] = (await db.query<{ prepared: number }>('SELECT count(*)::int AS prepared FROM pg_prepared_statements')) as [
        { prepared: number },
      ];
      expect(prepared).toBe(3);
    } finally {
      await db.close();
    }
  });

  it('has autovacuum visit the filter tables every 1% of inserts, so the newest pages walked are index-only', async () => {
    const db = await openPostgres(await createTestDatabase(), { ...POSTGRES_OPTIONS, poolSize: 1 });
    try {
      const rows = await db.query<{ name: string; options: string[] }>(
        `SELECT relname AS name, reloptions AS options FROM pg_class WHERE relname IN ('metadata', 'completion_models') ORDER BY relname`,
      );
      expect(rows).toEqual([
        { name: 'completion_models', options: ['autovacuum_vacuum_insert_scale_factor=0.01'] },
        { name: 'metadata', options: ['autovacuum_vacuum_insert_scale_factor=0.01'] },
      ]);
    } finally {
      await db.close();
    }
  });
});
