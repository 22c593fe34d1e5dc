import { createServer, type ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { LEASE_TTL_MS, MirrorBusyError, takeMirrorLease } from '../src/mirror/mirror-lease.ts';
import { type MirrorRequest, type MirrorTally, newMirrorTally, RESUME_LOOKBACK_SECONDS, runMirror } from '../src/mirror/run-mirror.ts';
import { createSourceClient, type SourceClient } from '../src/mirror/source-client.ts';
import type { Store } from '../src/store/index.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { listenOnLoopback } from './helpers/fake-upstream.ts';

/**
 * The position a mirror keeps between runs, driven against a source that lists by (created, id) and, like OpenAI
 * for an id it no longer has, refuses an `after` it does not know with a 404.
 */
interface FakeSource {
  client: SourceClient;
  add(id: string, created: number): void;
  remove(id: string): void;
  /** Completions whose messages the source answers with a 500 (so the run keeps them to read again). */
  failing: Set<string>;
  /** Completions the source deletes once their messages were read (as OpenAI's expiry or a user may, mid-run). */
  deletedOnceRead: Set<string>;
}

async function startFakeSource(): Promise<FakeSource> {
  const items: { id: string; created: number }[] = [];
  const failing = new Set<string>();
  const deletedOnceRead = new Set<string>();
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.endsWith('/messages')) {
      if (failing.has(decodeURIComponent(url.pathname.split('/').at(-2)!))) {
        return send(res, 500, { error: { message: 'The server had an error.', type: 'server_error', param: null, code: null } });
      }
      const read = decodeURIComponent(url.pathname.split('/').at(-2)!);
      if (deletedOnceRead.has(read)) items.splice(items.findIndex((item) => item.id === read), 1);
      return send(res, 200, { object: 'list', data: [], has_more: false });
    }
    const after = url.searchParams.get('after');
    const limit = Number(url.searchParams.get('limit'));
    const from = after === null ? 0 : items.findIndex((item) => item.id === after) + 1;
    if (from === 0 && after !== null) {
      return send(res, 404, { error: { message: `No chat completion found with id '${after}'.`, type: 'invalid_request_error', param: null, code: null } });
    }
    send(res, 200, {
      object: 'list',
      data: items.slice(from, from + limit).map(({ id, created }) => ({ id, object: 'chat.completion', created, model: 'gpt-4o-mini', choices: [], metadata: {} })),
      has_more: from + limit < items.length,
    });
  });
  const listening = await listenOnLoopback(server);
  closers.push(listening.close);
  return {
    failing,
    deletedOnceRead,
    client: createSourceClient({ baseUrl: listening.url, apiKey: 'sk-test', maxRetries: 0 }),
    add(id, created) {
      items.push({ id, created });
      items.sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
    remove(id) {
      items.splice(
        items.findIndex((item) => item.id === id),
        1,
      );
    },
  };
}

const KEY = 'mirror_position:test';

let db: SqliteDatabase;
let store: Store;
const closers: (() => Promise<void>)[] = [];

beforeEach(() => {
  db = openDatabase(':memory:');
  store = createSqliteStore(db);
});

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await store.close();
});

async function run(source: FakeSource, lease?: MirrorRequest['lease']): Promise<{ tally: MirrorTally; notes: string[] }> {
  const tally = newMirrorTally();
  const notes: string[] = [];
  await runMirror(
    {
      source: source.client,
      checkpointKey: KEY,
      unreadKey: 'mirror_unread:test',
      fromStart: false,
      updateMetadata: false,
      store,
      project: 'p',
      filters: { model: undefined, metadata: [], createdAfter: undefined, createdBefore: undefined },
      concurrency: 4,
      lease,
    },
    tally,
    { onNote: (text) => notes.push(text) },
  );
  return { tally, notes };
}

async function keptEnds(): Promise<[number | null, string][]> {
  return (JSON.parse((await store.getSetting(KEY))!) as { ends: [number | null, string][] }).ends;
}

const id = (n: number) => `chatcmpl-${String(n).padStart(6, '0')}`;

describe('mirror position', () => {
  it('keeps the page ends of about one look-back, however many runs listed it again', async () => {
    // A run every five minutes for three hours, 137 new completions between runs: each run lists the last hour again
    // from another place, so its pages end elsewhere than the last run's did.
    const source = await startFakeSource();
    const perRun = 137;
    const runs = 36;
    let n = 0;
    for (let r = 0; r < runs; r++) {
      for (let i = 0; i < perRun; i++, n++) source.add(id(n), 1_700_000_000 + r * 300 + Math.floor((i * 300) / perRun));
      const { tally } = await run(source);
      expect(tally.copied).toBe(perRun);
    }
    // The pages of one hour, one before it, and the last page of a run that may be short.
    const perHour = (perRun * RESUME_LOOKBACK_SECONDS) / 300;
    expect((await keptEnds()).length).toBeLessThanOrEqual(Math.ceil(perHour / 100) + 3);
    // 36 runs, each listing and storing an hour again: 6-19 s on a busy 2-core machine, past the 30 s default once
    // when five mirror files ran beside it. A bound on a hang, not a timing.
  }, 120_000);

  it('forgets a position the source refused, so the next run resumes instead of listing everything again', async () => {
    const source = await startFakeSource();
    // 200 old completions (two full pages), then one three hours later: the second page's end is the position.
    for (let n = 0; n < 200; n++) source.add(id(n), 1_700_000_000 + n);
    source.add(id(200), 1_700_000_000 + 3 * 3600);
    await run(source);
    expect((await keptEnds()).map(([, end]) => end)).toEqual([id(199), id(200)]);

    // Deleted at the source (and the source then refuses it as `after`): the run lists from the start.
    source.remove(id(199));
    const second = await run(source);
    expect(second.notes).toEqual([`the source no longer knows the position the last run stopped at (${id(199)}): listing from the start`]);
    expect(second.tally.pages).toBe(2);

    const third = await run(source);
    expect(third.notes).toEqual([]);
    expect(third.tally).toMatchObject({ resumed: true, pages: 1 });
  });

  it('writes neither the completions to read again nor the position once its claim ran out while a page was stored', async () => {
    const source = await startFakeSource();
    source.add(id(1), 1_700_000_000);
    source.add(id(2), 1_700_000_001);
    source.failing.add(id(2));
    let clock = Date.now();
    const lease = await takeMirrorLease(store, 'mirror_lease:test', { describe: 'the source', now: () => clock, renewMs: 60_000 });
    // The page's import outlasts the claim (a database that stalls): by its end another run may hold the mirror.
    const importCompletions = store.importCompletions;
    store.importCompletions = async (...args) => {
      const imported = await importCompletions(...args);
      clock += LEASE_TTL_MS;
      return imported;
    };
    await expect(run(source, lease)).rejects.toThrow(MirrorBusyError);
    expect(await store.getSetting('mirror_unread:test')).toBe(undefined);
    expect(await store.getSetting(KEY)).toBe(undefined);
    // What it stored stays.
    expect(await store.isIdTaken('p', id(1))).toBe(true);
    await lease.release();
  });

  it('walks on when the completion its cursor names is deleted at the source between two list pages', async () => {
    const source = await startFakeSource();
    for (let n = 0; n < 250; n++) source.add(id(n), 1_700_000_000 + n);
    // The last of the first page, gone before the run asks for the page after it.
    source.deletedOnceRead.add(id(99));
    const { tally, notes } = await run(source);
    expect(notes).toEqual([`the source no longer knows ${id(99)}, the last completion listed: listing again from the page before`]);
    // Each listed once: the first page listed again (without its last) passes over what it already listed.
    expect(tally).toMatchObject({ pages: 4, listed: 250, copied: 250, present: 0, vanished: 0, invalid: [], notObjects: 0 });
    expect((await keptEnds()).map(([, end]) => end)).toEqual([id(100), id(200), id(249)]);
    const again = await run(source);
    expect(again.notes).toEqual([]);
    expect(again.tally).toMatchObject({ resumed: false, copied: 0, present: 249 });
  });
});
