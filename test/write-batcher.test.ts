import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { createSqliteStore, type Store } from '../src/store/index.ts';
import { toCompletionRecord } from '../src/wire.ts';
import { ApiError } from '../src/errors.ts';
import { createWriteBatcher } from '../src/write-batcher.ts';
import { createCompletionWrites } from '../src/routes/store-and-answer.ts';
import { fakeCompletion, type FakeUpstream } from './helpers/fake-upstream.ts';
import { useServiceEachTest, type Service } from './helpers/service.ts';

function record(id: string) {
  const request = { model: 'gpt-4o', messages: [{ role: 'user', content: id }] };
  return toCompletionRecord({ request, response: fakeCompletion(request, id, 1_700_000_000), id, requestId: 'req_x', metadata: { id }, now: 1_700_000_000 });
}

describe('group commit', () => {
  let folder: string;
  let db: SqliteDatabase;
  let store: Store;
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'batcher-'));
    db = openDatabase(join(folder, 'c.db'));
    store = createSqliteStore(db);
  });
  afterEach(() => {
    db.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it("a stream's hold or held write that finds the database unavailable holds stored creates back, as a batch's does; a hold that wrote nothing ends no hold", async () => {
    const unavailable = ApiError.databaseUnavailable();
    const fail = async (): Promise<never> => {
      throw unavailable;
    };
    // PostgreSQL's paths for a stream (its id held in the database, its completion stored under the hold).
    for (const failing of ['holdStreamId', 'saveHeldCompletion'] as const) {
      const writes = createCompletionWrites({ ...store, [failing]: fail });
      expect(writes.writer.refuseWhileUnavailable()).toBeUndefined();
      const attempt = failing === 'holdStreamId' ? writes.ids.reserve('p', 'chatcmpl-held') : writes.saveHeld('p', record('chatcmpl-held'));
      await expect(attempt).rejects.toBe(unavailable);
      expect(() => writes.writer.refuseWhileUnavailable()).toThrow(unavailable);
    }
    // A hold says nothing of whether a completion's write goes in again: SQLite's ('free') writes nothing, and
    // PostgreSQL's ('held') writes to another table than the one a lock (a CREATE INDEX) may be holding.
    for (const answer of ['free', 'held'] as const) {
      const writes = createCompletionWrites({ ...store, saveCompletionBatch: fail, holdStreamId: async () => answer });
      await expect(writes.writer.save('p', record('chatcmpl-batch'))).rejects.toBe(unavailable);
      expect((await writes.ids.reserve('p', `chatcmpl-${answer}`)).heldInDatabase).toBe(answer === 'held');
      expect(() => writes.writer.refuseWhileUnavailable()).toThrow(unavailable);
    }
  });

  it('writes the creates of one turn together, across projects, once the turn ends', async () => {
    const writer = createWriteBatcher(store);
    const saves = ['a', 'b', 'c'].map((id, i) => writer.save(i % 2 ? 'project-1' : 'project-2', record(`chatcmpl-${id}`)));
    // Nothing is written before the turn ends.
    expect(db.prepare('SELECT count(*) AS n FROM completions').get()).toEqual({ n: 0 });
    await Promise.all(saves);
    expect(db.prepare('SELECT id FROM completions ORDER BY seq').all()).toEqual([{ id: 'chatcmpl-a' }, { id: 'chatcmpl-b' }, { id: 'chatcmpl-c' }]);
    expect((await store.getCompletion('project-1', 'chatcmpl-b'))?.id).toBe('chatcmpl-b');
    expect((await store.getCompletion('project-2', 'chatcmpl-c'))?.id).toBe('chatcmpl-c');
  });

  it('commits the only plain create under way at once, without waiting for the turn to end; two under way still share a commit', async () => {
    const batches: string[][] = [];
    const writer = createWriteBatcher({
      ...store,
      saveCompletionBatch: async (writes) => {
        batches.push(writes.map(([, written]) => written.id));
        await store.saveCompletionBatch(writes);
      },
    });
    const writtenIds = () => db.prepare('SELECT id FROM completions ORDER BY seq').all();
    let turnEnded = false;
    setImmediate(() => (turnEnded = true));
    writer.beginCreate();
    await writer.save('p', record('chatcmpl-alone'));
    expect(turnEnded).toBe(false);
    expect(writtenIds()).toEqual([{ id: 'chatcmpl-alone' }]);
    writer.endCreate();
    await new Promise<void>((resolve) => setImmediate(resolve));

    // Another create under way (its provider not answered yet) could still end in this turn: both saves wait for its end.
    writer.beginCreate();
    writer.beginCreate();
    const first = writer.save('p', record('chatcmpl-one-of-two'));
    await Promise.resolve();
    expect(writtenIds()).toEqual([{ id: 'chatcmpl-alone' }]);
    const second = writer.save('p', record('chatcmpl-two-of-two'));
    await Promise.all([first, second]);
    writer.endCreate();
    writer.endCreate();
    expect(writtenIds()).toEqual([{ id: 'chatcmpl-alone' }, { id: 'chatcmpl-one-of-two' }, { id: 'chatcmpl-two-of-two' }]);
    expect(batches).toEqual([['chatcmpl-alone'], ['chatcmpl-one-of-two', 'chatcmpl-two-of-two']]);
  });

  it('starts the next group commit while one is in flight only when the store allows two (PostgreSQL), never on SQLite', async () => {
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    for (const [label, inFlight] of [['sqlite', undefined], ['two', 2]] as const) {
      let started = 0;
      let releaseFirst!: () => void;
      const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
      // The real store, its first group commit held until the test lets it go.
      const writer = createWriteBatcher({
        groupCommitsInFlight: inFlight,
        saveCompletion: store.saveCompletion,
        checkWritable: store.checkWritable,
        saveCompletionBatch: async (writes) => {
          if (++started === 1) await firstHeld;
          await store.saveCompletionBatch(writes);
        },
      });
      const first = writer.save('p', record(`chatcmpl-${label}-first`));
      await nextTurn();
      const second = writer.save('p', record(`chatcmpl-${label}-second`));
      await nextTurn();
      await nextTurn();
      expect(started).toBe(inFlight ?? 1);
      releaseFirst();
      await Promise.all([first, second]);
      expect(started).toBe(2);
    }
    expect(db.prepare('SELECT id FROM completions ORDER BY seq').all()).toEqual([
      { id: 'chatcmpl-sqlite-first' },
      { id: 'chatcmpl-sqlite-second' },
      { id: 'chatcmpl-two-second' },
      { id: 'chatcmpl-two-first' },
    ]);
  });

  it('a batch the database could not take (503) fails the writes queued behind it with it, without waiting on the database again', async () => {
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    let started = 0;
    let failFirst!: () => void;
    const firstFails = new Promise<void>((resolve) => (failFirst = resolve));
    const unavailable = ApiError.databaseUnavailable();
    const writer = createWriteBatcher({
      saveCompletion: store.saveCompletion,
      checkWritable: store.checkWritable,
      saveCompletionBatch: async () => {
        // The first group commit waits out the database's timeouts and fails; any other would wait as long again.
        if (++started === 1) {
          await firstFails;
          throw unavailable;
        }
        await new Promise(() => {});
      },
    });
    const settled: string[] = [];
    const save = (id: string) =>
      writer.save('p', record(id)).then(
        () => settled.push(`${id} stored`),
        (err: unknown) => settled.push(`${id} ${err === unavailable ? '503' : String(err)}`),
      );
    const first = save('chatcmpl-first');
    await nextTurn();
    // Queued while the first waits.
    const queued = [save('chatcmpl-queued-1'), save('chatcmpl-queued-2')];
    await nextTurn();
    failFirst();
    await first;
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(settled).toEqual(['chatcmpl-first 503', 'chatcmpl-queued-1 503', 'chatcmpl-queued-2 503']);
    await Promise.all(queued);
    expect(started).toBe(1);
  });

  it('with a second group commit in flight (PostgreSQL), the writes behind a 503 wait for it instead of failing with it', async () => {
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    let started = 0;
    let failFirst!: () => void;
    const firstFails = new Promise<void>((resolve) => (failFirst = resolve));
    let commitSecond!: () => void;
    const secondCommits = new Promise<void>((resolve) => (commitSecond = resolve));
    const batches: string[][] = [];
    const writer = createWriteBatcher({
      groupCommitsInFlight: 2,
      saveCompletion: store.saveCompletion,
      checkWritable: store.checkWritable,
      saveCompletionBatch: async (writes) => {
        const n = ++started;
        // One batch meets a 503 of its own (its statement timeout, a dead connection) while the database is fine.
        if (n === 1) {
          await firstFails;
          throw ApiError.databaseUnavailable();
        }
        if (n === 2) await secondCommits;
        batches.push(writes.map(([, record]) => record.id));
        await store.saveCompletionBatch(writes);
      },
    });
    const settled: string[] = [];
    const save = (id: string) =>
      writer.save('p', record(id)).then(
        () => settled.push(`${id} stored`),
        (err: unknown) => settled.push(`${id} ${(err as ApiError).status}`),
      );
    const saves = [save('chatcmpl-a')];
    await nextTurn();
    saves.push(save('chatcmpl-b'));
    await nextTurn();
    await nextTurn();
    // Both group commits in flight: these wait for whichever finishes first.
    saves.push(save('chatcmpl-c'), save('chatcmpl-d'));
    failFirst();
    await saves[0];
    commitSecond();
    await Promise.all(saves);
    expect(settled).toEqual(['chatcmpl-a 503', 'chatcmpl-b stored', 'chatcmpl-c stored', 'chatcmpl-d stored']);
    expect(batches).toEqual([['chatcmpl-b'], ['chatcmpl-c', 'chatcmpl-d']]);
  });

  it('fails only the write that cannot be stored when a batch fails', async () => {
    const writer = createWriteBatcher(store);
    const results = await Promise.allSettled([
      writer.save('p', record('chatcmpl-one')),
      writer.save('p', record('chatcmpl-twice')),
      writer.save('p', record('chatcmpl-twice')),
      writer.save('p', record('chatcmpl-three')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(db.prepare('SELECT id FROM completions ORDER BY id').all()).toEqual([
      { id: 'chatcmpl-one' },
      { id: 'chatcmpl-three' },
      { id: 'chatcmpl-twice' },
    ]);
  });
});

describe('post /v1/chat/completions under concurrency', () => {
  let upstream: FakeUpstream;
  let service: Service;
  useServiceEachTest((started) => ({ upstream, service } = started));

  it('stores every one of 64 concurrent creates, each retrievable once its 200 arrived', async () => {
    const client = service.client();
    const created = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `n${i}` }], store: true, metadata: { n: String(i) } }),
      ),
    );
    expect(new Set(created.map((c) => c.id)).size).toBe(64);
    for (const [i, c] of created.entries()) expect((await client.chat.completions.retrieve(c.id)).metadata).toEqual({ n: String(i) });
    expect(upstream.received).toHaveLength(64);
  });
});
