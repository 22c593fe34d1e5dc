import { createServer, type ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MirrorTally, newMirrorTally, runMirror } from '../src/mirror/run-mirror.ts';
import { createSourceClient } from '../src/mirror/source-client.ts';
import type { Store } from '../src/store/index.ts';
import { listenOnLoopback } from './helpers/fake-upstream.ts';
import { openTestStore } from './helpers/service.ts';
import { TEST_BACKEND } from './helpers/test-database.ts';

/**
 * `mirror --since` against a source of a long history: where --since begins is found newest-first beside the walk,
 * not by listing every page before it. The source is a real HTTP server listing by (`created`, `id`) in either order,
 * like OpenAI; variants order ties differently newest-first, ignore `order`, or refuse it.
 */

interface Item {
  id: string;
  created: number;
}

type DescMode = 'same ties' | 'ties reversed' | 'ignores order' | 'refuses desc';

interface FakeSource {
  url: string;
  /** Each list request, in order: its `order` and `after` (`-` for none). */
  lists: string[];
}

// The store (on the backend this file runs on) and the fake sources: each test has its own.
const closers: (() => Promise<void>)[] = [];
let store: Store;
beforeEach(async () => {
  const opened = await openTestStore();
  ({ store } = opened);
  closers.unshift(opened.close);
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const byCreatedThenId = (a: Item, b: Item) => a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

async function startSource(items: Item[], desc: DescMode = 'same ties'): Promise<FakeSource> {
  const asc = [...items].sort(byCreatedThenId);
  // Newest first: the ascending list reversed, or (ties reversed) by created descending and id ascending.
  const newestFirst = desc === 'ties reversed' ? [...items].sort((a, b) => b.created - a.created || (a.id < b.id ? -1 : 1)) : [...asc].reverse();
  const lists: string[] = [];
  const send = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.endsWith('/messages')) return send(res, 200, { object: 'list', data: [], first_id: null, last_id: null, has_more: false });
    const order = url.searchParams.get('order') ?? 'asc';
    const after = url.searchParams.get('after');
    lists.push(`${order} ${after ?? '-'}`);
    if (order === 'desc' && desc === 'refuses desc') {
      return send(res, 400, { error: { message: "Invalid value: 'desc'. Supported values are: 'asc'.", type: 'invalid_request_error', param: 'order', code: 'invalid_value' } });
    }
    const list = order === 'desc' && desc !== 'ignores order' ? newestFirst : asc;
    const limit = Number(url.searchParams.get('limit'));
    const from = after === null ? 0 : list.findIndex((item) => item.id === after) + 1;
    if (from === 0 && after !== null) {
      return send(res, 404, { error: { message: `No chat completion found with id '${after}'.`, type: 'invalid_request_error', param: null, code: null } });
    }
    const data = list
      .slice(from, from + limit)
      .map(({ id, created }) => ({ id, object: 'chat.completion', created, model: 'gpt-4o-mini', choices: [], metadata: {}, usage: null }));
    send(res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: from + limit < list.length });
  });
  const listening = await listenOnLoopback(server);
  closers.push(listening.close);
  return { url: listening.url, lists };
}

async function mirrorSince(source: FakeSource, since: number | undefined): Promise<{ tally: MirrorTally; notes: string[] }> {
  const tally = newMirrorTally();
  const notes: string[] = [];
  await runMirror(
    {
      source: createSourceClient({ baseUrl: source.url, apiKey: 'sk-test', maxRetries: 0 }),
      checkpointKey: 'mirror_position:since',
      unreadKey: 'mirror_unread:since',
      fromStart: false,
      updateMetadata: false,
      store,
      project: 'p',
      filters: { model: undefined, metadata: [], createdAfter: since, createdBefore: undefined },
      concurrency: 4,
    },
    tally,
    { onNote: (text) => notes.push(text) },
  );
  return { tally, notes };
}

/** Every id the project holds, in list order. */
async function mirroredIds(): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listCompletions('p', { after, limit: 100, order: 'asc', model: undefined, metadata: [] });
    ids.push(...page.items.map((row) => row.id));
    if (!page.hasMore) return ids;
    after = page.items.at(-1)!.id;
  }
}

const T0 = 1_700_000_000;
/**
 * 2,500 completions, one every 20 s in groups of three sharing a second, each group's ids out of their insertion order
 * (`c-0001-b`, `c-0001-a`, `c-0001-c`): ties at --since are broken by id, which is not the order they were made in.
 */
const history: Item[] = Array.from({ length: 2500 }, (_, i) => ({ id: `c-${String(Math.floor(i / 3)).padStart(4, '0')}-${'bac'[i % 3]}`, created: T0 + Math.floor(i / 3) * 20 }));
const inListOrder = [...history].sort(byCreatedThenId);
const idsFrom = (since: number) => inListOrder.filter((item) => item.created >= since).map((item) => item.id);
const at = (n: number) => inListOrder[n]!.id;

describe(`mirror --since on ${TEST_BACKEND}`, () => {
  it('finds where --since begins newest-first: a handful of list pages of 2,500 completions, every one from --since on mirrored, none before', async () => {
    // A second shared by three completions, the first of them (in list order) the 2,382nd.
    const since = T0 + 794 * 20;
    expect(inListOrder.findIndex((item) => item.created >= since)).toBe(2382);
    const source = await startSource(history);
    const { tally, notes } = await mirrorSince(source, since);
    expect(notes).toEqual([]);
    expect(await mirroredIds()).toEqual(idsFrom(since));
    expect(idsFrom(since)).toHaveLength(118);
    // The walk's first page (before --since), a newest-first page beside it (all after --since), the walk's second,
    // a newest-first page holding the newest completion before --since; then the walk lists on after that one.
    expect(source.lists).toEqual(['asc -', 'desc -', `asc ${at(99)}`, `desc ${at(2400)}`, `asc ${at(2381)}`, `asc ${at(2481)}`]);
    expect(tally).toMatchObject({ pages: 4, searchPages: 2, copied: 118, present: 0, listed: 318 });

    // Run again, it resumes from its position, an hour back: no search, no walk from the oldest.
    source.lists.length = 0;
    const again = await mirrorSince(source, since);
    expect(again.tally).toMatchObject({ resumed: true, copied: 0, present: 118, searchPages: 0 });
    expect(source.lists).toEqual([`asc ${at(2381)}`, `asc ${at(2481)}`]);
  });

  for (const desc of ['ties reversed', 'ignores order'] as const) {
    it(`mirrors every completion from --since on, none before, when the newest-first list ${desc === 'ignores order' ? 'is oldest-first (order ignored)' : 'orders ties otherwise'}`, async () => {
      const since = T0 + 794 * 20;
      const source = await startSource(history, desc);
      const { notes } = await mirrorSince(source, since);
      expect(notes).toEqual([]);
      expect(await mirroredIds()).toEqual(idsFrom(since));
      if (desc === 'ties reversed') {
        // Ties the other way, the first completion before --since newest-first is the first of its second in list order,
        // two before the newest: the walk lists on after it, and leaves the two after it in that second out.
        expect(source.lists).toEqual(['asc -', 'desc -', `asc ${at(99)}`, `desc ${'c-0800-c'}`, `asc ${at(2379)}`, `asc ${at(2479)}`]);
      } else {
        // Oldest first: nothing it finds is ahead of the walk, which lists every page, as without the search.
        expect(source.lists.filter((list) => list.startsWith('asc'))).toHaveLength(25);
      }
    });
  }

  it('lists on from the oldest, saying so, when the source refuses the newest-first list', async () => {
    const since = T0 + 794 * 20;
    const source = await startSource(history, 'refuses desc');
    const { notes, tally } = await mirrorSince(source, since);
    expect(notes).toEqual([
      "the source's newest-first list could not be read (the source answered HTTP 400: Invalid value: 'desc'. Supported values are: 'asc'.): not searched for where --since begins, listing on from the oldest",
    ]);
    expect(await mirroredIds()).toEqual(idsFrom(since));
    expect(tally).toMatchObject({ pages: 25, searchPages: 0 });
  });

  it('does not search when the first page is at --since already (a --since older than the history)', async () => {
    const source = await startSource(history.slice(0, 300));
    const { tally } = await mirrorSince(source, T0 - 1);
    expect(tally).toMatchObject({ pages: 3, searchPages: 0, copied: 300 });
    expect(source.lists.some((list) => list.startsWith('desc'))).toBe(false);
  });

  it('does not search on an empty source', async () => {
    const empty = await startSource([]);
    const none = await mirrorSince(empty, T0);
    expect(none.tally).toMatchObject({ pages: 1, searchPages: 0, copied: 0 });
    expect(empty.lists).toEqual(['asc -']);
  });

  it('with --since after the newest completion, ends after one newest-first page and mirrors nothing', async () => {
    const source = await startSource(history);
    const { tally } = await mirrorSince(source, T0 + 1_000_000);
    expect(source.lists).toEqual(['asc -', 'desc -', `asc ${at(2499)}`]);
    expect(tally).toMatchObject({ pages: 2, searchPages: 1, copied: 0 });
    expect(await mirroredIds()).toEqual([]);
  });
});
