import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeCompletion, sendJson, startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { startService, type Service } from './helpers/service.ts';

/**
 * Differential testing of the two backends: the same random sequence of API
 * calls against a service on SQLite and one on PostgreSQL, every status and
 * every body compared whole. The promise is "behaviour identical on both
 * backends", so the oracle is simply the other backend.
 *
 * Ids the service makes itself (a fresh id when an upstream id is taken, the
 * request id) differ by nature: they are mapped back to the position of the
 * create that made them. Creates whose upstream id is taken get a `created` of
 * their own, so the random fresh id never decides an order.
 *
 * `npm test` runs a fixed seed for a few seconds; a longer run:
 * `DIFF_RUNS=500 DIFF_SEED=<n> npx vitest run --project postgres test/postgres-differential.test.ts`.
 */

const SEED = Number(process.env.DIFF_SEED ?? 20_261_204);
const RUNS = Number(process.env.DIFF_RUNS ?? 60);

/** Words for message text and searches: case, accents, CJK, RTL, emoji, punctuation inside words. */
const WORDS = [
  'apple', 'Apple', 'APPLE', 'crème', 'Creme', 'brûlée', 'naïve', 'Straße', 'strasse', 'ﬁle', 'file',
  '東京', '東京タワー', 'ラーメン', '北京大学', 'مرحبا', 'שלום', '🎉', '🎉party', 'don\'t', 'e-mail', 'example.com',
  'col:umn', '"quoted"', 'OR', 'AND', 'NOT', 'NEAR', '*', '--', '(x)', 'x_y', '42', '4,2', 'İstanbul', 'ǅemal',
  'Ωmega', 'ωmega', 'ß', 'SS', 'Ꭰ', 'ꭰ', 'ﬀ', 'Ⅷ', 'ⅷ', '①', '¹', 'a\u0301', 'á', 'ﬃ', 'ŉ', 'ǰ',
];
const SEARCH_EXTRA = ['appl', 'creme', 'CRÈME', 'brulee', 'naive', '東', '京', 'tokyo', 'dont', 'don', 't', 'email', 'example', 'com', 'ss', 'fi', 'ff', 'i̇stanbul', 'istanbul', 'dz', 'viii', '1', 'a', 'party'];

/** Metadata keys and values at the edges: empty, unicode, RTL, NUL, lone surrogates, the length limits. */
const META_KEYS = ['env', '', 'ключ', '🔑', '\u202eltr', 'k'.repeat(64), 'a]b[', '%2F', 'ß', 'Env', 'k'.repeat(65), 'nul\u0000key', 'lone\ud800'];
const META_VALUES = ['prod', '', 'v'.repeat(512), 'x y', 'é', 'e\u0301', 'مرحبا', '🎉', 'PROD', '%', 'v'.repeat(513), '\u0000', '\udfff'];
/** Most pairs are valid (the last three keys and values are refused), so most creates store something. */
const metaIndex = (length: number) => fc.oneof({ weight: 12, arbitrary: fc.nat(length - 4) }, { weight: 1, arbitrary: fc.integer({ min: length - 3, max: length - 1 }) });

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'o3', 'gpt-4o-2024-01-01', 'модель', 'm/o:d el', '🎉'];
/** A provider's `created`: ties, before 1970, a fraction (cut to its second), the first and last seconds of the years 0000 to 9999. */
const CREATED = [1_700_000_000, 1_700_000_000, 1_700_000_001, 1_700_086_400, 0, -5, 1.5, 253_402_300_799, -62_167_219_200];
const UPSTREAM_IDS = ['chatcmpl-A', 'chatcmpl-a', 'chatcmpl-B', 'chatcmpl-é', 'chatcmpl-_', 'chatcmpl-10', 'chatcmpl-9', 'chatcmpl-Z'];

type Op =
  | { kind: 'create'; id: number; created: number; model: number; metadata: [number, number][]; words: number[][]; text: string | null; n: number; stream: boolean }
  | { kind: 'list'; query: [string, string][]; pages: number }
  | { kind: 'retrieve'; target: number }
  | { kind: 'update'; target: number; metadata: [number, number][] | null }
  | { kind: 'delete'; target: number }
  | { kind: 'messages'; target: number; query: [string, string][] }
  | { kind: 'usage'; query: [string, string][] }
  | { kind: 'export'; query: [string, string][] };

const metadataArb = fc.oneof(
  fc.array(fc.tuple(metaIndex(META_KEYS.length), metaIndex(META_VALUES.length)), { maxLength: 4 }),
  fc.array(fc.tuple(fc.nat(META_KEYS.length - 4), fc.nat(META_VALUES.length - 4)), { minLength: 15, maxLength: 18 }),
);
/** A reference to a completion: below 16 one made so far in the run (modulo), else an id never stored. */
const target = fc.nat(18);

const searchArb = fc
  .array(fc.oneof(fc.constantFrom(...WORDS), fc.constantFrom(...SEARCH_EXTRA)), { minLength: 1, maxLength: 3 })
  .map((words) => words.join(' '));

/** A list/usage/export parameter; `@N` values are completion references resolved when the op runs. */
const filterParam = fc.oneof(
  fc.constantFrom(...MODELS).map((m): [string, string] => ['model', m]),
  fc.constantFrom(...MODELS).map((m): [string, string] => ['model', `${m}-2024-01-01`]),
  fc.tuple(metaIndex(META_KEYS.length), metaIndex(META_VALUES.length)).map(([k, v]): [string, string] => [`metadata[${META_KEYS[k]}]`, META_VALUES[v]!]),
  fc.constantFrom(...CREATED, 1_700_000_002, 1, 2 ** 53 - 1, -(2 ** 53 - 1)).map((t): [string, string] => ['created_after', String(t)]),
  fc.constantFrom(...CREATED, 1_700_000_002, 1, 2 ** 53 - 1, -(2 ** 53 - 1)).map((t): [string, string] => ['created_before', String(t)]),
  searchArb.map((s): [string, string] => ['search', s]),
  fc.tuple(fc.nat(100), fc.constantFrom('', 'upper', 'lower', 'NFD', 'NFKC')).map(([n, how]): [string, string] => ['search', `@word:${n}:${how}`]),
);
const listParam = fc.oneof(
  { weight: 3, arbitrary: filterParam },
  fc.constantFrom('asc', 'desc').map((o): [string, string] => ['order', o]),
  fc.constantFrom('1', '2', '3', '100').map((l): [string, string] => ['limit', l]),
  target.map((t): [string, string] => ['after', `@${t}`]),
);
const uniqueByName = (params: [string, string][]) => {
  const seen = new Set<string>();
  return params.filter(([name]) => !seen.has(name) && seen.add(name));
};

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      id: fc.nat(UPSTREAM_IDS.length - 1),
      created: fc.nat(CREATED.length - 1),
      model: fc.nat(MODELS.length - 1),
      metadata: metadataArb,
      words: fc.array(fc.array(fc.nat(WORDS.length - 1), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }),
      // Random Unicode: a message of its own, searched for later by its words (`@word` searches).
      text: fc.option(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }), fc.string({ unit: 'grapheme-composite', maxLength: 20 }))),
      n: fc.constantFrom(1, 1, 2),
      stream: fc.boolean(),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('list' as const), query: fc.array(listParam, { maxLength: 5 }).map(uniqueByName), pages: fc.constantFrom(1, 3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retrieve' as const), target }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('update' as const), target, metadata: fc.option(metadataArb) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), target }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('messages' as const),
      target,
      query: fc
        .array(
          fc.oneof(
            fc.constantFrom('asc', 'desc').map((o): [string, string] => ['order', o]),
            fc.constantFrom('1', '2', '5').map((l): [string, string] => ['limit', l]),
            fc.tuple(target, fc.nat(3)).map(([t, i]): [string, string] => ['after', `@${t}-${i}`]),
          ),
          { maxLength: 3 },
        )
        .map(uniqueByName),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('usage' as const), query: fc.array(filterParam, { maxLength: 3 }).map(uniqueByName) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('export' as const), query: fc.array(filterParam, { maxLength: 3 }).map(uniqueByName) }) },
);

interface Side {
  name: string;
  upstream: FakeUpstream;
  service: Service;
  /** Upstream answer for the next create: id and created. */
  next: { id: string; created: number };
}

async function startSide(backend: 'sqlite' | 'postgres'): Promise<Side> {
  const upstream = await startFakeUpstream();
  const side: Side = { name: backend, upstream, service: undefined as unknown as Service, next: { id: '', created: 0 } };
  upstream.handler = (request, res) => {
    const body = fakeCompletion(request.json!, side.next.id, side.next.created);
    if (request.json!.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const choices = body.choices as { index: number; message: { content: string } }[];
      for (const choice of choices) {
        const chunk = { id: body.id, object: 'chat.completion.chunk', created: body.created, model: body.model, choices: [{ index: choice.index, delta: { role: 'assistant', content: choice.message.content }, logprobs: null, finish_reason: 'stop' }] };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      }
      res.write(`data: ${JSON.stringify({ id: body.id, object: 'chat.completion.chunk', created: body.created, model: body.model, choices: [], usage: body.usage })}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    sendJson(res, 200, body);
  };
  side.service = await startService({ upstreamUrl: upstream.url, backend });
  return side;
}

let sides: Side[];

beforeAll(async () => {
  sides = [await startSide('sqlite'), await startSide('postgres')];
}, 120_000);

afterAll(async () => {
  for (const side of sides ?? []) {
    await side.service.close();
    await side.upstream.close();
  }
});

/** What one side answered, with the ids only it could make replaced by the create's position. */
interface Answer {
  status: number;
  body: unknown;
  /** The body as this side sent it (its own ids), for the next page's cursor. */
  raw?: unknown;
}

/** Per side, per run: actual id -> `#N` (the N-th create of the run). */
type IdMap = Map<string, string>;

function canonical(value: unknown, ids: IdMap): unknown {
  if (typeof value === 'string') {
    if (ids.has(value)) return ids.get(value);
    const message = /^(.*)-(\d+)$/.exec(value);
    if (message && ids.has(message[1]!)) return `${ids.get(message[1]!)}-${message[2]}`;
    // A fresh id named inside a text (an error message).
    return value.replace(/chatcmpl-[A-Za-z0-9]{29}/g, (id) => ids.get(id) ?? id);
  }
  if (Array.isArray(value)) return value.map((item) => canonical(item, ids));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'request_id' ? 'req' : canonical(v, ids)]));
  }
  return value;
}

async function read(res: Response, ids: IdMap): Promise<Answer> {
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').includes('ndjson')) {
    return { status: res.status, body: text.split('\n').filter(Boolean).map((line) => canonical(JSON.parse(line), ids)) };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body: canonical(body, ids), raw: body };
}

/** Replaces `@N` (a completion of the run) and `@N-i` (its i-th message) by this side's ids. */
function resolveRef(ref: string, run: Run, side: number): string {
  const match = /^@(\d+)(?:-(\d+))?$/.exec(ref);
  if (!match) return ref;
  const n = Number(match[1]);
  const id = (n < 16 && run.made.length > 0 ? run.made[n % run.made.length]![side] : undefined) ?? `chatcmpl-never-${n}`;
  return match[2] === undefined ? id : `${id}-${match[2]}`;
}

interface Run {
  key: string;
  /** Per create of the run: each side's id (undefined when the create failed on that side). */
  made: (string | undefined)[][];
  ids: IdMap[];
  /** Upstream ids handed out so far in the run (taken, deleted or not). */
  taken: Set<string>;
  /** The whitespace-separated words of the random texts stored so far. */
  words: string[];
  nextUnique: number;
}

/** A query string cannot carry a lone surrogate: it goes as U+FFFD, as a browser would send it. */
const encode = (text: string) => encodeURIComponent(text.replace(/\p{Surrogate}/gu, '\ufffd'));

/** `@word:N:HOW`: the N-th word of the run's random texts (modulo), its case or normalization changed. */
function resolveWord(ref: string, run: Run): string {
  const match = /^@word:(\d+):(\w*)$/.exec(ref);
  if (!match) return ref;
  const word = run.words.length === 0 ? 'nothing' : run.words[Number(match[1]) % run.words.length]!;
  const how = match[2];
  if (how === 'upper') return word.toUpperCase();
  if (how === 'lower') return word.toLowerCase();
  if (how === 'NFD' || how === 'NFKC') return word.normalize(how);
  return word;
}

function queryString(query: [string, string][], run: Run, side: number): string {
  return query.map(([k, v]) => `${encode(k)}=${encode(k === 'after' ? resolveRef(v, run, side) : k === 'search' ? resolveWord(v, run) : v)}`).join('&');
}

async function onBoth(run: Run, call: (side: Side, index: number) => Promise<Answer>): Promise<Answer[]> {
  return Promise.all(sides.map((side, index) => call(side, index)));
}

async function perform(op: Op, run: Run, log: unknown[]): Promise<void> {
  const key = run.key;
  const request = (side: Side, path: string, init: RequestInit = {}) => side.service.request(path, { ...init, key });
  let answers: Answer[];
  switch (op.kind) {
    case 'create': {
      const upstreamId = UPSTREAM_IDS[op.id]!;
      // A taken upstream id gets a fresh random id on each side: a `created` of its own keeps that id out of every tie.
      const created = run.taken.has(upstreamId) ? 1_750_000_000 + run.nextUnique++ : CREATED[op.created]!;
      run.taken.add(upstreamId);
      if (op.text !== null) run.words.push(...op.text.split(/\s+/).filter(Boolean));
      const metadata = Object.fromEntries(op.metadata.map(([k, v]) => [META_KEYS[k]!, META_VALUES[v]!]));
      const body = {
        model: MODELS[op.model],
        messages: [
          ...op.words.map((words, i) => ({ role: i % 2 === 0 ? 'user' : 'system', content: words.map((w) => WORDS[w]).join(' ') })),
          ...(op.text === null ? [] : [{ role: 'user', content: op.text }]),
        ],
        store: true,
        metadata,
        ...(op.n > 1 ? { n: op.n } : {}),
        ...(op.stream ? { stream: true } : {}),
      };
      const position = run.made.length;
      const made: (string | undefined)[] = [];
      run.made.push(made);
      answers = await onBoth(run, async (side, index) => {
        side.next = { id: upstreamId, created };
        const res = await request(side, '/v1/chat/completions', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
        const text = await res.text();
        let id: string | undefined;
        if (res.status === 200) {
          id = op.stream ? (JSON.parse(text.split('\n')[0]!.slice(6)) as { id: string }).id : (JSON.parse(text) as { id: string }).id;
          made[index] = id;
          run.ids[index]!.set(id, `#${position}`);
        }
        return { status: res.status, body: res.status === 200 ? `created #${position}` : JSON.parse(text) };
      });
      break;
    }
    case 'list': {
      answers = await onBoth(run, async (side, index) => {
        const pages: Answer[] = [];
        let query = queryString(op.query, run, index);
        for (let page = 0; page < op.pages; page++) {
          const answer = await read(await request(side, `/v1/chat/completions?${query}`), run.ids[index]!);
          pages.push(answer);
          const list = answer.body as { has_more?: boolean; data?: unknown[] };
          if (answer.status !== 200 || !list.has_more) break;
          const last = answer.raw as { data: { id: string }[] };
          delete answer.raw;
          query = `${queryString(op.query.filter(([k]) => k !== 'after'), run, index)}&after=${encodeURIComponent(last.data.at(-1)!.id)}`;
        }
        for (const page of pages) delete page.raw;
        return { status: 200, body: pages };
      });
      break;
    }
    case 'retrieve':
      answers = await onBoth(run, async (side, index) => read(await request(side, `/v1/chat/completions/${encodeURIComponent(resolveRef(`@${op.target}`, run, index))}`), run.ids[index]!));
      break;
    case 'update': {
      const metadata = op.metadata === null ? null : Object.fromEntries(op.metadata.map(([k, v]) => [META_KEYS[k]!, META_VALUES[v]!]));
      answers = await onBoth(run, async (side, index) =>
        read(
          await request(side, `/v1/chat/completions/${encodeURIComponent(resolveRef(`@${op.target}`, run, index))}`, {
            method: 'POST',
            body: JSON.stringify({ metadata }),
            headers: { 'content-type': 'application/json' },
          }),
          run.ids[index]!,
        ),
      );
      break;
    }
    case 'delete':
      answers = await onBoth(run, async (side, index) =>
        read(await request(side, `/v1/chat/completions/${encodeURIComponent(resolveRef(`@${op.target}`, run, index))}`, { method: 'DELETE' }), run.ids[index]!),
      );
      break;
    case 'messages':
      answers = await onBoth(run, async (side, index) =>
        read(await request(side, `/v1/chat/completions/${encodeURIComponent(resolveRef(`@${op.target}`, run, index))}/messages?${queryString(op.query, run, index)}`), run.ids[index]!),
      );
      break;
    case 'usage':
      answers = await onBoth(run, async (side, index) => read(await request(side, `/v1/stored-completions/usage?${queryString(op.query, run, index)}`), run.ids[index]!));
      break;
    case 'export':
      answers = await onBoth(run, async (side, index) => read(await request(side, `/v1/stored-completions/export?${queryString(op.query, run, index)}`), run.ids[index]!));
      break;
  }
  log.push(op);
  for (const answer of answers) delete answer.raw;
  expect(answers[0]!.status, `${JSON.stringify(log)}\n${JSON.stringify(answers[0]!.body)}`).toBeLessThan(500);
  expect(answers[1], `after ${JSON.stringify(log)}`).toEqual(answers[0]);
}

describe('SQLite and PostgreSQL answer every sequence of calls alike', () => {
  it('random creates, lists, searches, updates, deletes, messages, usage and exports', async () => {
    let runNumber = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
        const run: Run = { key: `sk-diff-${SEED}-${runNumber++}-${Math.random()}`, made: [], ids: [new Map(), new Map()], taken: new Set(), words: [], nextUnique: 0 };
        const log: unknown[] = [];
        for (const op of ops) await perform(op, run, log);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);
});
