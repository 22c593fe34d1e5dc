import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request as httpRequest, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { withKeyOrder } from '../src/key-order.ts';
import { toCompletionRecord } from '../src/wire.ts';
import { runCli, runCliInProcess } from './helpers/cli.ts';
import { type FakeUpstream, listenOnLoopback } from './helpers/fake-upstream.ts';
import { DEFAULT_KEY, type Service, startService } from './helpers/service.ts';
import { projectOf, type SourceSetup, useSourceEachTest } from './helpers/source-service.ts';
import { storeVariety } from './helpers/variety.ts';

let upstream: FakeUpstream;
let source: Service;
let folder: string;
let later: SourceSetup['later'];

useSourceEachTest((setup) => ({ upstream, source, folder, later } = setup));


/** The variety through the official client, 240 more written directly (three list pages), one with 130 input messages (two message pages). */
async function fillSource(): Promise<number> {
  const ids = await storeVariety(source, upstream);
  const project = await projectOf(source, DEFAULT_KEY);
  const records = Array.from({ length: 240 }, (_, i) =>
    toCompletionRecord({
      request: {
        model: 'gpt-4o-mini',
        messages: Array.from({ length: i === 0 ? 130 : 2 }, (_, m) => ({ role: m % 2 ? 'assistant' : 'user', content: `turn ${m} of ${i}` })),
      },
      response: {
        id: 'x',
        object: 'chat.completion',
        created: 1_700_001_000 + Math.floor(i / 3),
        model: 'gpt-4o-mini-2024-07-18',
        choices: [{ index: 0, message: { role: 'assistant', content: `reply ${i}`, refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      },
      id: `chatcmpl-bulk${String(i).padStart(4, '0')}`,
      requestId: `req_${String(i).padStart(32, '0')}`,
      // Every seventh with a key an object moves first (`"2024"`): the source serves it where it was written, after `batch`.
      metadata: i % 7 === 6 ? withKeyOrder({ batch: String(i % 4), 2024: 'q' }, ['batch', '2024']) : { batch: String(i % 4) },
      now: 1_700_001_000,
    }),
  );
  await source.store.saveCompletions(project, records);
  return ids.length + records.length;
}

interface Proxy {
  url: string;
  requests: number;
  /** Answers given instead of the source's: 429s, 503s and dropped connections. */
  faults: string[];
}

/**
 * A proxy in front of the source that answers 429 with Retry-After now and
 * then, a 503 once, and drops one connection without answering.
 */
async function startFlakyProxy(target: string, delayMs = 0): Promise<Proxy> {
  const proxy: Proxy = { url: '', requests: 0, faults: [] };
  const server = createServer((req, res) => {
    const n = ++proxy.requests;
    if (n === 2) {
      proxy.faults.push('429 Retry-After: 1');
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } }));
      return;
    }
    if (n % 25 === 0) {
      proxy.faults.push('429 retry-after-ms: 20');
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '20', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } }));
      return;
    }
    if (n === 6) {
      proxy.faults.push('503');
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html><body>Service Unavailable</body></html>');
      return;
    }
    if (n === 9) {
      proxy.faults.push('dropped');
      req.socket.destroy();
      return;
    }
    setTimeout(() => forward(target, req, res), delayMs);
  });
  const listening = await listenOnLoopback(server);
  later(listening.close);
  proxy.url = listening.url;
  return proxy;
}

function forward(target: string, req: IncomingMessage, res: ServerResponse): void {
  const forwarded = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (upstreamRes) => {
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
    upstreamRes.pipe(res);
  });
  forwarded.on('error', () => res.destroy());
  req.pipe(forwarded);
}

/** OpenAI's answer when overloaded; retried at once, as it asks. */
function overloaded(res: ServerResponse): void {
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after-ms': '0' });
  res.end(JSON.stringify({ error: { message: 'The engine is currently overloaded', type: 'server_error', param: null, code: null } }));
}

/**
 * A proxy in front of the source that answers the paths in `broken` (without their query) itself,
 * every time, for as long as they are there; every other request goes through.
 */
async function startBrokenProxy(target: string, broken: Map<string, (res: ServerResponse) => void>): Promise<Proxy & { seen: string[] }> {
  const proxy = { url: '', requests: 0, faults: [] as string[], seen: [] as string[] };
  const server = createServer((req, res) => {
    proxy.requests++;
    const path = (req.url ?? '').split('?')[0]!;
    proxy.seen.push(path);
    const answer = broken.get(path);
    if (answer) {
      proxy.faults.push(path);
      answer(res);
      return;
    }
    forward(target, req, res);
  });
  const listening = await listenOnLoopback(server);
  later(listening.close);
  proxy.url = listening.url;
  return proxy;
}

/** A proxy that holds every request until `letGo`: a mirror run through it is under way and cannot finish meanwhile. */
async function startHeldProxy(): Promise<{ url: string; letGo: () => void; held: () => number }> {
  let letGo!: () => void;
  const gate = new Promise<void>((resolve) => (letGo = resolve));
  let held = 0;
  const server = createServer((req, res) => {
    held++;
    void gate.then(() => forward(source.origin, req, res));
  });
  const listening = await listenOnLoopback(server);
  // Let go before closing, so the connections held end.
  later(async () => {
    letGo();
    await listening.close();
  });
  return { url: listening.url, letGo, held: () => held };
}

async function exportOf(service: Service): Promise<string> {
  const res = await service.request('/v1/stored-completions/export');
  expect(res.status).toBe(200);
  return res.text();
}

async function startCopy(path: string): Promise<Service> {
  const copy = await startService({ upstreamUrl: upstream.url, databasePath: path });
  later(() => copy.stop());
  return copy;
}

const mirrorArgs = (proxy: Proxy) => ['mirror', '--from', proxy.url, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY];

describe('mirror', () => {
  it('copies everything the source lists, through 429s, a 503 and a dropped connection; a second run copies nothing', async () => {
    const total = await fillSource();
    const proxy = await startFlakyProxy(source.origin);
    const target = join(folder, 'copy.db');
    const started = Date.now();
    const run = await runCli(mirrorArgs(proxy), { env: { DATABASE_URL: target } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`mirror: ${total} copied, 0 already there`));
    expect(proxy.faults).toEqual(expect.arrayContaining(['429 Retry-After: 1', '503', 'dropped', '429 retry-after-ms: 20']));
    expect(run.stderr).toMatch(/retrying \/chat\/completions\S* in 1\.0 s: HTTP 429 \(Rate limit reached\)\n/);
    expect(Date.now() - started).toBeGreaterThan(1000);

    const copy = await startCopy(target);
    expect(await exportOf(copy)).toBe(await exportOf(source));
    for (const path of ['/v1/chat/completions/chatcmpl-bulk0000/messages?limit=100', '/v1/chat/completions?limit=100&order=desc', '/v1/chat/completions/chatcmpl-stream-1']) {
      expect(await (await copy.request(path)).text()).toBe(await (await source.request(path)).text());
    }

    // Run again: the whole history is within the hour a resumed run lists again, and nothing in it is new.
    const again = await runCli(mirrorArgs(proxy), { env: { DATABASE_URL: target } });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`^mirror: 0 copied, ${total} already there`, 'm'));
    // From the start: everything is listed again, nothing is fetched or stored twice.
    const requestsBefore = proxy.requests;
    const fromStart = await runCliInProcess([...mirrorArgs(proxy), '--from-start'], { env: { DATABASE_URL: target } });
    expect(fromStart.stderr).toMatch(new RegExp(`^mirror: 0 copied, ${total} already there`));
    expect(proxy.requests - requestsBefore).toBeLessThan(6);
    expect(await exportOf(copy)).toBe(await exportOf(source));
  });

  it('passes over ids a source lists twice (on two pages, or twice on one): counted and fetched once, none taken as already there', async () => {
    const total = await fillSource();
    // A source whose pages overlap: each page after the first opens with the completion the page before ended with,
    // and lists its own second completion twice.
    const messageRequests = new Map<string, number>();
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const messages = /^\/v1\/chat\/completions\/([^/]+)\/messages$/.exec(url.pathname);
      if (messages) messageRequests.set(messages[1]!, (messageRequests.get(messages[1]!) ?? 0) + 1);
      if (url.pathname !== '/v1/chat/completions') return forward(source.origin, req, res);
      void (async () => {
        const after = url.searchParams.get('after');
        const page = JSON.parse(await (await source.request(`/v1/chat/completions${url.search}`)).text()) as { data: { id: string }[]; has_more: boolean };
        const ids = page.data.map((item) => item.id);
        if (ids.length > 1) ids.splice(1, 0, ids[1]!);
        if (after !== null) ids.unshift(after);
        // Each item as retrieve serves it, text for text: parsed and written again, integers past 2^53 would change.
        const items = await Promise.all(ids.map(async (id) => (await source.request(`/v1/chat/completions/${id}`)).text()));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"object":"list","data":[${items.join(',')}],"first_id":${JSON.stringify(ids[0])},"last_id":${JSON.stringify(ids.at(-1))},"has_more":${page.has_more}}`);
      })();
    });
    const proxy = await listenOnLoopback(server);
    later(proxy.close);
    const target = join(folder, 'copy.db');
    const run = await runCliInProcess(['mirror', '--from', proxy.url, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], { env: { DATABASE_URL: target } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`^mirror: ${total} copied, 0 already there, 0 deleted at the source meanwhile, 0 not storable, 0 not mirrored; ${total} listed on 3 pages, `, 'm'));
    expect(messageRequests.size).toBe(total);
    // One request a completion, but chatcmpl-bulk0000's 130 messages take two pages.
    expect([...messageRequests].filter(([, n]) => n !== 1)).toEqual([['chatcmpl-bulk0000', 2]]);
    const copy = await startCopy(target);
    expect(await exportOf(copy)).toBe(await exportOf(source));
  });

  it('interrupted midway, continues when run again and stores nothing twice', async () => {
    const total = await fillSource();
    const proxy = await startFlakyProxy(source.origin, 5);
    const target = join(folder, 'copy.db');
    const killed = await runCli(mirrorArgs(proxy), {
      env: { DATABASE_URL: target },
      onSpawn: (child) => {
        const timer = setInterval(() => {
          // Past the first list page and a good part of its messages: the second page is under way.
          if (proxy.requests > 140) {
            clearInterval(timer);
            child.kill('SIGKILL');
          }
        }, 5);
      },
    });
    expect(killed.code).toBe(null);

    const copy = await startService({ upstreamUrl: upstream.url, databasePath: target });
    const partial = (await exportOf(copy)).split('\n').filter(Boolean).length;
    await copy.stop();
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(total);

    const resumed = await runCli(mirrorArgs(proxy), { env: { DATABASE_URL: target } });
    expect(resumed.code, resumed.stderr).toBe(0);
    // The position was kept after the last page stored (unless the kill fell between storing a page and keeping its position).
    expect(resumed.stderr).toMatch(new RegExp(`mirror( \\(resumed from the last run, an hour back\\))?: ${total - partial} copied, \\d+ already there`));
    const whole = await startCopy(target);
    expect(await exportOf(whole)).toBe(await exportOf(source));
  });

  it('runs one at a time: a second run of the same mirror while one is under way stops at once with exit code 1, and the first completes', async () => {
    const total = await fillSource();
    const { url, letGo, held } = await startHeldProxy();
    const args = ['mirror', '--from', url, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY];
    const env = { DATABASE_URL: join(folder, 'copy.db') };
    const first = runCli(args, { env });
    await expect.poll(held, { timeout: 20_000 }).toBeGreaterThan(0);

    const second = await runCli(args, { env });
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(`^stored-completions mirror: another mirror of ${url.replace(/[.]/g, '\\.')} into project "\\S+" with these filters is running \\(since \\S+, pid \\d+ on \\S+\\): not started`),
    );
    expect(held()).toBe(1);

    letGo();
    const done = await first;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toMatch(new RegExp(`^mirror: ${total} copied, 0 already there`, 'm'));
    // Given back at the end: the next run goes ahead.
    const third = await runCli(args, { env });
    expect(third.code, third.stderr).toBe(0);
    expect(third.stderr).toMatch(new RegExp(`^mirror: 0 copied, ${total} already there`, 'm'));
  });

  it('gives its claim back when stopped with Ctrl-C (SIGINT), then dies of the signal (a shell loop running it stops too)', async () => {
    await fillSource();
    const { url, held } = await startHeldProxy();
    const target = join(folder, 'copy.db');
    const stopped = await runCli(['mirror', '--from', url, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], {
      env: { DATABASE_URL: target },
      onSpawn: (child) => void expect.poll(held, { timeout: 20_000 }).toBeGreaterThan(0).then(() => child.kill('SIGINT')),
    });
    expect({ code: stopped.code, signal: stopped.signal }, stopped.stderr).toEqual({ code: null, signal: 'SIGINT' });
    expect(stopped.stderr).toMatch(/^stored-completions: stopped by SIGINT$/m);
    const db = openDatabase(target);
    try {
      // The position and list of ids to read again are named by the same digest as the claim; only the claim is gone.
      expect(db.prepare("SELECT key FROM settings WHERE key LIKE 'mirror_lease:%'").all()).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('carries on past completions the source fails on, names them, exits 1, and reads them again on the next run', async () => {
    const total = await fillSource();
    const messagesOf = (id: string) => `/v1/chat/completions/${id}/messages`;
    const broken = new Map<string, (res: ServerResponse) => void>([
      // Cut off mid-body, every time.
      [messagesOf('chatcmpl-bulk0050'), (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":')],
      [
        messagesOf('chatcmpl-bulk0150'),
        (res) => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Invalid completion', type: 'invalid_request_error', param: null, code: null } })),
      ],
      // JSON, but not a page of messages: stored as it was, the completion would have no input messages.
      [messagesOf('chatcmpl-bulk0200'), (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list"}')],
      // Overloaded for this one completion, through every retry.
      [messagesOf('chatcmpl-bulk0120'), overloaded],
      // Deleted at the source after it was listed: left out, not a failure, not read again.
      [
        messagesOf('chatcmpl-bulk0100'),
        (res) => res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'No chat completion found', type: 'invalid_request_error', param: null, code: null } })),
      ],
    ]);
    const proxy = await startBrokenProxy(source.origin, broken);
    const target = join(folder, 'copy.db');
    const args = ['mirror', '--from', proxy.url, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY];
    const notes = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('not mirrored')).sort();
    const expectedNotes = [
      `not mirrored chatcmpl-bulk0050: the source answered ${proxy.url}/chat/completions/chatcmpl-bulk0050/messages with application/json that is not a JSON object (HTTP 200)`,
      'not mirrored chatcmpl-bulk0120: giving up on /chat/completions/chatcmpl-bulk0120/messages after 9 attempts: HTTP 503 (The engine is currently overloaded)',
      'not mirrored chatcmpl-bulk0150: the source answered HTTP 400: Invalid completion',
      'not mirrored chatcmpl-bulk0200: the source answered /chat/completions/chatcmpl-bulk0200/messages without a "data" array',
    ];
    const failedLine =
      'stored-completions mirror: 4 completions were not mirrored (the source failed on them, as said above): chatcmpl-bulk0050, chatcmpl-bulk0120, chatcmpl-bulk0150, chatcmpl-bulk0200; ' +
      'the rest is mirrored, and the next run tries these again\n';

    const first = await runCliInProcess(args, { env: { DATABASE_URL: target } });
    expect(first.code, first.stderr).toBe(1);
    expect(notes(first.stderr)).toEqual(expectedNotes);
    expect(first.stderr).toMatch(new RegExp(`^mirror: ${total - 5} copied, 0 already there, 1 deleted at the source meanwhile, 0 not storable, 4 not mirrored; ${total} listed on 3 pages, `, 'm'));
    expect(first.stderr.endsWith(failedLine)).toBe(true);
    const sourceLines = (await exportOf(source)).split('\n').filter(Boolean);
    const missing = (line: string) => /"id":"chatcmpl-bulk0(050|100|120|150|200)"/.test(line);
    const copy = await startCopy(target);
    expect((await exportOf(copy)).split('\n').filter(Boolean)).toEqual(sourceLines.filter((line) => !missing(line)));

    // Still failing: read again (by id) and named again; of the rest (listed again, all within the look-back) only the
    // one deleted at the source is fetched again, being not here.
    proxy.seen.length = 0;
    const second = await runCliInProcess(args, { env: { DATABASE_URL: target } });
    expect(second.code, second.stderr).toBe(1);
    expect(notes(second.stderr)).toEqual(expectedNotes);
    expect(second.stderr).toMatch(new RegExp(`^mirror: 0 copied, ${total - 5} already there, 1 deleted at the source meanwhile, 0 not storable, 4 not mirrored; `, 'm'));
    expect(second.stderr.endsWith(failedLine)).toBe(true);
    expect(proxy.seen.filter((path) => path.endsWith('/messages')).sort()).toEqual(
      ['chatcmpl-bulk0050', 'chatcmpl-bulk0100', ...Array<string>(9).fill('chatcmpl-bulk0120'), 'chatcmpl-bulk0150', 'chatcmpl-bulk0200'].map(messagesOf),
    );

    // The source mends: the next run stores them, and the copy is whole.
    broken.clear();
    expect((await source.request('/v1/chat/completions/chatcmpl-bulk0100', { method: 'DELETE' })).status).toBe(200);
    // From the start, so the walk lists the 4 again: each is counted once, as copied, not again as already there.
    const third = await runCliInProcess([...args, '--from-start'], { env: { DATABASE_URL: target } });
    expect(third.code, third.stderr).toBe(0);
    expect(third.stderr).toMatch(new RegExp(`^mirror: 4 copied, ${total - 5} already there, 0 deleted at the source meanwhile, 0 not storable, 0 not mirrored; ${total - 1} listed on 3 pages, `));
    expect(await exportOf(copy)).toBe(await exportOf(source));
    const fourth = await runCliInProcess(args, { env: { DATABASE_URL: target } });
    expect(fourth.code, fourth.stderr).toBe(0);
    expect(fourth.stderr).toMatch(new RegExp(`^mirror: 0 copied, ${total - 1} already there, `));
  });

  it('names a completion it cannot store and exits 1, the rest mirrored: a copy with a hole must not pass for a whole one', async () => {
    const total = await fillSource();
    // A source more permissive than this service (17 metadata pairs): written into its database directly.
    const project = await projectOf(source, DEFAULT_KEY);
    const record = toCompletionRecord({
      request: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'many tags' }] },
      response: { id: 'x', object: 'chat.completion', created: 1_700_002_000, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'ok', refusal: null }, logprobs: null, finish_reason: 'stop' }] },
      id: 'chatcmpl-seventeen-pairs',
      requestId: 'req_seventeen',
      metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])),
      now: 1_700_002_000,
    });
    await source.store.saveCompletions(project, [record]);
    const target = join(folder, 'copy.db');
    const run = await runCliInProcess(['mirror', '--from', `${source.origin}/v1`, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], { env: { DATABASE_URL: target } });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(
      "skipped chatcmpl-seventeen-pairs: Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead.\n",
    );
    expect(run.stderr).toMatch(new RegExp(`^mirror: ${total} copied, 0 already there, 0 deleted at the source meanwhile, 1 not storable, 0 not mirrored; ${total + 1} listed on `, 'm'));
    expect(run.stderr.endsWith(
      'stored-completions mirror: 1 completion of the source could not be stored here (why is said above, as "skipped"): chatcmpl-seventeen-pairs; the rest is mirrored\n',
    )).toBe(true);
  });

  it('with --update-metadata, completions already here take the metadata edited at the source since, and nothing else changes', async () => {
    const total = await fillSource();
    const proxy = await startFlakyProxy(source.origin);
    const target = join(folder, 'copy.db');
    const first = await runCliInProcess(mirrorArgs(proxy), { env: { DATABASE_URL: target } });
    expect(first.code, first.stderr).toBe(0);

    const retag = async (id: string, metadata: Record<string, string>) => {
      const res = await source.request(`/v1/chat/completions/${id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ metadata }) });
      expect(res.status).toBe(200);
    };
    await retag('chatcmpl-bulk0001', { batch: '1', reviewed: 'yes' });
    await retag('chatcmpl-bulk0002', {});
    await retag('chatcmpl-bulk0003', { batch: '3' }); // the same map again: nothing to write
    await retag('chatcmpl-bulk0004', { batch: 'gone' });
    // A map whose written order a parsed object changes: it must reach the copy in that order (`"7"` after `reviewed`).
    const raw = await source.request('/v1/chat/completions/chatcmpl-bulk0005', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"metadata":{"reviewed":"yes","7":"seven"}}' });
    expect(await raw.text()).toContain('"metadata":{"reviewed":"yes","7":"seven"}');
    const copy = await startCopy(target);
    // Deleted here after the first run: it stays deleted, whatever its tags at the source.
    expect((await copy.request('/v1/chat/completions/chatcmpl-bulk0004', { method: 'DELETE' })).status).toBe(200);

    // Without the option, a run lists on from its position (an hour back) and leaves the maps as they were.
    const plain = await runCliInProcess(mirrorArgs(proxy), { env: { DATABASE_URL: target } });
    expect(plain.stderr).toMatch(new RegExp(`^mirror: 0 copied, ${total} already there, `));
    expect(await (await copy.request('/v1/chat/completions/chatcmpl-bulk0001')).json()).toMatchObject({ metadata: { batch: '1' } });

    const updating = await runCliInProcess([...mirrorArgs(proxy), '--update-metadata'], { env: { DATABASE_URL: target } });
    expect(updating.code, updating.stderr).toBe(0);
    expect(updating.stderr).toMatch(new RegExp(`^mirror: 0 copied, ${total} already there \\(3 took the source's metadata\\), `));
    for (const id of ['chatcmpl-bulk0001', 'chatcmpl-bulk0002', 'chatcmpl-bulk0003', 'chatcmpl-bulk0005']) {
      const path = `/v1/chat/completions/${id}`;
      expect(await (await copy.request(path)).text()).toBe(await (await source.request(path)).text());
    }
    expect((await copy.request('/v1/chat/completions/chatcmpl-bulk0004')).status).toBe(404);
    const withoutDeleted = (await exportOf(source)).split('\n').filter((line) => !line.includes('"chatcmpl-bulk0004"'));
    expect((await exportOf(copy)).split('\n')).toEqual(withoutDeleted);
    expect(await (await copy.request('/v1/chat/completions?metadata[reviewed]=yes')).json()).toMatchObject({ data: [{ id: 'chatcmpl-bulk0001' }, { id: 'chatcmpl-bulk0005' }] });
  });

  it('copies only what the filters and --since select', async () => {
    await fillSource();
    const proxy = await startFlakyProxy(source.origin);
    const target = join(folder, 'copy.db');
    const run = await runCliInProcess([...mirrorArgs(proxy), '--metadata', 'batch=2', '--since', '1700001040'], { env: { DATABASE_URL: target } });
    expect(run.code, run.stderr).toBe(0);
    const copy = await startCopy(target);
    const expected = (await (await source.request('/v1/stored-completions/export?metadata[batch]=2&created_after=1700001040')).text());
    expect(expected.split('\n').filter(Boolean).length).toBe(30);
    expect(await exportOf(copy)).toBe(expected);
  });

  it('with --since near the end, lists the pages from --since on and a few newest-first, not the whole history, and says so', async () => {
    await fillSource();
    const proxy = await startBrokenProxy(source.origin, new Map());
    const target = join(folder, 'copy.db');
    const run = await runCliInProcess([...mirrorArgs(proxy), '--since', '1700001070'], { env: { DATABASE_URL: target } });
    expect(run.code, run.stderr).toBe(0);
    const lists = proxy.seen.filter((path) => path === '/v1/chat/completions');
    expect(run.stderr).toMatch(/^mirror: 30 copied, 0 already there, .* listed on 2 pages \(and 1 page newest-first to find where --since begins\), /m);
    expect(lists).toHaveLength(3);
    const copy = await startCopy(target);
    expect(await exportOf(copy)).toBe(await (await source.request('/v1/stored-completions/export?created_after=1700001070')).text());
  });

  it('applies --metadata itself when the source lists without filtering by it (a compatible server without the filter)', async () => {
    const total = await fillSource();
    // A source that knows no metadata filter: the list's metadata[...] parameters never reach it.
    const server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://source');
      for (const name of [...url.searchParams.keys()]) if (name.startsWith('metadata[')) url.searchParams.delete(name);
      req.url = `${url.pathname}${url.search}`;
      forward(source.origin, req, res);
    });
    const unfiltering = await listenOnLoopback(server);
    later(unfiltering.close);
    const target = join(folder, 'copy.db');
    const run = await runCliInProcess([...mirrorArgs({ url: unfiltering.url, requests: 0, faults: [] }), '--metadata', 'batch=2'], { env: { DATABASE_URL: target } });
    expect(run.code, run.stderr).toBe(0);
    const expected = await (await source.request('/v1/stored-completions/export?metadata[batch]=2')).text();
    const kept = expected.split('\n').filter(Boolean).length;
    expect(kept).toBe(60);
    expect(run.stderr).toMatch(
      new RegExp(`^mirror: ${kept} copied, 0 already there, 0 deleted at the source meanwhile, ${total - kept} left out for lacking the --metadata pairs \\(the source did not filter by them\\), 0 not storable, 0 not mirrored; ${total} listed on `, 'm'),
    );
    expect(await exportOf(await startCopy(target))).toBe(expected);
  });

  it('stops when the source gives up on completion after completion (down or overloaded), keeping what it stored', async () => {
    await fillSource();
    const broken = new Map<string, (res: ServerResponse) => void>();
    for (let i = 0; i < 240; i++) broken.set(`/v1/chat/completions/chatcmpl-bulk${String(i).padStart(4, '0')}/messages`, overloaded);
    const proxy = await startBrokenProxy(source.origin, broken);
    const run = await runCliInProcess(mirrorArgs(proxy), { env: { DATABASE_URL: join(folder, 'copy.db') } });
    expect(run.code, run.stderr).toBe(1);
    // The fifth stops it; the (at most three) other fetches in flight end first, and no other starts.
    const named = run.stderr.split('\n').filter((line) => line.startsWith('not mirrored')).length;
    expect(named).toBeGreaterThanOrEqual(5);
    expect(named).toBeLessThanOrEqual(5 + 3);
    expect(new Set(proxy.faults).size).toBe(named);
    expect(run.stderr).toMatch(
      /\nstored-completions mirror: the source gave up on 5 completions in a row: it seems down or overloaded; run again once it answers\nstopped after 0 copied \(they stay; run again to continue\)\n$/,
    );
  });

  it('a later run finds a completion the source listed after the last run with an earlier created time (one still being generated then)', async () => {
    await fillSource();
    const project = await projectOf(source, DEFAULT_KEY);
    const late = (id: string, created: number) =>
      toCompletionRecord({
        request: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `late ${id}` }] },
        response: { id: 'x', object: 'chat.completion', created, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'slow' }, finish_reason: 'stop' }] },
        id,
        requestId: `req_${'f'.repeat(32)}`,
        metadata: {},
        now: created,
      });
    // Three hours after the history: a later run resumes an hour back from here, not from the start.
    await source.store.saveCompletions(project, [late('chatcmpl-newest', 1_700_012_000)]);
    const target = join(folder, 'copy.db');
    const args = ['mirror', '--from', source.baseURL, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY];
    expect((await runCliInProcess(args, { env: { DATABASE_URL: target } })).code).toBe(0);
    // Begun ten minutes before the newest one listed, stored (so listed) only now.
    await source.store.saveCompletions(project, [late('chatcmpl-slow', 1_700_011_400)]);
    const again = await runCliInProcess(args, { env: { DATABASE_URL: target } });
    expect(again.code, again.stderr).toBe(0);
    // From the end of the last page that ended over an hour before the newest: only the third page is listed again.
    expect(again.stderr).toMatch(/^mirror \(resumed from the last run, an hour back\): 1 copied, 47 already there, .*; 48 listed on 1 page, /);
    const copy = await startCopy(target);
    expect(await exportOf(copy)).toBe(await exportOf(source));
  });

  it('stops asking a source that does not page by after (answers the same page again) instead of asking forever', async () => {
    await fillSource();
    // A source that drops `after` from every request: each next page of the list, and of chatcmpl-bulk0000's 130 messages, is the first again.
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      url.searchParams.delete('after');
      req.url = url.pathname + url.search;
      forward(source.origin, req, res);
    });
    const proxy = await listenOnLoopback(server);
    later(proxy.close);
    const run = await runCli(['mirror', '--from', proxy.url, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], {
      env: { DATABASE_URL: join(folder, 'copy.db') },
      // The old walk never ended: stopped here, it has no exit code.
      onSpawn: (child) => setTimeout(() => child.kill('SIGKILL'), 20_000).unref(),
    });
    expect(run.code, run.stderr).toBe(1);
    const firstPage = JSON.parse(await (await source.request('/v1/chat/completions?limit=100')).text()) as { data: { id: string }[] };
    const firstIds = firstPage.data.map((item) => item.id);
    expect(firstIds).toContain('chatcmpl-bulk0000');
    const lastId = JSON.stringify(firstIds.at(-1));
    expect(run.stderr).toContain(
      `not mirrored chatcmpl-bulk0000: the source answered /chat/completions/chatcmpl-bulk0000/messages after "chatcmpl-bulk0000-99" with a page ending at "chatcmpl-bulk0000-99", as an earlier page did (it does not page by "after"); stopped asking for more\n`,
    );
    expect(run.stderr).toMatch(
      new RegExp(
        `\\nstored-completions mirror: the source answered /chat/completions after ${lastId} with a page ending at ${lastId}, as an earlier page did \\(it does not page by "after"\\); stopped asking for more\\n` +
          // Not "run again to continue": a run again meets the same page, and no --since gets past a source that ignores "after".
          'stopped after 99 copied \\(they stay\\); running again stops at the same place, as the source answers the same way every time \\(it does not page by "after"\\), ' +
          'which no option here gets past: report it to whoever runs the source\\n$',
      ),
    );
  }, 40_000);

  it('does not take a page that promises more and gives nothing to ask for it by as the end: not the messages, not the list', async () => {
    const total = await fillSource();
    const promise = (res: ServerResponse) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [], first_id: null, last_id: null, has_more: true }));
    const messages = await startBrokenProxy(source.origin, new Map([['/v1/chat/completions/chatcmpl-bulk0030/messages', promise]]));
    const target = join(folder, 'copy.db');
    const first = await runCliInProcess(mirrorArgs(messages), { env: { DATABASE_URL: target } });
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr.split('\n').filter((line) => line.startsWith('not mirrored'))).toEqual([
      'not mirrored chatcmpl-bulk0030: the source answered /chat/completions/chatcmpl-bulk0030/messages with "has_more": true and a page whose last item has no id to continue after; stopped asking for more',
    ]);
    expect(first.stderr).toMatch(new RegExp(`^mirror: ${total - 1} copied, 0 already there, 0 deleted at the source meanwhile, 0 not storable, 1 not mirrored; `, 'm'));

    // A list whose second page promises more and lists nothing: the run stops with the error, not as a whole copy.
    const server = createServer((req, res) => {
      if (new URL(req.url ?? '/', 'http://x').searchParams.has('after') && (req.url ?? '').startsWith('/v1/chat/completions?')) promise(res);
      else forward(source.origin, req, res);
    });
    const list = await listenOnLoopback(server);
    later(list.close);
    const second = await runCliInProcess(['mirror', '--from', list.url, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY, '--from-start'], {
      env: { DATABASE_URL: join(folder, 'other.db') },
    });
    expect(second.code, second.stderr).toBe(1);
    const firstPage = JSON.parse(await (await source.request('/v1/chat/completions?limit=100')).text()) as { data: { created: number }[] };
    expect(second.stderr).toContain(
      'stored-completions mirror: the source answered /chat/completions with "has_more": true and a page whose last item has no id to continue after; stopped asking for more\n' +
        // Each run asks for that page and gets the same answer: said so, with a --since that starts past it.
        `stopped after 100 copied (they stay); running again stops at the same place, as the source answers the same way every time: a --since later than ${firstPage.data.at(-1)!.created} ` +
        '(the newest completion listed) may start past it; or report it to whoever runs the source\n',
    );
    expect(second.stderr.endsWith('or report it to whoever runs the source\n')).toBe(true);
  });

  it('refuses --since together with --created-after, the same filter under two names, as a usage error', async () => {
    await fillSource();
    const target = join(folder, 'copy.db');
    const run = await runCliInProcess([...mirrorArgs({ url: source.baseURL, requests: 0, faults: [] }), '--since', '1700001040', '--created-after', '2020-01-01'], {
      env: { DATABASE_URL: target },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "stored-completions mirror: --since and --created-after are one filter under two names (completions created at or after T): give one of them\n" +
        '(stored-completions mirror --help shows the options)\n',
    );
    expect(existsSync(target)).toBe(false);
    // Alone, --created-after is --since (export's name for it).
    const alone = await runCliInProcess([...mirrorArgs({ url: source.baseURL, requests: 0, faults: [] }), '--metadata', 'batch=2', '--created-after', '1700001040'], {
      env: { DATABASE_URL: target },
    });
    expect(alone.code, alone.stderr).toBe(0);
    expect(alone.stderr).toMatch(/^mirror: 30 copied, /);
  });

  it('stops with a clear message and exit code 1 when the source refuses the key', async () => {
    const guarded = await startService({ upstreamUrl: upstream.url, env: { API_KEYS: 'sk-right-key-000:team' } });
    later(() => guarded.close());
    const run = await runCliInProcess(['mirror', '--from', guarded.baseURL, '--source-key', 'sk-wrong-key-999', '--key', DEFAULT_KEY], {
      env: { DATABASE_URL: join(folder, 'copy.db') },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'stored-completions mirror: the source refused --source-key (HTTP 401: Incorrect API key provided: sk-wr*******-999. You can find your API key at https://platform.openai.com/account/api-keys.)\n' +
        'stopped after 0 copied (they stay; run again to continue)\n',
    );
  });

  it('stops at once, not after 9 attempts over 94 s, when nothing listens at --from on its first request (a mistyped port)', async () => {
    // A port just let go: nothing listens there, as at a --from with a wrong port or a source not started.
    const closed = await listenOnLoopback(createServer());
    await closed.close();
    const startedAt = performance.now();
    const run = await runCli(['mirror', '--from', closed.url, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], {
      env: { DATABASE_URL: join(folder, 'copy.db') },
      deadlineMs: 20_000,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `stored-completions mirror: cannot connect to the source at ${new URL(closed.url).origin}: the connection was refused (ECONNREFUSED), ` +
        "not retried, as the source has not answered yet: check that --from is the API's base URL (such as https://api.openai.com/v1) and that the source runs\n" +
        'stopped after 0 copied (they stay; run again to continue)\n',
    );
    // The process's start and the database's opening; the retries alone took 94 s.
    expect(performance.now() - startedAt).toBeLessThan(15_000);
  });

  it("stops at once, not retried, when the source answers 429 for an account out of quota (OpenAI's insufficient_quota), on the list or a completion's messages", async () => {
    await fillSource();
    const quota = (res: ServerResponse) => {
      res.writeHead(429, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } }));
    };
    const said =
      'stored-completions mirror: the source refused the request: its account is out of quota (HTTP 429: You exceeded your current quota, please check your plan and billing details.)\n';
    let requests = 0;
    const list = await listenOnLoopback(createServer((_req, res) => (requests++, quota(res))));
    later(list.close);
    const onList = await runCliInProcess(['mirror', '--from', list.url, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], { env: { DATABASE_URL: join(folder, 'list.db') } });
    expect(onList).toMatchObject({ code: 1, stderr: `${said}stopped after 0 copied (they stay; run again to continue)\n` });
    expect(requests).toBe(1);

    // The list answers, every completion's messages are refused: the run stops at the first, none named "not mirrored".
    let refused = 0;
    const server = createServer((req, res) => {
      if (!/\/messages(\?|$)/.test(req.url ?? '')) return forward(source.origin, req, res);
      refused++;
      quota(res);
    });
    const messages = await listenOnLoopback(server);
    later(messages.close);
    const onMessages = await runCliInProcess(['mirror', '--from', messages.url, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], { env: { DATABASE_URL: join(folder, 'messages.db') } });
    expect(onMessages).toMatchObject({ code: 1, stderr: `${said}stopped after 0 copied (they stay; run again to continue)\n` });
    // The reads in flight at the first refusal (--concurrency 4), each asked once.
    expect(refused).toBeLessThanOrEqual(4);
  });

  it('says --from must be the API base URL when the source has no list there (a 404 in JSON, as api.openai.com without /v1 answers)', async () => {
    const origin = source.baseURL.replace(/\/v1\/?$/, '');
    expect(origin).not.toBe(source.baseURL);
    const run = await runCliInProcess(['mirror', '--from', origin, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], { env: { DATABASE_URL: join(folder, 'copy.db') } });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "stored-completions mirror: the source has no stored-completions list there (HTTP 404: Invalid URL (GET /chat/completions)): --from must be the API's base URL, such as https://api.openai.com/v1\n" +
        'stopped after 0 copied (they stay; run again to continue)\n',
    );
  });

  it('refuses a --from with a query (an api-version) as a usage error, which the paths appended to it would have broken', async () => {
    const target = join(folder, 'copy.db');
    for (const from of [`${source.baseURL}?api-version=2025-04-01`, `${source.baseURL}#v1`]) {
      const run = await runCliInProcess(['mirror', '--from', from, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY], { env: { DATABASE_URL: target } });
      expect(run).toMatchObject({
        code: 2,
        stderr: `stored-completions mirror: --from: expected the API's base URL without a query or fragment (such as https://api.openai.com/v1), got '${from}'\n(stored-completions mirror --help shows the options)\n`,
      });
    }
    expect(existsSync(target)).toBe(false);
  });

  it('refuses a --concurrency past 32 (or not a whole number from 1) as a usage error, rather than quietly running fewer', async () => {
    const target = join(folder, 'copy.db');
    for (const concurrency of ['33', '0', '2.5']) {
      const run = await runCliInProcess(['mirror', '--from', source.baseURL, '--source-key', DEFAULT_KEY, '--key', DEFAULT_KEY, '--concurrency', concurrency], { env: { DATABASE_URL: target } });
      expect(run).toMatchObject({
        code: 2,
        stderr: `stored-completions mirror: --concurrency: expected a whole number from 1 to 32, got '${concurrency}'\n(stored-completions mirror --help shows the options)\n`,
      });
    }
    expect(existsSync(target)).toBe(false);
  });

  it('says so when the source answers HTML instead of the API', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><html><body>Welcome</body></html>');
    });
    const site = await listenOnLoopback(server);
    later(site.close);
    const run = await runCliInProcess(['mirror', '--from', site.url, '--source-key', 'sk-x', '--key', DEFAULT_KEY], { env: { DATABASE_URL: join(folder, 'copy.db') } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^stored-completions mirror: the source answered http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions with an HTML page \(HTTP 200\), not OpenAI's API: --from must be the API's base URL, such as https:\/\/api\.openai\.com\/v1\n/,
    );
  });
});
