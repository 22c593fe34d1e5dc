import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CompletionRecord, DumpItem, Store } from '../src/store/index.ts';
import { exportLines, exportLinesOf, newTally } from '../src/export/run-export.ts';
import type { ListParams, Metadata } from '../src/validation.ts';
import { openTestStore, type TestStore } from './helpers/service.ts';
import { TEST_BACKEND } from './helpers/test-database.ts';

/**
 * The store's contract, one source for every backend: vitest runs this file in
 * the `sqlite` project and again in the `postgres` one. A backend is done when
 * it passes these, with the same answers, byte for byte and in the same order.
 */

let opened: TestStore;
let store: Store;

beforeEach(async () => {
  opened = await openTestStore();
  store = opened.store;
});

afterEach(async () => {
  await opened.close();
});

const PROJECT = 'project-a';

function record(id: string, created: number, overrides: Partial<CompletionRecord> = {}): CompletionRecord {
  return {
    id,
    created,
    storedAt: created,
    model: 'gpt-4o-2024-08-06',
    requestedModel: 'gpt-4o',
    metadata: {},
    body: JSON.stringify({ id, object: 'chat.completion', created, model: 'gpt-4o-2024-08-06' }),
    choices: [JSON.stringify({ index: 0, message: { role: 'assistant', content: `answer ${id}` }, finish_reason: 'stop' })],
    messages: [JSON.stringify({ role: 'user', content: `question ${id}` })],
    ...overrides,
  };
}

function params(overrides: Partial<ListParams> = {}): ListParams {
  return { after: undefined, limit: 20, order: 'asc', model: undefined, metadata: [], ...overrides };
}

/** Every id of a list, walked page by page with `after`. */
async function walk(project: string, overrides: Partial<ListParams>): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listCompletions(project, params({ ...overrides, after }));
    ids.push(...page.items.map((row) => row.id));
    if (!page.hasMore) return ids;
    after = page.items.at(-1)!.id;
  }
}

/** Bytewise (UTF-8) order, as both backends must compare ids. */
const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe(`store contract on ${TEST_BACKEND}`, () => {
  it('stores a completion and reads back the exact texts, choices in index order', async () => {
    const choices = [0, 1, 2].map((index) => JSON.stringify({ index, message: { role: 'assistant', content: `c${index}` } }));
    const saved = record('chatcmpl-one', 1_700_000_000, { metadata: { user: 'u1' }, choices });
    await store.saveCompletion(PROJECT, saved);
    expect(await store.getCompletion(PROJECT, 'chatcmpl-one')).toEqual({
      id: 'chatcmpl-one',
      body: saved.body,
      metadata: '{"user":"u1"}',
      choices: choices.join(','),
    });
    expect(await store.getCompletion('project-b', 'chatcmpl-one')).toBeUndefined();
    expect(await store.getCompletion(PROJECT, 'chatcmpl-none')).toBeUndefined();
  });

  it('orders ties on created by id, bytewise, in both orders and across pages', async () => {
    const ids = ['b', 'B', 'a', '_x', 'A-1', 'é', 'z', 'Z9', 'chatcmpl-10', 'chatcmpl-9'];
    await store.saveCompletions(PROJECT, ids.map((id) => record(id, 1_700_000_000)));
    await store.saveCompletions(PROJECT, [record('earlier', 1_699_999_999), record('later', 1_700_000_001)]);
    const expected = ['earlier', ...[...ids].sort(bytewise), 'later'];
    expect(await walk(PROJECT, { limit: 3 })).toEqual(expected);
    expect(await walk(PROJECT, { limit: 4, order: 'desc' })).toEqual([...expected].reverse());
    expect(await walk(PROJECT, { limit: 100 })).toEqual(expected);
  });

  it('filters by model (requested or responded) and metadata pairs, AND-ed, in list order', async () => {
    const metadataOf = (n: number): Metadata => ({ env: n % 2 === 0 ? 'prod' : 'dev', user: `u${n % 3}` });
    await store.saveCompletions(
      PROJECT,
      Array.from({ length: 30 }, (_, n) =>
        record(`c${String(n).padStart(2, '0')}`, 1_700_000_000 + Math.floor(n / 4), {
          metadata: metadataOf(n),
          requestedModel: n % 5 === 0 ? 'o3-mini' : 'gpt-4o',
          model: n % 5 === 0 ? 'o3-mini-2025' : 'gpt-4o-2024-08-06',
        }),
      ),
    );
    const matching = (keep: (n: number) => boolean) =>
      Array.from({ length: 30 }, (_, n) => n).filter(keep).map((n) => `c${String(n).padStart(2, '0')}`);
    expect(await walk(PROJECT, { model: 'o3-mini', limit: 2 })).toEqual(matching((n) => n % 5 === 0));
    expect(await walk(PROJECT, { model: 'o3-mini-2025', limit: 2 })).toEqual(matching((n) => n % 5 === 0));
    expect(await walk(PROJECT, { metadata: [['env', 'prod'], ['user', 'u1']], limit: 2, order: 'desc' })).toEqual(
      matching((n) => n % 2 === 0 && n % 3 === 1).reverse(),
    );
    expect(await walk(PROJECT, { model: 'gpt-4o', metadata: [['user', 'u0']], limit: 3 })).toEqual(matching((n) => n % 5 !== 0 && n % 3 === 0));
    expect(await walk(PROJECT, { metadata: [['env', 'nowhere']] })).toEqual([]);
  });

  it('walks the rarer metadata pair, whichever order the query names them in', async () => {
    await store.saveCompletions(
      PROJECT,
      Array.from({ length: 120 }, (_, n) => record(`c${String(n).padStart(3, '0')}`, 1_700_000_000 + n, { metadata: { env: 'prod', user: `u${n % 40}` } })),
    );
    for (const metadata of [[['env', 'prod'], ['user', 'u8']], [['user', 'u8'], ['env', 'prod']]] as [string, string][][]) {
      expect((await store.explainList(PROJECT, params({ metadata }))).walked).toEqual({ table: 'metadata', args: ['user', 'u8'] });
    }
    expect((await store.explainList(PROJECT, params({}))).walked).toEqual({ table: 'completions', args: [] });
    expect(await store.explainList('project-never', params({}))).toEqual({ walked: undefined, steps: [] });
  });

  it('holds a stream\'s id from its first chunk to its store: taken ids are refused, a held one is stored whole, a released one is free', async () => {
    await store.saveCompletions(PROJECT, [record('s1', 1_700_000_000), record('s2', 1_700_000_001)]);
    expect(await store.deleteCompletion(PROJECT, 's2')).toBe(true);
    expect(await store.holdStreamId(PROJECT, 's1')).toBe('taken');
    expect(await store.holdStreamId(PROJECT, 's2')).toBe('taken');
    // PostgreSQL holds it in the database, against every instance; SQLite leaves that to the allocator's memory.
    const free = TEST_BACKEND === 'postgres' ? 'held' : 'free';
    expect(await store.holdStreamId(PROJECT, 's3')).toBe(free);
    expect(await store.holdStreamId(PROJECT, 's3')).toBe(TEST_BACKEND === 'postgres' ? 'taken' : 'free');
    // Another project's same id is its own.
    expect(await store.holdStreamId('project-b', 's3')).toBe(free);
    await store.saveHeldCompletion(PROJECT, record('s3', 1_700_000_002));
    expect((await store.getCompletion(PROJECT, 's3'))?.id).toBe('s3');
    expect(await walk(PROJECT, {})).toEqual(['s1', 's3']);
    // Released after it was stored: nothing changes; the stored id stays taken.
    await store.releaseStreamId(PROJECT, 's3');
    expect((await store.getCompletion(PROJECT, 's3'))?.id).toBe('s3');
    expect(await store.holdStreamId(PROJECT, 's3')).toBe('taken');
    // Released without a store: free again, and a deleted id's tombstone is never released.
    await store.releaseStreamId('project-b', 's3');
    expect(await store.holdStreamId('project-b', 's3')).toBe(free);
    await store.releaseStreamId(PROJECT, 's2');
    expect(await store.isIdTaken(PROJECT, 's2')).toBe(true);
  });

  it("a stream's held id (running, or left by a crash) is no cursor and no deleted id: `after` it is the 400 of an id never stored, and a copy leaves it", async () => {
    await store.saveCompletions(PROJECT, [record('h1', 1_700_000_000), record('h2', 1_700_000_001)]);
    expect(await store.deleteCompletion(PROJECT, 'h2')).toBe(true);
    await store.holdStreamId(PROJECT, 'h-running');
    for (const order of ['asc', 'desc'] as const) {
      await expect(store.listCompletions(PROJECT, params({ after: 'h-running', order }))).rejects.toMatchObject({
        status: 400,
        param: 'after',
        message: "Invalid 'after': no chat completion found with id 'h-running'.",
      });
      // A deleted completion's tombstone still is one.
      expect((await store.listCompletions(PROJECT, params({ after: 'h2', order }))).items.map((row) => row.id)).toEqual(order === 'asc' ? [] : ['h1']);
    }
    const dumped: string[] = [];
    for await (const batch of store.dump(100)) for (const item of batch) if (item.kind === 'tombstone') dumped.push(item.id);
    expect(dumped).toEqual(['h2']);
    // Left by a crash: with retention on, it goes a window after it was taken (no stream lasts that long); the deleted id's stays.
    expect(await store.purgeTombstones(Math.floor(Date.now() / 1000) + 10, 10)).toBe(TEST_BACKEND === 'postgres' ? 1 : 0);
    expect(await store.holdStreamId(PROJECT, 'h-running')).toBe(TEST_BACKEND === 'postgres' ? 'held' : 'free');
    expect(await store.isIdTaken(PROJECT, 'h2')).toBe(true);
    expect((await store.holdings()).deletedIds).toBe(1);
  });

  it('keeps a deleted completion as a cursor and as a taken id; a never-stored cursor is a 400', async () => {
    await store.saveCompletions(PROJECT, ['a1', 'a2', 'a3', 'a4'].map((id, n) => record(id, 1_700_000_000 + n, { metadata: { k: 'v' } })));
    expect(await store.deleteCompletion(PROJECT, 'a2')).toBe(true);
    expect(await store.deleteCompletion(PROJECT, 'a2')).toBe(false);
    expect(await store.deleteCompletion('project-b', 'a3')).toBe(false);
    expect((await store.listCompletions(PROJECT, params({ after: 'a2' }))).items.map((r) => r.id)).toEqual(['a3', 'a4']);
    expect((await store.listCompletions(PROJECT, params({ after: 'a2', order: 'desc' }))).items.map((r) => r.id)).toEqual(['a1']);
    expect((await store.listCompletions(PROJECT, params({ after: 'a2', metadata: [['k', 'v']] }))).items.map((r) => r.id)).toEqual(['a3', 'a4']);
    expect(await store.isIdTaken(PROJECT, 'a2')).toBe(true);
    expect(await store.isIdTaken(PROJECT, 'a9')).toBe(false);
    expect(await store.isIdTaken('project-b', 'a1')).toBe(false);
    await expect(store.listCompletions(PROJECT, params({ after: 'a9' }))).rejects.toMatchObject({
      status: 400,
      param: 'after',
      message: "Invalid 'after': no chat completion found with id 'a9'.",
    });
    await expect(store.listCompletions('project-b', params({ after: 'a1' }))).rejects.toMatchObject({ status: 400, param: 'after' });
  });

  it('replaces the whole metadata map on update, and the filters follow', async () => {
    await store.saveCompletion(PROJECT, record('m1', 1_700_000_000, { metadata: { old: '1', keep: 'x' } }));
    const updated = await store.updateMetadata(PROJECT, 'm1', { keep: 'x', fresh: '2' });
    expect(updated?.metadata).toBe('{"keep":"x","fresh":"2"}');
    expect(await walk(PROJECT, { metadata: [['old', '1']] })).toEqual([]);
    expect(await walk(PROJECT, { metadata: [['fresh', '2'], ['keep', 'x']] })).toEqual(['m1']);
    expect(await store.updateMetadata(PROJECT, 'm-none', {})).toBeUndefined();
    expect(await store.updateMetadata('project-b', 'm1', {})).toBeUndefined();
    expect((await store.updateMetadata(PROJECT, 'm1', {}))?.metadata).toBe('{}');
    expect(await opened.countRows('metadata')).toBe(0);
  });

  it('changes metadata in place: pairs set and keys removed per completion, the stored text and the filters following', async () => {
    await store.saveCompletions(PROJECT, [
      record('c1', 1_700_000_000, { metadata: { a: '1', stale: 'x' } }),
      record('c2', 1_700_000_001, { metadata: { a: '2' } }),
      record('c3', 1_700_000_002, { metadata: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v'])) }),
    ]);
    await store.saveCompletion('project-b', record('b1', 1_700_000_000, { metadata: { a: 'b' } }));
    await store.deleteCompletion(PROJECT, 'c2');
    await store.saveCompletion(PROJECT, record('c2-new', 1_700_000_003, { metadata: { a: '2' } }));
    const change = { set: { a: 'new', t: 'y' }, remove: ['stale'], expect: {} };
    expect(await store.changeMetadata(PROJECT, ['c2-new', 'c1', 'c2', 'b1', 'c3', 'none'], change)).toEqual([
      { id: 'c2-new', outcome: 'updated', metadata: { a: 'new', t: 'y' }, previous: { a: '2' } },
      { id: 'c1', outcome: 'updated', metadata: { a: 'new', t: 'y' }, previous: { a: '1', stale: 'x' } },
      { id: 'c2', outcome: 'not_found' },
      { id: 'b1', outcome: 'not_found' },
      { id: 'c3', outcome: 'too_many_pairs', metadata: expect.any(Object), previous: expect.any(Object) },
      { id: 'none', outcome: 'not_found' },
    ]);
    // The stored text, byte for byte: the key set anew after the others, the replaced one in its place.
    expect((await store.getCompletion(PROJECT, 'c1'))?.metadata).toBe('{"a":"new","t":"y"}');
    expect(await walk(PROJECT, { metadata: [['a', 'new'], ['t', 'y']] })).toEqual(['c1', 'c2-new']);
    expect(await walk(PROJECT, { metadata: [['stale', 'x']] })).toEqual([]);
    expect(await walk('project-b', { metadata: [['a', 'b']] })).toEqual(['b1']);
    // Already so: nothing written. An unknown project: every id not found.
    expect((await store.changeMetadata(PROJECT, ['c1'], change))[0]).toMatchObject({ outcome: 'unchanged' });
    expect(await store.changeMetadata('project-none', ['c1'], change)).toEqual([{ id: 'c1', outcome: 'not_found' }]);
    // c1's 2, c2-new's 2, c3's 16 and b1's 1: the index holds each map's pairs once.
    expect(await opened.countRows('metadata')).toBe(2 + 2 + 16 + 1);
  });

  it('deletes every row of a completion, and expired ones oldest first in batches, each leaving a tombstone', async () => {
    await store.saveCompletions(PROJECT, [
      record('old-1', 1_000, { metadata: { a: 'b' } }),
      record('old-2', 2_000, { requestedModel: 'x', model: 'y' }),
      record('new-1', 9_000),
    ]);
    await store.saveCompletion('project-b', record('old-b', 1_500));
    expect(await store.deleteExpired(5_000, 2, 10_000)).toBe(2);
    expect(await store.deleteExpired(5_000, 2, 10_000)).toBe(1);
    expect(await store.deleteExpired(5_000, 2, 10_000)).toBe(0);
    expect(await walk(PROJECT, {})).toEqual(['new-1']);
    expect(await walk('project-b', {})).toEqual([]);
    // Taken still, as a deleted id is: a cursor naming it pages on, a provider reusing it gets a fresh id.
    expect(await store.isIdTaken(PROJECT, 'old-1')).toBe(true);
    expect(await store.isIdTaken('project-b', 'old-1')).toBe(false);
    expect((await store.listCompletions(PROJECT, params({ after: 'old-1', order: 'asc' }))).items.map((row) => row.id)).toEqual(['new-1']);
    const counts = [];
    for (const table of ['completions', 'input_messages', 'metadata', 'completion_models', 'deleted_completions']) {
      counts.push([table, await opened.countRows(table)]);
    }
    expect(Object.fromEntries(counts)).toEqual({
      completions: 1,
      input_messages: 1,
      metadata: 0,
      // The requested model and the one the upstream named.
      completion_models: 2,
      deleted_completions: 3,
    });
  });

  it('lets the tombstones retention left go by when they expired, oldest first in batches; never an explicit delete\'s', async () => {
    await store.saveCompletions(PROJECT, [record('gone-1', 1_000), record('gone-2', 2_000), record('kept', 3_000), record('deleted', 4_000), record('new', 9_000)]);
    expect(await store.deleteExpired(2_500, 10, 20_000)).toBe(2);
    expect(await store.deleteExpired(3_500, 10, 30_000)).toBe(1);
    expect(await store.deleteCompletion(PROJECT, 'deleted')).toBe(true);

    expect(await store.purgeTombstones(30_000, 1)).toBe(1);
    expect(await store.purgeTombstones(30_000, 1)).toBe(1);
    expect(await store.purgeTombstones(30_000, 1)).toBe(0);
    for (const id of ['gone-1', 'gone-2']) {
      expect(await store.isIdTaken(PROJECT, id)).toBe(false);
      await expect(store.listCompletions(PROJECT, params({ after: id }))).rejects.toMatchObject({ status: 400, param: 'after' });
    }
    // Expired at the sweep's time, or deleted: still there, still cursors.
    expect((await store.listCompletions(PROJECT, params({ after: 'kept' }))).items.map((row) => row.id)).toEqual(['new']);
    expect((await store.listCompletions(PROJECT, params({ after: 'deleted', order: 'desc' }))).items.map((row) => row.id)).toEqual([]);
    const dumped: DumpItem[] = [];
    for await (const batch of store.dump(100)) dumped.push(...batch.filter((item) => item.kind === 'tombstone'));
    expect(dumped).toEqual([
      { kind: 'tombstone', project: PROJECT, id: 'deleted', created: 4_000, expiredAt: 0 },
      { kind: 'tombstone', project: PROJECT, id: 'kept', created: 3_000, expiredAt: 30_000 },
    ]);

    // However late: an explicit delete's id stays taken (a mirror or an import must not bring it back).
    expect(await store.purgeTombstones(Number.MAX_SAFE_INTEGER, 10)).toBe(1);
    expect(await store.isIdTaken(PROJECT, 'deleted')).toBe(true);
    expect(await opened.countRows('deleted_completions')).toBe(1);
    // A provider that hands out a purged id again has it stored under that id.
    await store.saveCompletion(PROJECT, record('gone-1', 9_500));
    expect(await walk(PROJECT, {})).toEqual(['new', 'gone-1']);
  });

  it('reads many completions by id at once: nothing for one deleted, never stored, or of another project', async () => {
    await store.saveCompletions(PROJECT, [record('one', 1_000), record('two', 2_000), record('deleted', 3_000)]);
    await store.saveCompletion('project-b', record('theirs', 4_000));
    expect(await store.deleteCompletion(PROJECT, 'deleted')).toBe(true);
    const read = await store.listCompletionsOf(PROJECT, ['two', 'deleted', 'never', 'theirs', 'one', 'a\u0000b']);
    expect(new Map([...read].sort(([a], [b]) => bytewise(a, b)))).toEqual(
      new Map(await Promise.all(['one', 'two'].map(async (id) => [id, await store.getCompletion(PROJECT, id)] as const))),
    );
    expect([...(await store.listCompletionsOf(PROJECT, []))]).toEqual([]);
    expect([...(await store.listCompletionsOf('project-c', ['one']))]).toEqual([]);
  });

  it("weighs many completions by id as the list's sizes do: nothing for one deleted, never stored, or of another project", async () => {
    await store.saveCompletions(PROJECT, [record('one', 1_000), record('two', 2_000, { messages: [] }), record('deleted', 3_000)]);
    await store.saveCompletion('project-b', record('theirs', 4_000));
    expect(await store.deleteCompletion(PROJECT, 'deleted')).toBe(true);
    const listed = await store.listCompletionSizes(PROJECT, params());
    const weighed = await store.completionSizesOf(PROJECT, ['two', 'deleted', 'never', 'theirs', 'one', 'a\u0000b']);
    expect(new Map([...weighed].sort(([a], [b]) => bytewise(a, b)))).toEqual(new Map(listed.items.map(({ id, size }) => [id, size])));
    // What was stored, as text-size.ts counts it: the completion's texts and its input messages'.
    expect(weighed.get('one')).toBeGreaterThan(weighed.get('two')!);
    expect([...(await store.completionSizesOf(PROJECT, []))]).toEqual([]);
    expect([...(await store.completionSizesOf('project-c', ['one']))]).toEqual([]);
  });

  it('reads the messages of many completions at once: [] for one stored without input, nothing for one deleted', async () => {
    await store.saveCompletions(PROJECT, [record('with', 1_000), record('without', 2_000, { messages: [] }), record('deleted', 3_000)]);
    expect(await store.deleteCompletion(PROJECT, 'deleted')).toBe(true);
    const read = await store.listMessagesOf(PROJECT, ['with', 'without', 'deleted', 'never']);
    expect([...read]).toEqual([
      ['with', [{ idx: 0, body: JSON.stringify({ role: 'user', content: 'question with' }) }]],
      ['without', []],
    ]);
    expect([...(await store.listMessagesOf('project-b', ['with']))]).toEqual([]);
  });

  it('exports a completion whole or not at all: one deleted between its texts and its messages is left out', async () => {
    await store.saveCompletions(PROJECT, [record('first', 1_000), record('gone', 2_000), record('last', 3_000)]);
    // The store as another request finds it: the delete lands right after the export read its page's texts.
    const racing: Store = {
      ...store,
      listCompletionsOf: async (project, ids) => {
        const read = await store.listCompletionsOf(project, ids);
        await store.deleteCompletion(PROJECT, 'gone');
        return read;
      },
    };
    const tally = newTally();
    let lines = '';
    const request = { project: PROJECT, filters: { model: undefined, metadata: [] }, format: 'completions' as const, choice: 0, limit: undefined };
    for await (const chunk of exportLines(racing, request, tally)) lines += chunk;
    expect(lines.trim().split('\n').map((line) => [JSON.parse(line).id, JSON.parse(line).input_messages.length])).toEqual([
      ['first', 1],
      ['last', 1],
    ]);
    expect(tally).toEqual({ read: 2, written: 2, skipped: {} });
  });

  it('exports chosen completions in the order named, leaving out one deleted after they were weighed', async () => {
    await store.saveCompletions(PROJECT, [record('first', 1_000), record('gone', 2_000), record('last', 3_000)]);
    const named = ['last', 'gone', 'first'];
    const sizes = await store.completionSizesOf(PROJECT, named);
    expect(await store.deleteCompletion(PROJECT, 'gone')).toBe(true);
    const tally = newTally();
    let lines = '';
    for await (const chunk of exportLinesOf(store, { project: PROJECT, format: 'completions', choice: 0 }, named, sizes, tally)) lines += chunk;
    expect(lines.trim().split('\n').map((line) => [JSON.parse(line).id, JSON.parse(line).input_messages.length])).toEqual([
      ['last', 1],
      ['first', 1],
    ]);
    expect(tally).toEqual({ read: 2, written: 2, skipped: {} });
  });

  it('exports each page as its sizes read it: the search runs once a page, and writes between the sizes and the texts change nothing', async () => {
    // Fifteen matches among completions that do not match, one second apart: (created, id) order is the ids' order.
    const saved = Array.from({ length: 30 }, (_, n) =>
      n % 2 === 0
        ? record(`m${String(n / 2).padStart(2, '0')}`, 1_700_000_000 + n, { messages: [JSON.stringify({ role: 'user', content: `needle ${n}` })] })
        : record(`x${String(n).padStart(2, '0')}`, 1_700_000_000 + n),
    );
    await store.saveCompletions(PROJECT, saved);
    let listReads = 0;
    const racing: Store = {
      ...store,
      listCompletions: async (project, listParams) => {
        listReads++;
        return store.listCompletions(project, listParams);
      },
      listCompletionSizes: async (project, listParams) => {
        listReads++;
        const sized = await store.listCompletionSizes(project, listParams);
        if (listReads === 1) {
          // Another request, right after the first page (m00-m09) was sized: one of it deleted, and a match stored inside it.
          await store.deleteCompletion(PROJECT, 'm03');
          await store.saveCompletion(PROJECT, record('m04b', 1_700_000_009, { messages: [JSON.stringify({ role: 'user', content: 'needle new' })] }));
        }
        return sized;
      },
    };
    const tally = newTally();
    let lines = '';
    const request = { project: PROJECT, filters: { model: undefined, metadata: [], search: 'needle' }, format: 'completions' as const, choice: 0, limit: undefined };
    for await (const chunk of exportLines(racing, request, tally)) lines += chunk;
    // The page read m00-m09 by their ids: without m03, and without m04b, which was not sized (it sorts before the
    // cursor, m09: an export that read it would have held a page other than the one its 32 MiB were counted on).
    const expected = saved.filter((r) => r.id.startsWith('m') && r.id !== 'm03').map((r) => r.id);
    expect(lines.trim().split('\n').map((line) => JSON.parse(line).id)).toEqual(expected);
    expect(tally).toEqual({ read: 14, written: 14, skipped: {} });
    // Two pages (10, then the 5 left): one list read each.
    expect(listReads).toBe(2);
  });

  it('pages a completion\'s input messages in order, with a cursor', async () => {
    const messages = Array.from({ length: 5 }, (_, n) => JSON.stringify({ role: 'user', content: `m${n}` }));
    await store.saveCompletion(PROJECT, record('msg', 1_700_000_000, { messages }));
    expect(await store.listMessages(PROJECT, 'msg', { after: 'msg-1', limit: 2, order: 'asc' })).toEqual({
      items: [
        { idx: 2, body: messages[2] },
        { idx: 3, body: messages[3] },
      ],
      hasMore: true,
    });
    expect(await store.listMessages(PROJECT, 'msg', { after: 'msg-1', limit: 2, order: 'desc' })).toEqual({
      items: [{ idx: 0, body: messages[0] }],
      hasMore: false,
    });
    await expect(store.listMessages(PROJECT, 'msg', { after: 'msg-7', limit: 2, order: 'asc' })).rejects.toMatchObject({ status: 400 });
    expect(await store.listMessages('project-b', 'msg', { after: undefined, limit: 2, order: 'asc' })).toBeUndefined();
  });

  it('writes a batch across projects in one call', async () => {
    await store.saveCompletionBatch([
      ['team-1', record('same-id', 1_700_000_000)],
      ['team-2', record('same-id', 1_700_000_000)],
      ['team-1', record('other', 1_700_000_001)],
    ]);
    expect(await walk('team-1', {})).toEqual(['same-id', 'other']);
    expect(await walk('team-2', {})).toEqual(['same-id']);
  });

  it('stores a batch larger than one statement takes with every row of each, and refuses one naming a stored id or an id twice, whole', async () => {
    // 150 completions: SQLite inserts the search rows 64 to a statement, so the batch spans three of them.
    const many = Array.from({ length: 150 }, (_, n) =>
      record(`bulk-${String(n).padStart(3, '0')}`, 1_700_000_000 + n, {
        metadata: { user: `u${n % 7}`, env: n % 2 === 0 ? 'prod' : 'dev' },
        messages: [JSON.stringify({ role: 'system', content: `system ${n}` }), JSON.stringify({ role: 'user', content: `question ${n}` })],
      }),
    );
    await store.saveCompletions(PROJECT, many);
    const ids = many.map((r) => r.id);
    expect(await walk(PROJECT, { model: 'gpt-4o' })).toEqual(ids);
    expect(await walk(PROJECT, { model: 'gpt-4o-2024-08-06', order: 'desc' })).toEqual([...ids].reverse());
    expect(await walk(PROJECT, { metadata: [['user', 'u3'], ['env', 'dev']] })).toEqual(ids.filter((_, n) => n % 7 === 3 && n % 2 === 1));
    expect((await store.listMessagesOf(PROJECT, ['bulk-000', 'bulk-149'])).get('bulk-149')).toEqual([
      { idx: 0, body: many[149]!.messages[0] },
      { idx: 1, body: many[149]!.messages[1] },
    ]);
    expect((await store.listCompletions(PROJECT, params({ search: 'question 100', limit: 5 }))).items.map((row) => row.id)).toEqual(['bulk-100']);

    // The 70th of a new batch is stored already: nothing of the batch is, and the error names that id.
    const taken = Array.from({ length: 100 }, (_, n) => record(n === 69 ? 'bulk-042' : `taken-${n}`, 1_800_000_000 + n));
    await expect(store.saveCompletions(PROJECT, taken)).rejects.toMatchObject({ name: 'CompletionIdTaken', id: 'bulk-042' });
    const twice = Array.from({ length: 100 }, (_, n) => record(n === 80 ? 'twice-3' : `twice-${n}`, 1_800_000_000 + n));
    await expect(store.saveCompletions(PROJECT, twice)).rejects.toMatchObject({ name: 'CompletionIdTaken', id: 'twice-3' });
    expect(await walk(PROJECT, {})).toEqual(ids);
    expect(await walk(PROJECT, { metadata: [['env', 'prod']] })).toEqual(ids.filter((_, n) => n % 2 === 0));
  });

  it('stores and filters on text PostgreSQL cannot hold (NUL), never mixing it up with the text that encodes it', async () => {
    const nul = 'a\u0000b';
    const lookalike = `\u0001${JSON.stringify(nul)}`;
    await store.saveCompletions(PROJECT, [
      record('nul', 1_700_000_000, { metadata: { [nul]: nul }, requestedModel: nul }),
      record('lookalike', 1_700_000_001, { metadata: { [lookalike]: lookalike }, requestedModel: lookalike }),
    ]);
    expect((await store.getCompletion(PROJECT, 'nul'))?.metadata).toBe(JSON.stringify({ [nul]: nul }));
    expect(await walk(PROJECT, { metadata: [[nul, nul]] })).toEqual(['nul']);
    expect(await walk(PROJECT, { metadata: [[lookalike, lookalike]] })).toEqual(['lookalike']);
    expect(await walk(PROJECT, { model: nul })).toEqual(['nul']);
    expect(await walk(PROJECT, { model: lookalike })).toEqual(['lookalike']);
    expect(await store.getCompletion(PROJECT, 'nu\u0000l')).toBeUndefined();
    expect(await store.isIdTaken(PROJECT, 'nu\u0000l')).toBe(false);
    await expect(store.listCompletions(PROJECT, params({ after: 'nu\u0000l' }))).rejects.toMatchObject({ status: 400, param: 'after' });
    expect(await store.deleteCompletion(PROJECT, 'nul')).toBe(true);
    expect(await opened.countRows('metadata')).toBe(1);
  });

  it('orders usage by model bytewise when a model holds a NUL (or starts as the encoding of one does), from the rollup and from the walk', async () => {
    const models = ['m\u0000x', 'm', '\u0001x', 'm\u0001'];
    await store.saveCompletions(PROJECT, models.map((model, n) => record(`u${n}`, 1_700_000_000 + n, { model, metadata: { env: 'prod' } })));
    const bytewise = ['\u0001x', 'm', 'm\u0000x', 'm\u0001'];
    const rollup = await store.summarizeUsage(PROJECT, { model: undefined, metadata: [], createdAfter: undefined, createdBefore: undefined });
    expect(rollup.rows.map((row) => row.model)).toEqual(bytewise);
    const walked = await store.summarizeUsage(PROJECT, { model: undefined, metadata: [['env', 'prod']], createdAfter: undefined, createdBefore: undefined });
    expect(walked.rows.map((row) => row.model)).toEqual(bytewise);
    expect(walked.rows.map((row) => row.completions)).toEqual([1, 1, 1, 1]);
  });

  it('bounds a list by created_after (inclusive) and created_before (exclusive), with every filter and a cursor', async () => {
    const usage = (n: number) => JSON.stringify({ id: `r${n}`, object: 'chat.completion', created: n, model: 'gpt-4o-2024-08-06', usage: { prompt_tokens: n, completion_tokens: 1, total_tokens: n + 1 } });
    await store.saveCompletions(
      PROJECT,
      [100, 200, 300, 400, 500].map((n) => record(`r${n}`, n, { metadata: { env: n % 200 === 0 ? 'prod' : 'dev' }, body: usage(n) })),
    );
    for (const order of ['asc', 'desc'] as const) {
      const expected = order === 'asc' ? ['r200', 'r300', 'r400'] : ['r400', 'r300', 'r200'];
      expect(await walk(PROJECT, { order, limit: 1, createdAfter: 200, createdBefore: 500 })).toEqual(expected);
      expect(await walk(PROJECT, { order, limit: 1, createdAfter: 200, createdBefore: 500, model: 'gpt-4o' })).toEqual(expected);
      expect(await walk(PROJECT, { order, createdAfter: 200, createdBefore: 500, metadata: [['env', 'prod']] })).toEqual(
        order === 'asc' ? ['r200', 'r400'] : ['r400', 'r200'],
      );
    }
    const page = await store.listCompletions(PROJECT, params({ after: 'r100', createdBefore: 300 }));
    expect(page.items.map((row) => row.id)).toEqual(['r200']);
    const summary = await store.summarizeUsage(PROJECT, { model: undefined, metadata: [], createdAfter: 200, createdBefore: 500 });
    expect(summary).toEqual({
      rows: [{ day: 0, model: 'gpt-4o-2024-08-06', completions: 3, promptTokens: 900, completionTokens: 3, totalTokens: 903 }],
      truncated: false,
    });
  });

  it('searches', async () => {
    await store.saveCompletions(PROJECT, [record('s1', 1), record('s2', 2, { messages: [JSON.stringify({ role: 'user', content: 'other' })] })]);
    expect((await store.listCompletions(PROJECT, params({ search: 'question' }))).items.map((row) => row.id)).toEqual(['s1']);
    expect((await store.listCompletions(PROJECT, params({ search: 'ANSWER s2' }))).items.map((row) => row.id)).toEqual(['s2']);
  });

  it('stores replies of megabytes, one huge word or many words, byte for byte, and searches their tokens as on the other backend', async () => {
    // A token longer than an index key (PostgreSQL keys its first 100 characters) matches only a search for the whole token.
    const huge = `Ébig${'x'.repeat(4_000_000)}`;
    const words = 'lorem ipsum zephyrquill déjà '.repeat(150_000);
    const long = 'q'.repeat(150);
    const answer = (content: string) => [JSON.stringify({ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' })];
    const saved = [
      record('huge-word', 1, { choices: answer(huge) }),
      record('many-words', 2, { choices: answer(words) }),
      record('long-token', 3, { choices: answer(`${long} ${'y'.repeat(3_000_000)}`) }),
      record('key-token', 4, { choices: answer('q'.repeat(100)) }),
    ];
    await store.saveCompletions(PROJECT, saved);
    for (const one of saved) expect((await store.getCompletion(PROJECT, one.id))?.choices === one.choices[0], one.id).toBe(true);
    const found = async (search: string) => (await store.listCompletions(PROJECT, params({ search }))).items.map((row) => row.id);
    expect(await found('zephyrquill deja')).toEqual(['many-words']);
    expect(await found(long.toUpperCase())).toEqual(['long-token']);
    expect(await found(long.slice(0, 120))).toEqual([]);
    // A search word of exactly a key's 100 characters is the whole token too, not every longer one's key.
    expect(await found(long.slice(0, 100))).toEqual(['key-token']);
    expect(await found(long.slice(0, 99))).toEqual([]);
    expect(await found(`ebig${'x'.repeat(200)}`)).toEqual([]);
    expect(await found(huge)).toEqual(['huge-word']);
  });

  it("searches an input assistant message's refusal, as the text of an input message", async () => {
    const refused = JSON.stringify({ role: 'assistant', content: null, refusal: 'I cannot help with quasarfluxion.' });
    await store.saveCompletions(PROJECT, [record('r1', 1, { messages: [JSON.stringify({ role: 'user', content: 'hi' }), refused] }), record('r2', 2)]);
    expect((await store.listCompletions(PROJECT, params({ search: 'quasarfluxion' }))).items.map((row) => row.id)).toEqual(['r1']);
  });

  it("searches the text parts of an answer given as parts (a reasoning model's), not its thinking", async () => {
    const parts = [
      { type: 'thinking', thinking: [{ type: 'text', text: 'pondering zephyrquill' }] },
      { type: 'text', text: 'The answer is marblewick.' },
    ];
    const choice = JSON.stringify({ index: 0, message: { role: 'assistant', content: parts }, finish_reason: 'stop' });
    await store.saveCompletions(PROJECT, [record('p1', 1, { choices: [choice] }), record('p2', 2)]);
    expect((await store.listCompletions(PROJECT, params({ search: 'marblewick' }))).items.map((row) => row.id)).toEqual(['p1']);
    expect((await store.listCompletions(PROJECT, params({ search: 'zephyrquill' }))).items.map((row) => row.id)).toEqual([]);
  });

  it('keeps the first value of a setting', async () => {
    expect(await store.getOrCreateSetting('secret', () => 'first')).toBe('first');
    expect(await store.getOrCreateSetting('secret', () => 'second')).toBe('first');
  });

  it('sets, replaces and deletes a setting', async () => {
    await store.setSetting('position', 'a');
    await store.setSetting('position', 'b');
    expect(await store.getSetting('position')).toBe('b');
    await store.deleteSetting('position');
    await store.deleteSetting('position');
    expect(await store.getSetting('position')).toBe(undefined);
  });

  it('replaces a setting only when it holds the value expected, and says whether it did', async () => {
    expect(await store.replaceSetting('lease', 'a', 'b')).toBe(false);
    expect(await store.getSetting('lease')).toBe(undefined);
    expect(await store.replaceSetting('lease', undefined, undefined)).toBe(true);
    expect(await store.replaceSetting('lease', undefined, 'a')).toBe(true);
    expect(await store.replaceSetting('lease', undefined, 'x')).toBe(false);
    expect(await store.replaceSetting('lease', undefined, undefined)).toBe(false);
    expect(await store.getSetting('lease')).toBe('a');
    expect(await store.replaceSetting('lease', 'b', 'c')).toBe(false);
    expect(await store.replaceSetting('lease', 'a', 'b')).toBe(true);
    expect(await store.getSetting('lease')).toBe('b');
    expect(await store.replaceSetting('lease', 'a', undefined)).toBe(false);
    expect(await store.getSetting('lease')).toBe('b');
    expect(await store.replaceSetting('lease', 'b', undefined)).toBe(true);
    expect(await store.getSetting('lease')).toBe(undefined);
  });

  it("dumps the settings but the health check's mark and mirror runs' claims (a running process's, not data)", async () => {
    await store.setSetting('mirror_position:abc', 'p');
    await store.setSetting('mirror_lease:abc', 'claim');
    // Keys that only look like a claim's to LIKE ('_' is any character; SQLite's ignores ASCII case) are data.
    await store.setSetting('mirrorXlease:abc', 'x');
    await store.setSetting('MIRROR_LEASE:abc', 'y');
    await store.checkWritable();
    const settings: unknown[] = [];
    for await (const batch of store.dump(10)) settings.push(...batch.filter((item) => item.kind === 'setting'));
    expect(settings).toEqual([
      { kind: 'setting', key: 'MIRROR_LEASE:abc', value: 'y' },
      { kind: 'setting', key: 'mirrorXlease:abc', value: 'x' },
      { kind: 'setting', key: 'mirror_position:abc', value: 'p' },
    ]);
  });

  it('lets exactly one of many racing compare-and-sets win', async () => {
    await store.setSetting('lease', 'free');
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => store.replaceSetting('lease', 'free', `taken by ${i}`)));
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(await store.getSetting('lease')).toBe(`taken by ${outcomes.indexOf(true)}`);
  });

  it('dumps batches that stop before 32 MiB of text as well as at the batch size, whatever the row count allows', async () => {
    // Three completions of 12 MiB among small ones: a batch of 10 would hold them all, 36 MiB. Ids in storage order on
    // both backends (a group commit on PostgreSQL stores in key order).
    const image = (id: string) => [JSON.stringify({ role: 'user', content: `${id} ${'A'.repeat(12 * 1024 * 1024)}` })];
    const saved = [record('a0', 1_700_000_000), ...['b1', 'b2', 'b3'].map((id) => record(id, 1_700_000_000, { messages: image(id) })), record('c4', 1_700_000_000)];
    await store.saveCompletions(PROJECT, saved);
    const batches: string[][] = [];
    const records: CompletionRecord[] = [];
    for await (const batch of store.dump(10)) {
      const completions = batch.filter((item) => item.kind === 'completion');
      if (completions.length > 0) batches.push(completions.map((item) => item.record.id));
      records.push(...completions.map((item) => item.record));
    }
    expect(batches).toEqual([
      ['a0', 'b1', 'b2'],
      ['b3', 'c4'],
    ]);
    expect(records.map(({ id, messages, choices, body }) => ({ id, messages, choices, body }))).toEqual(
      saved.map(({ id, messages, choices, body }) => ({ id, messages, choices, body })),
    );
  }, 60_000);

  it('exports pages that stop before 32 MiB of text by their own completions\' sizes, not by the page before', async () => {
    // Twelve small completions, then three of 12 MiB: the first page (10) is small, and the second, sized by it,
    // read all five others (36 MiB). Created one second apart: (created, id) order is the ids' order.
    const image = (id: string) => [JSON.stringify({ role: 'user', content: `${id} ${'A'.repeat(12 * 1024 * 1024)}` })];
    const ids = [...Array.from({ length: 12 }, (_, n) => `a${String(n).padStart(2, '0')}`), 'b12', 'b13', 'b14'];
    await store.saveCompletions(
      PROJECT,
      ids.map((id, n) => record(id, 1_700_000_000 + n, id.startsWith('b') ? { messages: image(id) } : {})),
    );
    const pages: string[][] = [];
    const recording: Store = {
      ...store,
      listCompletionsOf: async (project, ids) => {
        pages.push(ids);
        return store.listCompletionsOf(project, ids);
      },
    };
    const tally = newTally();
    const exported: string[] = [];
    const request = { project: PROJECT, filters: { model: undefined, metadata: [] }, format: 'completions' as const, choice: 0, limit: undefined };
    for await (const chunk of exportLines(recording, request, tally)) exported.push(...chunk.trimEnd().split('\n').map((line) => JSON.parse(line).id));
    expect(pages).toEqual([ids.slice(0, 10), ['a10', 'a11', 'b12', 'b13'], ['b14']]);
    expect(exported).toEqual(ids);
    expect(tally).toEqual({ read: 15, written: 15, skipped: {} });
  }, 60_000);
});
