import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { nastyString, readChecked, safely } from './helpers/fuzz-input.ts';
import { startService, type Service } from './helpers/service.ts';

/**
 * Property-based fuzzing of the routes beyond OpenAI's (docs/api.md): the list's extra filters, usage, export,
 * the metadata change, the messages list's query, and the web UI's paths. Properties: never a 5xx; every error
 * is OpenAI's four-field shape and its `param` names a parameter the request gave; a valid request gets exactly
 * the answer a model of the seeded data gives (usage and export against the list's own pages).
 *
 * A fixed seed; a longer run: `FUZZ_RUNS=2000 npx vitest run test/fuzz-extensions.test.ts` (`FUZZ_SEED=<n>` for others).
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_207);
const RUNS = Number(process.env.FUZZ_RUNS ?? 80);
const options = { seed: SEED, numRuns: RUNS, endOnFailure: true };

const KEYS = { alice: 'sk-alice-fuzzext-0000001', bob: 'sk-bob-fuzzext-00000002' };
/** Half a day apart: the seeded completions spread over four UTC days. */
const DAY0 = 1_767_225_600;
const WORDS = ['apple banana', 'banana cherry', 'Crème brûlée', '東京タワー', 'apple', 'refund policy', 'cherry', 'e-mail'];
/** The completion with several input messages, for the messages list. */
const LONG_ID = 'chatcmpl-both-0';
const LONG_MESSAGES = 5;

interface Stored {
  id: string;
  choices: { message: { content: string } }[];
  created: number;
  model: string;
  metadata: Record<string, string>;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

let upstream: FakeUpstream;
let service: Service;
/** alice's completions as she retrieves them, in (created, id) order. */
let alice: Stored[];
let bobIds: string[];

beforeAll(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url, env: { API_KEYS: `${KEYS.alice}:alpha,${KEYS.bob}:beta`, BODY_LIMIT_BYTES: '8192' } });
  upstream.nextIds = [...WORDS.map((_, i) => (i === 0 ? LONG_ID : `chatcmpl-alice-${i}`)), LONG_ID, 'chatcmpl-bob-1'];
  alice = [];
  for (const [i, word] of WORDS.entries()) {
    upstream.created = DAY0 + i * 43_200;
    const history = i === 0 ? Array.from({ length: LONG_MESSAGES - 1 }, (_, k) => ({ role: 'user' as const, content: `turn ${k}` })) : [];
    const created = await service.client(KEYS.alice).chat.completions.create({
      model: i % 2 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
      messages: [...history, { role: 'user', content: word }],
      store: true,
      metadata: { env: i % 2 === 0 ? 'dev' : 'prod', tag: `t${i % 3}` },
    });
    alice.push((await service.client(KEYS.alice).chat.completions.retrieve(created.id)) as unknown as Stored);
  }
  alice.sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1));
  bobIds = [];
  for (const word of ['apple secret', 'banana secret']) {
    bobIds.push((await service.client(KEYS.bob).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: word }], store: true, metadata: { env: 'dev' } })).id);
  }
});

afterAll(async () => {
  await service?.close();
  await upstream?.close();
});

/** The words a search finds a seeded completion by: its reply (which echoes the last message) and its history. */
function wordsOf(c: Stored): string[] {
  const history = c.id === LONG_ID ? Array.from({ length: LONG_MESSAGES - 1 }, (_, k) => `turn ${k}`) : [];
  return [c.choices[0]!.message.content, ...history].join(' ').toLowerCase().split(/[^\p{L}\p{N}]+/u);
}

/** Values that have broken number and cursor parsing: signs, spaces, exponents, past 2^53, other digits. */
const ODD_VALUES = [
  '', '0', '1', '2', '3', '100', '101', '-1', '+5', ' 7', '1.5', '1e9', '9007199254740991', '9007199254740992', '-9007199254740991',
  '99999999999999999999999', 'NaN', 'Infinity', '0x10', '１２', '00', 'asc', 'desc', 'DESC', 'completions', 'finetune', 'eval', 'xml',
  'gpt-4o', 'gpt-4o-mini-2024-01-01', 'dev', 'prod', 't1', 'apple', 'banana cherry', 'Cherry apple', 'echo', 'turn 2', 'policy', 'crème', '東京', '*', '"', 'OR', '   ',
  String(DAY0), String(DAY0 + 43_200), String(DAY0 + 86_400 + 1), String(DAY0 + 4 * 86_400), '8640000000000', '-8640000000001', '253402300800',
];

/** A query string of the given names and hostile others, in the encodings clients use. */
function queryString(names: string[], values: string[]): fc.Arbitrary<string> {
  const name = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...names) },
    fc.constantFrom('env', 'tag', '__proto__', 'ключ 🔑').map((k) => `metadata[${k}]`),
    nastyString.map((k) => `metadata[${k}]`),
    nastyString,
  );
  const value = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ODD_VALUES, ...values) }, nastyString, fc.string({ minLength: 995, maxLength: 1005 }));
  const encode = fc.constantFrom<(s: string) => string>(safely(encodeURIComponent), (s) => s, (s) => new URLSearchParams([['', s]]).toString().slice(1));
  return fc.array(fc.tuple(name, value, encode), { maxLength: 6 }).map((list) => list.map(([n, v, e]) => `${e(n)}=${e(v)}`).join('&'));
}

/** An error's `param` names what the request gave: a parameter of the query (a metadata pair by its key). */
function expectParamOfQuery(param: string | null, params: URLSearchParams): void {
  if (param === null) return;
  const names = [...params.keys()];
  const given = param.startsWith('metadata') ? names.some((n) => n.startsWith('metadata')) : names.includes(param);
  expect(given, `param ${param} of ${params}`).toBe(true);
}

const LIST_NAMES = ['model', 'created_after', 'created_before', 'search', 'after', 'limit', 'order'];
const FILTER_NAMES = ['model', 'created_after', 'created_before', 'search'];

/** Every completion of alice's project that the list shows for `query` (its filters only), page by page, ascending. */
async function listAll(filters: URLSearchParams): Promise<Stored[]> {
  const all: Stored[] = [];
  let after: string | undefined;
  for (;;) {
    const query = new URLSearchParams(filters);
    query.set('limit', '100');
    if (after) query.set('after', after);
    const { status, body } = await readChecked(await service.request(`/v1/chat/completions?${query}`, { key: KEYS.alice }));
    expect(status).toBe(200);
    all.push(...body.data);
    if (!body.has_more) return all;
    after = body.data.at(-1).id;
  }
}

/** The query's filters alone (what usage takes), every other parameter left out. */
function filtersOf(params: URLSearchParams): URLSearchParams {
  return new URLSearchParams([...params].filter(([name]) => FILTER_NAMES.includes(name) || name.startsWith('metadata')));
}

/** The parameters the service reads from `?q`: as a URL parser takes it (a raw `#` ends it). */
const paramsOf = (q: string) => new URL(`http://x/?${q}`).searchParams;

/** The statuses a property's runs got: each property checks it reached every kind of answer it checks, not only one. */
function statuses() {
  const tally = new Map<number, number>();
  return {
    count: (status: number) => tally.set(status, (tally.get(status) ?? 0) + 1),
    expectReached: (...wanted: number[]) => {
      for (const status of wanted) expect(tally.get(status) ?? 0, `${status} in ${JSON.stringify([...tally])}`).toBeGreaterThanOrEqual(RUNS / 10);
    },
  };
}

const single = (params: URLSearchParams, name: string) => (params.get(name) === '' ? undefined : (params.get(name) ?? undefined));

/** `path?q` as alice, its status counted; not a 200, it must be a 400 naming a parameter the query gave. */
async function getQuery(path: string, q: string, tally: ReturnType<typeof statuses>, { json = true } = {}) {
  const res = await service.request(`${path}?${q}`, { key: KEYS.alice });
  const answer = await readChecked(res, { json });
  tally.count(answer.status);
  const params = paramsOf(q);
  if (answer.status !== 200) {
    expect(answer.status).toBe(400);
    expectParamOfQuery(answer.body.error.param, params);
  }
  return { ...answer, params, res };
}

/** A list query of valid parameters only, each often present: the model's answer is reached, not only errors. */
function wellFormedListQuery(): fc.Arbitrary<string> {
  const bound = fc.integer({ min: -1, max: 9 }).map((half) => String(DAY0 + half * 43_200 + (half % 2)));
  return fc
    .record(
      {
        search: fc.constantFrom('apple', 'BANANA', 'cherry apple', 'echo', 'turn 3', 'policy refund', 'nothing'),
        created_after: bound,
        created_before: bound,
        model: fc.constantFrom('gpt-4o', 'gpt-4o-mini-2024-01-01'),
        'metadata[env]': fc.constantFrom('dev', 'prod'),
        'metadata[tag]': fc.constantFrom('t0', 't1', 't2'),
        order: fc.constantFrom('asc', 'desc'),
        limit: fc.integer({ min: 1, max: 4 }).map(String),
        after: fc.constantFrom(...alice.map((c) => c.id)),
      },
      { requiredKeys: [] },
    )
    .map((record) => new URLSearchParams(record).toString());
}

describe('fuzz: the list with its extra filters', () => {
  it('any query: a 400 naming a given parameter, or exactly the page a model of alice’s completions gives', async () => {
    const tally = statuses();
    const ids = [...alice.map((c) => c.id), ...bobIds, 'chatcmpl-none'];
    await fc.assert(
      fc.asyncProperty(fc.oneof(queryString(LIST_NAMES, ids), wellFormedListQuery()), async (q) => {
        const { status, body, params } = await getQuery('/v1/chat/completions', q, tally);
        if (status !== 200) return;
        for (const completion of body.data) expect(completion).toEqual(alice.find((c) => c.id === completion.id));
        // A search of ASCII words is modelled too (whole words, any case); other text only must find alice's own.
        const search = single(params, 'search');
        if (search !== undefined && !/^[A-Za-z0-9 ]+$/.test(search)) return;
        const words = search?.toLowerCase().split(' ').filter(Boolean) ?? [];
        // The page is known exactly: range, model, pairs and words, from the cursor's position on.
        const from = Number(single(params, 'created_after') ?? -Infinity);
        const to = Number(single(params, 'created_before') ?? Infinity);
        const model = single(params, 'model');
        const pairs = [...params].flatMap(([n, v]) => (/^metadata\[(.*)\]$/s.exec(n) ? [[/^metadata\[(.*)\]$/s.exec(n)![1]!, v] as const] : []));
        const order = single(params, 'order') ?? 'asc';
        const ordered = order === 'desc' ? [...alice].reverse() : alice;
        const after = single(params, 'after');
        const start = after === undefined ? 0 : ordered.findIndex((c) => c.id === after) + 1;
        if (after !== undefined) expect(start, 'a cursor alice does not have is a 400').toBeGreaterThan(0);
        const matches = ordered
          .slice(start)
          .filter((c) => c.created >= from && c.created < to)
          // The fake provider answers `<requested>-2024-01-01`; the filter matches either name.
          .filter((c) => model === undefined || c.model === model || c.model === `${model}-2024-01-01`)
          .filter((c) => pairs.every(([k, v]) => Object.hasOwn(c.metadata, k) && c.metadata[k] === v))
          .filter((c) => words.every((word) => wordsOf(c).includes(word)));
        const limit = Number(single(params, 'limit')?.trim() ?? 20);
        const page = matches.slice(0, limit).map((c) => c.id);
        expect(body.data.map((c: Stored) => c.id)).toEqual(page);
        expect(body.has_more).toBe(matches.length > limit);
      }),
      options,
    );
    tally.expectReached(200, 400);
  });
});

describe('fuzz: usage', () => {
  it('any query: a 400 naming a given parameter, or the figures of exactly the completions the list shows', async () => {
    const tally = statuses();
    await fc.assert(
      fc.asyncProperty(fc.oneof(queryString(LIST_NAMES, []), wellFormedListQuery()), async (q) => {
        const { status, body, params } = await getQuery('/v1/stored-completions/usage', q, tally);
        if (status !== 200) {
          // The list refuses the same filters the same way.
          const list = await readChecked(await service.request(`/v1/chat/completions?${filtersOf(params)}`, { key: KEYS.alice }));
          expect(list.body).toEqual(body);
          return;
        }
        const rows = new Map<string, { day: string; model: string; completions: number; prompt_tokens: number; completion_tokens: number; total_tokens: number }>();
        for (const c of await listAll(filtersOf(params))) {
          const day = new Date(c.created * 1000).toISOString().slice(0, 10);
          const row = rows.get(`${day} ${c.model}`) ?? { day, model: c.model, completions: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
          row.completions++;
          row.prompt_tokens += c.usage.prompt_tokens;
          row.completion_tokens += c.usage.completion_tokens;
          row.total_tokens += c.usage.total_tokens;
          rows.set(`${day} ${c.model}`, row);
        }
        const data = [...rows.values()].sort((a, b) => (a.day !== b.day ? (a.day < b.day ? -1 : 1) : Buffer.compare(Buffer.from(a.model), Buffer.from(b.model))));
        expect(body).toEqual({ object: 'list', data, truncated: false });
      }),
      options,
    );
    tally.expectReached(200, 400);
  });
});

describe('fuzz: export', () => {
  it('any query: a 400 naming a given parameter before any line, or the lines of exactly the list’s completions', async () => {
    const tally = statuses();
    const ids = [...alice.map((c) => c.id), ...bobIds];
    await fc.assert(
      fc.asyncProperty(fc.oneof(queryString([...LIST_NAMES, 'format', 'choice', 'format', 'limit'], ids), wellFormedListQuery()), async (q) => {
        const { status, text, params, res } = await getQuery('/v1/stored-completions/export', q, tally, { json: false });
        if (status !== 200) return;
        expect(res.headers.get('content-type')).toBe('application/x-ndjson');
        const lines = text === '' ? [] : text.split('\n').slice(0, -1).map((line) => JSON.parse(line));
        if ((single(params, 'format') ?? 'completions') !== 'completions') return;
        // The list's filters and cursor, without its page size: every match after the cursor, up to `limit`.
        const listed = await listAll(new URLSearchParams([...filtersOf(params), ...[...params].filter(([n]) => n === 'order' || n === 'after')]));
        const limit = Math.min(Number(single(params, 'limit')?.trim() ?? Infinity), listed.length);
        expect(lines.map((line) => line.id)).toEqual(listed.slice(0, limit).map((c) => c.id));
        for (const { input_messages: _, ...line } of lines) expect(line).toEqual(alice.find((c) => c.id === line.id));
      }),
      options,
    );
    tally.expectReached(200, 400);
  });
});

describe('fuzz: the messages list', () => {
  it('any query: a 400 naming a given parameter, or exactly the page of the completion’s messages asked for', async () => {
    const tally = statuses();
    const messageIds = Array.from({ length: LONG_MESSAGES + 1 }, (_, i) => `${LONG_ID}-${i}`);
    const all = await readChecked(await service.request(`/v1/chat/completions/${LONG_ID}/messages?limit=100`, { key: KEYS.alice }));
    expect(all.body.data.map((m: { id: string }) => m.id)).toEqual(messageIds.slice(0, LONG_MESSAGES));
    await fc.assert(
      fc.asyncProperty(
        queryString(['after', 'limit', 'order'], [...messageIds, `${LONG_ID}-01`, `${LONG_ID}-1e0`, `${bobIds[1]}-0`, `${LONG_ID}-9999999999`]),
        fc.constantFrom(LONG_ID, bobIds[1]!, 'chatcmpl-none'),
        async (q, id) => {
          const { status, body } = await readChecked(await service.request(`/v1/chat/completions/${id}/messages?${q}`, { key: KEYS.alice }));
          tally.count(status);
          const params = paramsOf(q);
          if (status === 404) {
            expect(id).not.toBe(LONG_ID);
            expect(body.error).toEqual({ message: `No chat completion found with id '${id}'.`, type: 'invalid_request_error', param: null, code: null });
            return;
          }
          if (status !== 200) {
            expect(status).toBe(400);
            expectParamOfQuery(body.error.param, params);
            return;
          }
          expect(id).toBe(LONG_ID);
          const ordered = single(params, 'order') === 'desc' ? [...all.body.data].reverse() : all.body.data;
          const after = single(params, 'after');
          const start = after === undefined ? 0 : ordered.findIndex((m: { id: string }) => m.id === after) + 1;
          if (after !== undefined) expect(start, 'an unknown cursor is a 400').toBeGreaterThan(0);
          const limit = Number(single(params, 'limit')?.trim() ?? 20);
          const page = ordered.slice(start, start + limit);
          expect(body).toEqual({ object: 'list', data: page, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null, has_more: ordered.length > start + limit });
        },
      ),
      options,
    );
    tally.expectReached(200, 400, 404);
  });
});

type Metadata = Record<string, string>;

/** The metadata change as docs/api.md states it, on a model of the maps. */
function applyChange(map: Metadata, set: Metadata, remove: string[], expectPairs: Record<string, string | null>) {
  const holds = Object.entries(expectPairs).every(([k, v]) => (Object.hasOwn(map, k) ? map[k] : null) === v);
  if (!holds) return { outcome: 'expectation_failed', metadata: map, previous_metadata: map };
  const entries: [string, string][] = Object.entries(map)
    .filter(([k]) => !remove.includes(k))
    .map(([k, v]) => [k, Object.hasOwn(set, k) ? set[k]! : v]);
  for (const [k, v] of Object.entries(set)) if (!Object.hasOwn(map, k)) entries.push([k, v]);
  if (JSON.stringify(entries) === JSON.stringify(Object.entries(map))) return { outcome: 'unchanged', metadata: map, previous_metadata: map };
  if (entries.length > 16) return { outcome: 'too_many_pairs', metadata: map, previous_metadata: map };
  return { outcome: 'updated', metadata: Object.fromEntries(entries), previous_metadata: map };
}

/**
 * An error's `param` names the part of the body at fault: null for the body as a whole, else a parameter it gave (or
 * `ids` or `set`, required), an element of a list by its index (`ids[2]`, `remove[0]`), a pair of a map by its key.
 */
function expectParamOfBody(param: string | null, parsed: unknown, text: string): void {
  if (param === null) return;
  const body = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const [, root, index, key] = /^([^.[]*)(?:\[(\d+)\]|\.(.*))?$/s.exec(param) ?? [];
  const part = Object.hasOwn(body, root!) ? body[root!] : undefined;
  const named =
    index !== undefined
      ? ['ids', 'remove'].includes(root!) && Array.isArray(part) && Number(index) < part.length
      : key !== undefined
        ? ['set', 'expect'].includes(root!) && typeof part === 'object' && part !== null && Object.hasOwn(part, key)
        : Object.hasOwn(body, root!) || ['ids', 'set'].includes(root!);
  expect(named, `${param} of ${text.slice(0, 300)}`).toBe(true);
}

describe('fuzz: changing metadata in place', () => {
  it('any body: a 400 naming a part of it and nothing changed, or exactly the outcome per id the model gives', async () => {
    const tally = statuses();
    const maps = new Map(alice.map((c) => [c.id, { ...c.metadata }]));
    const pool = [...alice.map((c) => c.id), ...bobIds, 'chatcmpl-none', '', '\u0000', 'x\ud800'];
    const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('env', 'tag', 'k1', 'k2', '__proto__', 'ключ 🔑', 'constructor') }, nastyString);
    const value = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('dev', 'prod', 't0', 'x', '') }, nastyString);
    // Text past a limit, or not text (half a surrogate pair).
    const faultyText = fc.oneof(fc.constantFrom('\ud800', 'a\udfffb', '🎉\ud83c'), fc.string({ minLength: 64, maxLength: 66 }), fc.string({ minLength: 511, maxLength: 514 }));
    const validKey = key.filter((k) => !/\p{Cs}/u.test(k) && [...k].length <= 64);
    const validValue = value.filter((v) => !/\p{Cs}/u.test(v));
    const objectOf = (keys: fc.Arbitrary<string>, values: fc.Arbitrary<unknown>, max: number) =>
      fc.uniqueArray(fc.tuple(keys, values), { maxLength: max, selector: ([k]) => k }).map((entries) => Object.fromEntries(entries));
    // Well-formed requests: always a 200, with the model's outcome for each id.
    const valid = fc
      .record({
        ids: fc.uniqueArray(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pool) }, nastyString), { minLength: 1, maxLength: 6 }),
        set: objectOf(validKey, validValue, 4),
        remove: fc.uniqueArray(validKey, { maxLength: 3 }),
        expect: objectOf(validKey, fc.oneof(validValue, fc.constant(null)), 2),
      })
      .map((b) => ({ ...b, remove: b.remove.filter((k) => !Object.hasOwn(b.set, k)) }))
      .filter((b) => Object.keys(b.set).length + b.remove.length > 0);
    const anything = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      nastyString,
      { weight: 2, arbitrary: fc.array(fc.oneof(key, faultyText, fc.constantFrom(...pool)), { maxLength: 17 }) },
      objectOf(fc.oneof(key, faultyText), fc.oneof(value, faultyText, fc.jsonValue({ maxDepth: 1 })), 18),
    );
    const arbitrary = fc.record(
      { ids: fc.oneof(anything, fc.array(fc.constantFrom(...pool), { minLength: 99, maxLength: 102 })), set: anything, remove: anything, expect: anything, extra: anything },
      { requiredKeys: [] },
    );
    // A short list or map with text at fault among good text.
    const faultyPart = fc.oneof(
      fc.array(fc.oneof(key, faultyText), { minLength: 1, maxLength: 3 }),
      objectOf(fc.oneof(key, faultyText), fc.oneof(value, faultyText), 3),
    );
    // A well-formed request with one part replaced: each check is reached, not only the first.
    const nearlyValid = fc
      .tuple(valid, fc.constantFrom('ids', 'set', 'remove', 'expect', 'extra', '__proto__'), fc.oneof(anything, { weight: 2, arbitrary: faultyPart }))
      .map(([b, part, x]) => Object.fromEntries([...Object.entries(b), [part, x]]));
    const text = (s: string) => new TextEncoder().encode(s);
    const raw = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.integer({ min: 120, max: 140 }).map((n) => text(`{"ids":[${'['.repeat(n)}${']'.repeat(n)}],"set":{"k":"v"}}`)),
      fc.constantFrom(
        ...[
          '',
          'null',
          '[]',
          '{"ids":["chatcmpl-none"],"ids":"x","set":{"k":"v"}}',
          '{"ids":["chatcmpl-none"],"set":{"k":"v"},"set":[]}',
          '{"__proto__":{"ids":["chatcmpl-none"]},"set":{"k":"v"}}',
          '{"ids":["chatcmpl-none"],"set":{"__proto__":"x"},"expect":{"__proto__":null}}',
          '{"ids":{"0":"chatcmpl-none","length":1},"set":{"k":"v"}}',
          '{"ids":["chatcmpl-none"],"set":{"k":"\\ud800"}}',
          '{"ids":[1e999],"set":{"k":"v"}}',
          '{"ids":["chatcmpl-none"],"set":{"k":"v"},"remove":["k"]}',
          '{"ids":["a","a"],"set":{"k":"v"}}',
          `{"ids":["${'x'.repeat(8000)}"],"set":{"k":"v"}}`,
        ].map(text),
      ),
      fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.constantFrom(...pool)).map(([bytes, id]) => {
        const before = text(`{"ids":["${id}`);
        return new Uint8Array([...before, ...bytes.map((b) => b | 0x80), ...text('"],"set":{"k":"v"}}')]);
      }),
    );
    const body = fc.oneof(
      { weight: 3, arbitrary: valid.map((b) => ({ valid: b as typeof b | undefined, bytes: text(JSON.stringify(b)) })) },
      { weight: 4, arbitrary: nearlyValid.map((b) => ({ valid: undefined, bytes: text(JSON.stringify(b)) })) },
      arbitrary.map((b) => ({ valid: undefined, bytes: text(JSON.stringify(b)) })),
      raw.map((bytes) => ({ valid: undefined, bytes })),
    );

    await fc.assert(
      fc.asyncProperty(body, async ({ valid: request, bytes }) => {
        const res = await service.request('/v1/stored-completions/metadata', {
          key: KEYS.alice,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: bytes,
        });
        const { status, body: answer } = await readChecked(res);
        tally.count(status);
        let parsed: unknown;
        try {
          parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
        } catch {
          parsed = undefined;
        }
        if (request === undefined && status !== 200) {
          expect([400, 413]).toContain(status);
          expectParamOfBody(answer.error.param, parsed, new TextDecoder().decode(bytes));
          return;
        }
        const change = (request ?? parsed) as { ids: string[]; set?: Metadata | null; remove?: string[] | null; expect?: Record<string, string | null> | null };
        expect(status, JSON.stringify(answer)).toBe(200);
        const data = change.ids.map((id) => {
          const map = maps.get(id);
          if (!map) return { id, outcome: 'not_found', metadata: null, previous_metadata: null };
          const result = applyChange(map, change.set ?? {}, change.remove ?? [], change.expect ?? {});
          maps.set(id, result.metadata);
          return { id, ...result };
        });
        expect(JSON.stringify(answer)).toBe(JSON.stringify({ object: 'list', data }));
      }),
      // Cheap runs, and many checks to reach: more of them.
      { ...options, numRuns: RUNS * 3 },
    );
    tally.expectReached(200, 400);
    // What every answer said is what is stored; bob's project never changed.
    for (const [id, metadata] of maps) {
      const res = await service.request(`/v1/chat/completions/${id}`, { key: KEYS.alice });
      expect(JSON.stringify((await res.json()).metadata)).toBe(JSON.stringify(metadata));
    }
    for (const id of bobIds) expect((await (await service.request(`/v1/chat/completions/${id}`, { key: KEYS.bob })).json()).metadata).toEqual({ env: 'dev' });
  });
});

/** One request as the bytes a client sends, its answer as status, headers and body: paths fetch would normalize or refuse. */
async function rawGet(path: Uint8Array, key?: string): Promise<{ status: number; headers: Map<string, string>; body: Buffer }> {
  const { hostname, port } = new URL(service.origin);
  const socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.write(Buffer.concat([Buffer.from('GET '), path, Buffer.from(` HTTP/1.1\r\nhost: ${hostname}:${port}\r\n${key ? `authorization: Bearer ${key}\r\n` : ''}connection: close\r\n\r\n`)]));
  });
  const all = Buffer.concat(chunks);
  const headEnd = all.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = all.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  let body = all.subarray(headEnd + 4);
  if (headers.get('transfer-encoding') === 'chunked') {
    const parts: Buffer[] = [];
    for (let at = 0; ; ) {
      const lineEnd = body.indexOf('\r\n', at);
      const size = parseInt(body.subarray(at, lineEnd).toString(), 16);
      if (!size) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 4 + size;
    }
    body = Buffer.concat(parts);
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body };
}

describe('fuzz: the web UI’s paths', () => {
  it('any path bytes: the page or a shipped file exactly, else an error in OpenAI’s shape, never a 5xx', async () => {
    const tally = statuses();
    const page = (await (await service.request('/', { auth: false })).text()).toString();
    const version = /\/ui\/([0-9a-f]{12})\//.exec(page)![1]!;
    const folder = join(import.meta.dirname, '..', 'src', 'ui');
    const files = readdirSync(folder).filter((name) => name !== 'index.html' && /\.(js|css|svg)$/.test(name));
    const segment = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('ui', version, ...files, '..', '.', '', '%2e%2e', '%2E', '%2F', '%5C', '%00', '%ff', '%', '%zz', '~', 'index.html', '%75i', 'app.js%00.svg', 'APP.JS') },
      nastyString.map((s) => safely(encodeURIComponent)(s)),
      fc.uint8Array({ minLength: 1, maxLength: 6 }).map((bytes) => Buffer.from(bytes.filter((b) => b > 0x20 && b !== 0x7f)).toString('latin1')),
      fc.integer({ min: 1, max: 20_000 }).map((n) => 'a'.repeat(n)),
    );
    const path = fc.oneof(
      fc.array(segment, { minLength: 1, maxLength: 5 }).map((segments) => `/${segments.join('/')}`),
      fc.tuple(fc.constantFrom(...files), fc.constantFrom('', '?', '?v=1', '#x', '?a=%ff')).map(([file, tail]) => `/ui/${version}/${file}${tail}`),
    );
    await fc.assert(
      fc.asyncProperty(path, async (p) => {
        const { status, headers, body } = await rawGet(Buffer.from(p, 'latin1'));
        tally.count(status);
        expect(status, p).toBeLessThan(500);
        if (status >= 400) {
          const error = JSON.parse(body.toString());
          expect(Object.keys(error.error).sort()).toEqual(['code', 'message', 'param', 'type']);
          return;
        }
        // Whatever a path normalizes to, what is served is the page or one shipped file, as it is on disk.
        expect(status).toBe(200);
        const pathname = new URL(p, 'http://x').pathname;
        const file = pathname === '/' ? undefined : /^\/ui\/([0-9a-f]{12})\/([^/]+)$/.exec(pathname);
        if (pathname === '/') expect(body.toString()).toBe(page);
        else {
          expect(file?.[1], p).toBe(version);
          expect(body.equals(readFileSync(join(folder, decodeURIComponent(file![2]!)))), p).toBe(true);
          expect(headers.get('x-content-type-options')).toBe('nosniff');
        }
      }),
      options,
    );
    tally.expectReached(200, 404);
  });
});

describe('fuzz: raw bytes in the query of the extension routes', () => {
  it('bytes no client library would send (not percent-encoded, not UTF-8): never a 5xx, errors in the shape', async () => {
    const tally = statuses();
    const paths = ['/v1/chat/completions', '/v1/stored-completions/usage', '/v1/stored-completions/export', `/v1/chat/completions/${LONG_ID}/messages`];
    const names = ['search', 'model', 'after', 'created_after', 'metadata[env]', 'metadata[\xff]', 'format', 'limit', 'order'];
    // Mostly the bytes Node's parser lets through to the app: it refuses control characters, spaces and bytes past
    // ASCII in the request line itself (a 400 in the shape all the same, client-error.ts).
    const bytes = fc.oneof(
      { weight: 3, arbitrary: fc.array(fc.integer({ min: 0x21, max: 0x7e }), { minLength: 1, maxLength: 8 }).map((b) => String.fromCharCode(...b)) },
      fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    const value = fc.oneof(bytes, fc.constantFrom('%ff', '%c3%28', '%ed%a0%80', '%f4%90%80%80', '%00', '\xff\xfe', 'caf\xe9', '\xe6\x9d\xb1'));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.array(fc.tuple(fc.constantFrom(...names), value), { minLength: 1, maxLength: 3 }), async (path, pairs) => {
        const query = pairs.map(([n, v]) => `${n}=${v}`).join('&');
        const { status, body } = await rawGet(Buffer.from(`${path}?${query}`, 'latin1'), KEYS.alice);
        tally.count(status);
        expect(status, query).toBeLessThan(500);
        if (status >= 400) expect(Object.keys(JSON.parse(body.toString()).error).sort()).toEqual(['code', 'message', 'param', 'type']);
      }),
      options,
    );
    tally.expectReached(200, 400);
  });
});
