import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { type MirrorTally, newMirrorTally, runMirror } from '../src/mirror/run-mirror.ts';
import { SourceStuckError } from '../src/mirror/list-pages.ts';
import { createSourceClient, SourceError } from '../src/mirror/source-client.ts';
import { createSqliteStore } from '../src/store/index.ts';
import { runCliInProcess } from './helpers/cli.ts';
import { listenOnLoopback } from './helpers/fake-upstream.ts';

/**
 * The mirror's client against sources that misbehave on purpose: answers that never end, redirects to
 * another host, and the like. Each source is a real HTTP server on the loopback.
 */

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const listening = await listenOnLoopback(
    createServer((req, res) => {
      requests++;
      handler(req, res);
    }),
  );
  closers.push(listening.close);
  return { url: listening.url, requests: () => requests };
}

/** Writes chunks of `{"data":[` padding for as long as the connection is open: a body that never ends. */
function endless(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{"object":"list","data":["');
  const chunk = 'x'.repeat(64 * 1024);
  const more = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', more);
  };
  more();
}

describe('mirror source client', () => {
  it('stops reading an answer past its byte bound and does not retry it', async () => {
    const source = await serve((_req, res) => endless(res));
    const retries: string[] = [];
    const client = createSourceClient({ baseUrl: source.url, apiKey: 'sk-x', maxBodyBytes: 1024 * 1024, initialDelayMs: 1, onRetry: ({ reason }) => retries.push(reason) });
    const failure = await client.get('/chat/completions').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SourceError);
    expect((failure as SourceError).message).toBe(
      `the source answered ${source.url}/chat/completions with more than 1 MiB (HTTP 200), more than any page of the API holds; stopped reading it`,
    );
    expect(retries).toEqual([]);
    expect(source.requests()).toBe(1);
  });

  it('says a source that takes the request and then answers nothing, or stops halfway, gave no answer in time', async () => {
    const source = await serve((req, res) => {
      if (req.url?.includes('halfway')) res.writeHead(200, { 'content-type': 'application/json' }).write('{"object":"list","data":[');
    });
    for (const path of ['/chat/completions', '/chat/completions/halfway/messages']) {
      const retries: string[] = [];
      const client = createSourceClient({ baseUrl: source.url, apiKey: 'sk-x', timeoutMs: 200, maxRetries: 1, initialDelayMs: 1, onRetry: ({ reason }) => retries.push(reason) });
      const failure = await client.get(path).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(SourceError);
      expect((failure as SourceError).message).toBe(`giving up on ${path} after 2 attempts: no answer within 0.2 s`);
      expect(retries).toEqual(['no answer within 0.2 s']);
    }
    expect(source.requests()).toBe(4);
  });

  it('gives up on a source that answers nothing even when memory is collected while it waits', async () => {
    // Node 20 held the timer of AbortSignal.any([AbortSignal.timeout(ms), ...]) only weakly: a collection while the
    // source was silent took it away, and the request waited forever (a CI run hung here past 30 s).
    setFlagsFromString('--expose-gc');
    const collectGarbage = runInNewContext('gc') as () => void;
    const source = await serve(() => undefined);
    const client = createSourceClient({ baseUrl: source.url, apiKey: 'sk-x', timeoutMs: 300, maxRetries: 0 });
    const failure = client.get('/chat/completions').catch((err: unknown) => (err as Error).message);
    await new Promise((resolve) => setTimeout(resolve, 100));
    collectGarbage();
    const hung = new Promise((resolve) => setTimeout(() => resolve('still waiting after 5 s'), 5000).unref());
    expect(await Promise.race([failure, hung])).toBe('giving up on /chat/completions after 1 attempts: no answer within 0.3 s');
  });

  it('reads an answer within the bound as it is', async () => {
    const body = JSON.stringify({ object: 'list', data: [{ id: 'a', text: 'é'.repeat(1000) }], has_more: false });
    const source = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`\ufeff${body}`));
    const client = createSourceClient({ baseUrl: source.url, apiKey: 'sk-x', maxBodyBytes: Buffer.byteLength(body) + 3 });
    expect(await client.get('/chat/completions')).toEqual(JSON.parse(body));
  });
});

const newTally = newMirrorTally;

const listedCompletion = {
  id: 'chatcmpl-endless',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  metadata: {},
};

/** A source listing one completion whose messages never end: every page has new ids and promises more. */
async function endlessMessages(): Promise<{ url: string; messagePages: () => number }> {
  let messagePages = 0;
  const source = await serve((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.writeHead(200, { 'content-type': 'application/json' });
    if (url.pathname.endsWith('/messages')) {
      const page = messagePages++;
      const data = Array.from({ length: 100 }, (_, i) => ({ id: `m-${page}-${i}`, role: 'user', content: 'hi', name: null, content_parts: null }));
      res.end(JSON.stringify({ object: 'list', data, first_id: data[0]!.id, last_id: data.at(-1)!.id, has_more: true }));
    } else {
      res.end(JSON.stringify({ object: 'list', data: [listedCompletion], first_id: 'chatcmpl-endless', last_id: 'chatcmpl-endless', has_more: false }));
    }
  });
  return { url: source.url, messagePages: () => messagePages };
}

describe('mirror against a source whose messages never end', () => {
  for (const [what, bounds, said] of [
    ['count', { bytes: 256 * 1024 * 1024, count: 1000 }, 'more than 1,000 messages over 11 pages'],
    ['bytes', { bytes: 64 * 1024, count: 1_000_000 }, 'more than 0.06 MiB of messages over \\d+ pages'],
  ] as const) {
    it(`leaves the completion not mirrored past the bound on its messages (${what}), and says so`, async () => {
      const source = await endlessMessages();
      const store = createSqliteStore(openDatabase(':memory:'));
      closers.push(() => store.close());
      const tally = newTally();
      const notes: string[] = [];
      let progress = 0;
      await runMirror(
        {
          source: createSourceClient({ baseUrl: source.url, apiKey: 'sk-x' }),
          store,
          project: 'p',
          filters: { model: undefined, metadata: [], createdAfter: undefined, createdBefore: undefined },
          concurrency: 1,
          checkpointKey: undefined,
          unreadKey: undefined,
          fromStart: false,
          updateMetadata: false,
          messageBounds: bounds,
        },
        tally,
        { onNote: (text) => notes.push(text), onMessagesPage: () => progress++ },
      );
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(
        new RegExp(`^not mirrored chatcmpl-endless: the source answered /chat/completions/chatcmpl-endless/messages with ${said}, more than a completion's request holds; stopped asking for more$`),
      );
      expect([...tally.unread.keys()]).toEqual(['chatcmpl-endless']);
      expect(tally.copied).toBe(0);
      expect(progress).toBeGreaterThan(1);
      expect(source.messagePages()).toBeLessThan(200);
    });
  }
});

/**
 * A source listing `sizes.length` completions (`chatcmpl-0`, `chatcmpl-1`...), each with a reply of that many characters, in pages
 * as `limit` and `after` ask; `limits` records each list request's limit, in order.
 */
async function sourceOfSizes(sizes: number[]): Promise<{ url: string; limits: number[] }> {
  const completions = sizes.map((size, i) => ({
    ...listedCompletion,
    id: `chatcmpl-${i}`,
    created: 1_700_000_000 + i,
    choices: [{ ...listedCompletion.choices[0]!, message: { role: 'assistant', content: 'r'.repeat(size), refusal: null } }],
  }));
  const limits: number[] = [];
  const source = await serve((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.writeHead(200, { 'content-type': 'application/json' });
    const id = /^\/v1\/chat\/completions\/([^/]+)\/messages$/.exec(url.pathname)?.[1];
    if (id !== undefined) {
      const data = [{ id: `${id}-0`, role: 'user', content: 'hi', name: null, content_parts: null }];
      res.end(JSON.stringify({ object: 'list', data, first_id: data[0]!.id, last_id: data[0]!.id, has_more: false }));
      return;
    }
    const limit = Number(url.searchParams.get('limit'));
    limits.push(limit);
    const after = url.searchParams.get('after');
    const start = after === null ? 0 : completions.findIndex((c) => c.id === after) + 1;
    const data = completions.slice(start, start + limit);
    res.end(JSON.stringify({ object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: start + limit < completions.length }));
  });
  return { url: source.url, limits };
}

/** Mirrors `source` into a new in-memory store through a client that reads at most 1 MiB an answer. */
async function mirrorBounded(source: { url: string }, notes: string[]): Promise<{ tally: MirrorTally; run: Promise<void>; stored: () => Promise<string[]> }> {
  const store = createSqliteStore(openDatabase(':memory:'));
  closers.push(() => store.close());
  const tally = newTally();
  const run = runMirror(
    {
      source: createSourceClient({ baseUrl: source.url, apiKey: 'sk-x', maxBodyBytes: 1024 * 1024 }),
      store,
      project: 'p',
      filters: { model: undefined, metadata: [], createdAfter: undefined, createdBefore: undefined },
      concurrency: 2,
      checkpointKey: undefined,
      unreadKey: undefined,
      fromStart: false,
      updateMetadata: false,
    },
    tally,
    { onNote: (text) => notes.push(text) },
  );
  const stored = async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) if (await store.isIdTaken('p', `chatcmpl-${i}`)) ids.push(`chatcmpl-${i}`);
    return ids;
  };
  return { tally, run, stored };
}

describe('mirror against a source whose list pages are larger than an answer may be', () => {
  it('asks for a quarter as many completions a page until the page can be read, and mirrors them all', async () => {
    // 300 KB each: 4 of them are past the client's 1 MiB, 3 are within it.
    const source = await sourceOfSizes(Array.from({ length: 5 }, () => 300_000));
    const notes: string[] = [];
    const { tally, run, stored } = await mirrorBounded(source, notes);
    await run;
    // After a page of one, the next is sized to 8 MiB of answer at that size (27), and asked again for fewer.
    expect(source.limits).toEqual([100, 25, 6, 1, 27, 6, 1, 27]);
    expect(notes).toEqual(['a list page of 100 completions was too large to read at once: asking for fewer a page']);
    expect(tally).toMatchObject({ pages: 3, listed: 5, copied: 5, unread: new Map() });
    expect(await stored()).toEqual(['chatcmpl-0', 'chatcmpl-1', 'chatcmpl-2', 'chatcmpl-3', 'chatcmpl-4']);
  });

  it('stops at a completion too large for an answer alone, naming it, with what was listed before it stored', async () => {
    const source = await sourceOfSizes([10, 1_500_000, 10]);
    const notes: string[] = [];
    const { tally, run, stored } = await mirrorBounded(source, notes);
    const failure = await run.catch((err: unknown) => err);
    // Every run stops at it: said so, not "run again to continue" (src/cli/mirror.ts).
    expect(failure).toBeInstanceOf(SourceStuckError);
    expect((failure as SourceStuckError).message).toBe(
      `the source answered ${source.url}/chat/completions with more than 1 MiB (HTTP 200), more than any page of the API holds; stopped reading it: ` +
        'a page of one completion, the one listed after chatcmpl-0 (chatcmpl-1), which the run cannot list past',
    );
    expect((failure as SourceStuckError).remedy).toBe('as that completion stays as large: a --since later than its created time may start past it');
    expect(source.limits).toEqual([100, 25, 6, 1, 100, 25, 6, 1]);
    expect(tally).toMatchObject({ pages: 1, listed: 1, copied: 1 });
    expect(await stored()).toEqual(['chatcmpl-0']);
  });
});

/** A private folder for a target database, removed after the test. */
function folder(): string {
  const path = mkdtempSync(join(tmpdir(), 'mirror-hostile-'));
  closers.push(async () => rmSync(path, { recursive: true, force: true }));
  return path;
}

const mirror = (from: string, dir: string, ...more: string[]) =>
  runCliInProcess(['mirror', '--from', from, '--source-key', 'sk-source-key-0001', '--key', 'sk-target-key-0001', ...more], { env: { DATABASE_URL: join(dir, 'copy.db') } });

describe('mirror CLI against hostile sources', () => {
  it('does not follow a redirect to another host: stops with exit code 1, naming where it pointed', async () => {
    const elsewhere = await serve((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [listedCompletion], has_more: false })),
    );
    const source = await serve((req, res) => res.writeHead(302, { location: `${elsewhere.url.replace('/v1', '')}${req.url}` }).end());
    const run = await mirror(source.url, folder());
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toBe(
      `stored-completions mirror: the source answered ${source.url}/chat/completions with a redirect (HTTP 302) to ${elsewhere.url}/chat/completions?limit=100&order=asc, which is not followed, ` +
        "--from must be the API's own base URL, where it answers without a redirect (such as https://api.openai.com/v1)\nstopped after 0 copied (they stay; run again to continue)\n",
    );
    expect(elsewhere.requests()).toBe(0);
    expect(source.requests()).toBe(1);
  });

  it('refuses a --from with user:password@ at once as wrong options, never echoing the password', async () => {
    const dir = folder();
    for (const from of ['http://someone:hunter2-secret@127.0.0.1:9/v1', 'https://:hunter2-secret@api.example.com/v1?x=1', 'http://hunter2-secret@127.0.0.1:9/v1']) {
      const run = await mirror(from, dir);
      expect(run).toMatchObject({
        code: 2,
        stderr:
          "stored-completions mirror: --from: expected the API's base URL without user:password@ (credentials in a URL are not sent; the source is read with --source-key)\n" +
          '(stored-completions mirror --help shows the options)\n',
      });
      expect(run.stderr).not.toContain('hunter2');
    }
    const bad = await mirror('http://[::1/v1', dir);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining("--from: expected an http(s) URL, got 'http://[::1/v1', which is not a valid URL\n") });
  });

  it('prints the ids and messages a source chose escaped and cut: no escape sequence, forged line or screenful reaches the terminal', async () => {
    const ids = ['\u001b[31mred', '\u001b]0;pwned\u0007title', 'a\nstored-completions mirror: all good', 'x'.repeat(10_000), 'rtl\u202etxt.exe\u009b2J'];
    const source = await serve((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname.endsWith('/messages')) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `bad \u001b[2J\u001b]0;x\u0007\nforged ${'y'.repeat(5000)}`, type: 'invalid_request_error', param: null, code: null } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: ids.map((id) => ({ ...listedCompletion, id })), has_more: false }));
    });
    const run = await mirror(source.url, folder());
    expect(run.code, run.stderr).toBe(1);
    // C0 and C1 controls, bidi overrides, line separators: none reaches the terminal as itself.
    expect(run.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/);
    const lines = run.stderr.split('\n').filter(Boolean);
    expect(lines.filter((line) => line.startsWith('not mirrored '))).toHaveLength(5);
    // The 5 notes, the summary, the closing line naming the 5: nothing forged in between.
    expect(lines).toHaveLength(7);
    for (const line of lines) expect(line.length).toBeLessThan(2000);
    expect(lines.find((line) => line.startsWith('not mirrored "\\u001b[31mred"'))).toBe(
      `not mirrored "\\u001b[31mred": the source answered HTTP 400: ${JSON.stringify(`bad \u001b[2J\u001b]0;x\u0007\nforged ${'y'.repeat(1000 - 22)}…`)}`,
    );
    expect(lines.at(-1)).toContain(`"\\u001b[31mred", "\\u001b]0;pwned\\u0007title", "a\\nstored-completions mirror: all good", "rtl\\u202etxt.exe\\u009b2J", "${'x'.repeat(200)}…";`);
  });

  it('counts list items that are not objects as not storable, says so and exits 1, rather than passing over them silently', async () => {
    const source = await serve((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.writeHead(200, { 'content-type': 'application/json' });
      if (url.pathname.endsWith('/messages')) {
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'chatcmpl-endless-0', role: 'user', content: 'hi', name: null, content_parts: null }], has_more: false }));
      } else {
        res.end(JSON.stringify({ object: 'list', data: [null, 5, 'str', listedCompletion], has_more: false }));
      }
    });
    const run = await mirror(source.url, folder());
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(
      'skipped item 1 of list page 1: not a completion object but null\nskipped item 2 of list page 1: not a completion object but 5\nskipped item 3 of list page 1: not a completion object but "str"\n',
    );
    expect(run.stderr).toMatch(/^mirror: 1 copied, 0 already there, 0 deleted at the source meanwhile, 3 not storable, 0 not mirrored; 4 listed on 1 page, /m);
    expect(run.stderr).toMatch(
      /\nstored-completions mirror: 3 completions of the source could not be stored here \(why is said above, as "skipped"\): 3 list items that are not objects; the rest is mirrored\n$/,
    );
  });

  it("says the source's error when it answers 200 with an error body instead of a page", async () => {
    const quota = JSON.stringify({ error: { message: 'quota exceeded', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } });
    const source = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(quota));
    const run = await mirror(source.url, folder());
    expect(run).toMatchObject({
      code: 1,
      stderr: 'stored-completions mirror: the source answered its list with an error instead of a page: quota exceeded\nstopped after 0 copied (they stay; run again to continue)\n',
    });
    // The same answer for one completion's messages leaves it not mirrored, saying so.
    const messages = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (new URL(req.url ?? '/', 'http://x').pathname.endsWith('/messages')) res.end(quota);
      else res.end(JSON.stringify({ object: 'list', data: [listedCompletion], has_more: false }));
    });
    const second = await mirror(messages.url, folder());
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).toContain('not mirrored chatcmpl-endless: the source answered /chat/completions/chatcmpl-endless/messages with an error instead of a page: quota exceeded\n');
  });
});

/**
 * A source that lists `ids` and answers each one's messages, but takes the requests for the messages of those
 * `silent` names and answers nothing (or, with `drop`, closes the connection): through every retry. The first
 * `droppedLists` list requests after the first have their connection closed.
 */
async function unanswering(
  ids: string[],
  silent: Set<string>,
  mode: 'no answer' | 'dropped',
  droppedLists = 0,
): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  let lists = 0;
  const source = await serve((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/v1/, '');
    seen.push(path);
    // After the first list (the walk's), the next `droppedLists` list requests have their connection dropped.
    if (path === '/chat/completions' && lists++ > 0 && lists <= droppedLists + 1) {
      req.socket.destroy();
      return;
    }
    const id = decodeURIComponent(path.split('/')[3] ?? '');
    if (path.endsWith('/messages') && silent.has(id)) {
      if (mode === 'dropped') req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (path.endsWith('/messages')) {
      res.end(JSON.stringify({ object: 'list', data: [{ id: `${id}-0`, role: 'user', content: 'hi', name: null, content_parts: null }], has_more: false }));
    } else if (id !== '') {
      res.end(JSON.stringify({ ...listedCompletion, id }));
    } else {
      res.end(JSON.stringify({ object: 'list', data: ids.map((item) => ({ ...listedCompletion, id: item })), has_more: false }));
    }
  });
  return { url: source.url, seen };
}

/**
 * One run of the mirror into project `p` of `store`, with the client's timeout and retries as given (the CLI's
 * 120 s and 8, scaled down); its failure, tally and notes, and when it ended.
 */
async function mirrorOnce(
  url: string,
  store: ReturnType<typeof createSqliteStore>,
  client: { timeoutMs: number; maxRetries: number; initialDelayMs: number },
  concurrency: number,
) {
  const tally = newTally();
  const notes: string[] = [];
  const failure = await runMirror(
    {
      source: createSourceClient({ baseUrl: url, apiKey: 'sk-x', ...client }),
      store,
      project: 'p',
      filters: { model: undefined, metadata: [], createdAfter: undefined, createdBefore: undefined },
      concurrency,
      checkpointKey: 'mirror_position:t',
      unreadKey: 'mirror_unread:t',
      fromStart: false,
      updateMetadata: false,
    },
    tally,
    { onNote: (text) => notes.push(text) },
  ).then(
    () => undefined,
    (err: unknown) => err,
  );
  return { failure, tally, notes, endedAt: performance.now() };
}

describe('mirror against a source that never answers for one completion', () => {
  // Short timeouts and one retry, one completion at a time.
  const runOnce = (url: string, store: ReturnType<typeof createSqliteStore>) =>
    mirrorOnce(url, store, { timeoutMs: 200, maxRetries: 1, initialDelayMs: 1 }, 1);

  for (const [mode, said] of [
    ['no answer', 'no answer within 0.2 s'],
    ['dropped', 'connection failed (UND_ERR_SOCKET)'],
  ] as const) {
    it(`passes it over (${mode}), mirrors the rest, and the next run reads it again`, async () => {
      const silent = new Set(['chatcmpl-b']);
      const source = await unanswering(['chatcmpl-a', 'chatcmpl-b', 'chatcmpl-c'], silent, mode);
      const store = createSqliteStore(openDatabase(':memory:'));
      closers.push(() => store.close());

      const first = await runOnce(source.url, store);
      expect(first.failure).toBeUndefined();
      expect(first.notes).toEqual([`not mirrored chatcmpl-b: giving up on /chat/completions/chatcmpl-b/messages after 2 attempts: ${said}`]);
      expect(first.tally).toEqual({
        ...newTally(),
        pages: 1,
        listed: 3,
        copied: 2,
        unread: new Map([['chatcmpl-b', `giving up on /chat/completions/chatcmpl-b/messages after 2 attempts: ${said}`]]),
      });
      expect(source.seen).toEqual([
        '/chat/completions',
        '/chat/completions/chatcmpl-a/messages',
        '/chat/completions/chatcmpl-b/messages',
        '/chat/completions/chatcmpl-b/messages',
        // Given up on: one list request tells whether the source is down (it answers: only this one fails).
        '/chat/completions',
        '/chat/completions/chatcmpl-c/messages',
      ]);
      expect(await store.getSetting('mirror_unread:t')).toBe('["chatcmpl-b"]');
      expect([await store.isIdTaken('p', 'chatcmpl-a'), await store.isIdTaken('p', 'chatcmpl-b'), await store.isIdTaken('p', 'chatcmpl-c')]).toEqual([true, false, true]);

      // The source answers for it again: the next run reads it by id before listing on (from the start: all three are
      // within the look-back), and the copy is whole.
      silent.clear();
      source.seen.length = 0;
      const second = await runOnce(source.url, store);
      expect(second.failure).toBeUndefined();
      expect(second.notes).toEqual([]);
      expect(second.tally).toEqual({ ...newTally(), pages: 1, listed: 3, copied: 1, present: 2 });
      expect(source.seen).toEqual(['/chat/completions/chatcmpl-b', '/chat/completions/chatcmpl-b/messages', '/chat/completions']);
      expect(await store.getSetting('mirror_unread:t')).toBe('[]');
      expect(await store.isIdTaken('p', 'chatcmpl-b')).toBe(true);
    });
  }

  it('passes it over when the list request after it fails on a dropped connection and answers on a new one', async () => {
    // The list request after the give-up finds its connection dropped (as a kept-alive one the source closed while idle).
    const source = await unanswering(['chatcmpl-a', 'chatcmpl-b', 'chatcmpl-c'], new Set(['chatcmpl-b']), 'dropped', 1);
    const store = createSqliteStore(openDatabase(':memory:'));
    closers.push(() => store.close());
    const run = await runOnce(source.url, store);
    expect(run.failure).toBeUndefined();
    expect(run.notes).toEqual(['not mirrored chatcmpl-b: giving up on /chat/completions/chatcmpl-b/messages after 2 attempts: connection failed (UND_ERR_SOCKET)']);
    // After the walk's list and the messages of a, then b twice: the list request, dropped, then on a new connection.
    expect(source.seen.slice(4)).toEqual(['/chat/completions', '/chat/completions', '/chat/completions/chatcmpl-c/messages']);
    expect(run.tally.copied).toBe(2);
  });

  it('still stops the run when the source answers for no completion at all: 5 in a row, not every one', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `chatcmpl-${i}`);
    const source = await unanswering(ids, new Set(ids), 'dropped');
    const store = createSqliteStore(openDatabase(':memory:'));
    closers.push(() => store.close());
    const run = await runOnce(source.url, store);
    expect(run.failure).toBeInstanceOf(SourceError);
    expect((run.failure as SourceError).message).toBe('the source gave up on 5 completions in a row: it seems down or overloaded; run again once it answers');
    expect(run.notes).toEqual(
      ids.slice(0, 5).map((id) => `not mirrored ${id}: giving up on /chat/completions/${id}/messages after 2 attempts: connection failed (UND_ERR_SOCKET)`),
    );
    expect(source.seen.filter((path) => path.endsWith('/messages'))).toHaveLength(10);
    expect(run.tally.copied).toBe(0);
  });
});

/**
 * A source of `count` completions (created one second apart, listed 100 a page) that stops answering after `answered`
 * messages requests: it refuses connections (its listener closed) or takes each request and never answers. `revive`
 * has it answer again, on the same port.
 */
async function dyingSource(count: number, answeredFirst: number, how: 'refused' | 'no answer') {
  const ids = Array.from({ length: count }, (_, n) => `chatcmpl-${String(n).padStart(3, '0')}`);
  let messagesRequests = 0;
  let answered = answeredFirst;
  let up = true;
  let diedAt = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/v1/, '');
    if (!up) return;
    if (path.endsWith('/messages') && ++messagesRequests > answered) {
      up = false;
      diedAt = performance.now();
      if (how === 'refused') {
        server.close();
        server.closeAllConnections();
      }
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    const id = decodeURIComponent(path.split('/')[3] ?? '');
    if (path.endsWith('/messages')) {
      res.end(JSON.stringify({ object: 'list', data: [{ id: `${id}-0`, role: 'user', content: `hi ${id}`, name: null, content_parts: null }], has_more: false }));
      return;
    }
    const after = url.searchParams.get('after');
    const start = after === null ? 0 : ids.indexOf(after) + 1;
    const page = ids.slice(start, start + Number(url.searchParams.get('limit') ?? 20));
    const data = page.map((item) => ({ ...listedCompletion, id: item, created: 1_700_000_000 + ids.indexOf(item) }));
    res.end(JSON.stringify({ object: 'list', data, has_more: start + page.length < ids.length }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  closers.push(async () => {
    server.closeAllConnections();
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `http://127.0.0.1:${port}/v1`,
    ids,
    diedAt: () => diedAt,
    async revive() {
      up = true;
      answered = Infinity;
      if (server.listening) return;
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
  };
}

describe('mirror against a source that dies mid-run', () => {
  // The CLI's concurrency, and a completion given up on after 4 attempts.
  const runOnce = (url: string, store: ReturnType<typeof createSqliteStore>) =>
    mirrorOnce(url, store, { timeoutMs: 500, maxRetries: 3, initialDelayMs: 50 }, 4);

  /** Every id the project holds, in list order, and the input each was stored with. */
  async function stored(store: ReturnType<typeof createSqliteStore>): Promise<string[]> {
    const ids: string[] = [];
    for (let after: string | undefined; ; ) {
      const page = await store.listCompletions('p', { after, limit: 100, order: 'asc', model: undefined, metadata: [] });
      ids.push(...page.items.map((row) => row.id));
      if (!page.hasMore) break;
      after = ids.at(-1);
    }
    const messages = await store.listMessagesOf('p', ids);
    for (const id of ids) expect(messages.get(id)!.map((m) => JSON.parse(m.body).content)).toEqual([`hi ${id}`]);
    return ids;
  }

  for (const [how, said] of [
    ['refused', /connection failed \(ECONNREFUSED\)/],
    ['no answer', /no answer within 0\.5 s/],
  ] as const) {
    it(`stops at the first completion given up on when a list request right after fails too (${how}), and a run again completes`, async () => {
      // Dies 30 completions into the second list page.
      const source = await dyingSource(250, 130, how);
      const store = createSqliteStore(openDatabase(':memory:'));
      closers.push(() => store.close());

      const first = await runOnce(source.url, store);
      expect(first.failure).toBeInstanceOf(SourceError);
      const message = (first.failure as SourceError).message;
      expect(message).toMatch(/^the source stopped answering \(giving up on \/chat\/completions\/chatcmpl-1\d\d\/messages after 4 attempts: /);
      expect(message).toMatch(new RegExp(`; a list request right after: ${said.source}\\): run again once it answers$`));
      // Nothing said of a completion: not one was passed over, and the reads in flight ended with the stop.
      expect(first.notes).toEqual([]);
      expect(first.tally).toEqual({ ...newTally(), pages: 2, listed: 200, copied: 100 });
      // One completion's retries (4 attempts, 2.3 s without an answer) and the list request, with room for a loaded machine.
      expect((first.endedAt - source.diedAt()) / 1000).toBeLessThan(10);
      expect(await stored(store)).toEqual(source.ids.slice(0, 100));
      expect(JSON.parse((await store.getSetting('mirror_position:t'))!)).toEqual({ ends: [[1_700_000_099, 'chatcmpl-099']] });

      await source.revive();
      const second = await runOnce(source.url, store);
      expect(second.failure).toBeUndefined();
      expect(second.notes).toEqual([]);
      // Within the look-back: listed from the start, the first page's passed over as already here.
      expect(second.tally).toEqual({ ...newTally(), pages: 3, listed: 250, copied: 150, present: 100 });
      expect(await stored(store)).toEqual(source.ids);
    });
  }
});
