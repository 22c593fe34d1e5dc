import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { createSqliteStore, type Store } from '../src/store/index.ts';
import { toCompletionRecord } from '../src/wire.ts';
import { fakeCompletion } from './helpers/fake-upstream.ts';
import { fill, mountTmpfs, unmountTmpfs } from './helpers/full-disk.ts';

function record(id: string) {
  const request = { model: 'gpt-4o', messages: [{ role: 'user', content: `${id} ${'words to index '.repeat(20)}` }] };
  return toCompletionRecord({ request, response: fakeCompletion(request, id, 1_700_000_000), id, requestId: 'req_x', metadata: { id }, now: 1_700_000_000 });
}

const sizeOf = (path: string) => statSync(path).size;

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

describe('WAL checkpoints from a worker thread', () => {
  let folder: string;
  let path: string;
  let db: SqliteDatabase;
  let store: Store;
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'checkpoints-'));
    path = join(folder, 'c.db');
    db = openDatabase(path);
  });
  afterEach(async () => {
    await store.close();
    unmountTmpfs(folder);
    rmSync(folder, { recursive: true, force: true });
  });

  it('copies committed pages into the database file while the main connection does nothing', async () => {
    store = createSqliteStore(db, { backgroundCheckpoints: { intervalMs: 20 } });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
    const before = sizeOf(path);
    for (let i = 0; i < 20; i++) await store.saveCompletion('p', record(`chatcmpl-${i}`));
    // Far below the backstop's 4,000 pages (and SQLite's default 1,000): only the worker can have grown the main file.
    expect(await waitFor(() => sizeOf(path) > before, 5000)).toBe(true);
  });

  it('keeps the WAL bounded under a steady write load, and checkpoints it away at close', async () => {
    // A low backstop, so that the bound shows within a short test.
    store = createSqliteStore(db, { backgroundCheckpoints: { intervalMs: 10, backstopPages: 200 } });
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    let largest = 0;
    const started = Date.now();
    for (let n = 0; Date.now() - started < 1500; n++) {
      await store.saveCompletionBatch(Array.from({ length: 8 }, (_, i) => ['p', record(`chatcmpl-${n}-${i}`)] as [string, ReturnType<typeof record>]));
      largest = Math.max(largest, sizeOf(`${path}-wal`));
      // Lets the worker's turn come as an event loop between requests would.
      if (n % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    // Half the backstop, then the frames written until the worker's next report (one pass, 10 ms) and the wait for its
    // pass: a few hundred pages, up to ~800 with the other cores busy. Without the wait the WAL never started over and
    // reached 12-14 MB in these 1.5 s.
    expect(largest).toBeLessThan(2000 * (pageSize + 24) + 32);
    expect(largest).toBeGreaterThan(0);
    expect((db.prepare('SELECT count(*) AS n FROM completions').get() as { n: number }).n).toBeGreaterThan(100);
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('stops its thread at close, so the final checkpoint and the close still happen', async () => {
    store = createSqliteStore(db, { backgroundCheckpoints: true });
    await store.saveCompletion('p', record('chatcmpl-last'));
    await store.close();
    expect(db.open).toBe(false);
    // The last connection to close folds the WAL in and deletes it: the worker's is closed by then.
    expect(existsSync(`${path}-wal`)).toBe(false);
    const reopened = openDatabase(path);
    expect(reopened.prepare('SELECT id FROM completions').all()).toEqual([{ id: 'chatcmpl-last' }]);
    reopened.close();
  });

  it('checkpoints from its thread again once a full disk has room, SQLite checkpointing inside commits meanwhile', async (context) => {
    const mount = mountTmpfs(context, folder, '8m');
    db.close();
    path = join(mount, 'c.db');
    db = openDatabase(path);
    const failures: { code?: string }[] = [];
    let recoveries = 0;
    store = createSqliteStore(db, {
      backgroundCheckpoints: { intervalMs: 20, onError: (err) => failures.push(err as { code?: string }), onRecover: () => recoveries++ },
    });
    // A reader's snapshot holds the worker's checkpoints back, so the WAL keeps pages the file does not have yet.
    const reader = new Database(path);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM completions').get();
    for (let i = 0; i < 40; i++) await store.saveCompletion('p', record(`chatcmpl-${i}`));
    const before = sizeOf(path);
    // Copying those pages now has to grow the file, on a disk with no byte left.
    fill(join(mount, 'filler'));
    reader.exec('COMMIT');
    reader.close();
    expect(await waitFor(() => failures.length > 0, 5000)).toBe(true);
    expect(failures.map((err) => err.code)).toEqual(['SQLITE_FULL']);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);

    rmSync(join(mount, 'filler'));
    expect(await waitFor(() => recoveries === 1, 5000)).toBe(true);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
    expect(await waitFor(() => sizeOf(path) > before, 5000)).toBe(true);
    // Told once each way, however many passes failed meanwhile.
    expect(failures).toHaveLength(1);
    await store.saveCompletion('p', record('chatcmpl-after'));
    expect((db.prepare('SELECT count(*) AS n FROM completions').get() as { n: number }).n).toBe(41);
  });
});
