import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createRetention } from '../src/retention.ts';
import { openStore } from '../src/store/open.ts';
import { runCliInProcess } from './helpers/cli.ts';
import { DEFAULT_KEY } from './helpers/service.ts';

/**
 * After a bulk write that is a large share of the database, import and copy fold SQLite's full-text
 * index into one segment (src/store/sqlite/search-merge.ts); a small import into a larger database
 * does not. Observed as FTS5 documents it: a `merge` step that changes fewer than two rows had
 * nothing left to merge.
 */
let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'search-merge-'));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

/** `count` completions in the export format, ids from `from`, each with words of its own. */
function writeLines(name: string, from: number, count: number): string {
  const lines = Array.from({ length: count }, (_, i) => {
    const n = from + i;
    return JSON.stringify({
      id: `chatcmpl-merge${n}`,
      object: 'chat.completion',
      created: 1_700_000_000 + n,
      model: 'gpt-4o',
      choices: [{ index: 0, message: { role: 'assistant', content: `answer ${n} marigold` }, logprobs: null, finish_reason: 'stop' }],
      metadata: {},
      input_messages: [{ role: 'user', content: `question ${n} about word${n}` }],
    });
  });
  const path = join(folder, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Whether one more merge step would change anything: true while the index has more than one segment. */
function hasSegmentsToMerge(path: string): boolean {
  const db = new Database(path);
  try {
    const totalChanges = () => db.prepare('SELECT total_changes()').pluck().get() as number;
    const before = totalChanges();
    db.prepare("INSERT INTO completion_search (completion_search, rank) VALUES ('merge', -500)").run();
    return totalChanges() - before >= 2;
  } finally {
    db.close();
  }
}

async function importLines(database: string, file: string): Promise<void> {
  // A transaction, so a segment, per completion: the most scattered index an import can leave.
  const run = await runCliInProcess(['import', file, '--key', DEFAULT_KEY, '--batch', '1'], { env: { DATABASE_URL: database } });
  expect(run.code, run.stderr).toBe(0);
}

describe('the search index after bulk writes (SQLite)', () => {
  it('import folds it into one segment when it wrote a tenth of the database or more, and leaves it after a small import', async () => {
    const database = join(folder, 'a.db');
    await importLines(database, writeLines('first.jsonl', 0, 40));
    expect(hasSegmentsToMerge(database)).toBe(false);

    // 3 more into 43: under a tenth, so their segments stay as written.
    await importLines(database, writeLines('more.jsonl', 40, 3));
    expect(hasSegmentsToMerge(database)).toBe(true);
  });

  it('copy folds the target index into one segment', async () => {
    const source = join(folder, 'source.db');
    await importLines(source, writeLines('first.jsonl', 0, 40));
    await importLines(source, writeLines('more.jsonl', 40, 3));
    const target = join(folder, 'target.db');
    const run = await runCliInProcess(['copy', '--from', source, '--to', target, '--batch', '1'], { env: {} });
    expect(run.code, run.stderr).toBe(0);
    expect(hasSegmentsToMerge(target)).toBe(false);
  });

  it("leaves no segment to FTS5's delete-merge, which rewrote a whole one inside a sweep's batch; the sweep folds the index itself", async () => {
    const database = join(folder, 'a.db');
    await importLines(database, writeLines('first.jsonl', 0, 40));
    const db = new Database(database);
    // FTS5 folds a segment a tenth deleted inside the deleting write (up to 1.6 s a batch at 100,000): off (migration 0011).
    expect(db.prepare("SELECT v FROM completion_search_config WHERE k = 'deletemerge'").pluck().get()).toBe(0);
    db.prepare("UPDATE completions SET stored_at = 1000 WHERE id < 'chatcmpl-merge3'").run();
    const indexBytes = () => db.prepare('SELECT sum(length(block)) FROM completion_search_data').pluck().get() as number;
    const before = indexBytes();

    const config = { databaseUrl: database, sqliteSynchronous: 'NORMAL', sqliteCacheSizeMb: 16, sqliteBusyTimeoutMs: 5000 } as const;
    const store = await openStore({ ...config, databasePoolSize: 1, databaseStatementTimeoutMs: 1000, databaseConnectTimeoutMs: 1000, databaseStartupTimeoutMs: 1000 });
    // chatcmpl-merge0, 1, 2 and 10 to 29: 23 of 40, in batches of 5.
    expect(await createRetention({ store, retentionDays: 1, logger: pino({ level: 'silent' }), batchSize: 5 }).sweep()).toBe(23);
    await store.close();
    // Folded after the sweep: the deleted completions' entries are gone from the index, not only marked deleted.
    expect(hasSegmentsToMerge(database)).toBe(false);
    expect(indexBytes()).toBeLessThan(before * 0.7);
    expect(db.prepare("SELECT count(*) FROM completion_search WHERE completion_search MATCH 'marigold'").pluck().get()).toBe(17);
    db.close();
  });
});
