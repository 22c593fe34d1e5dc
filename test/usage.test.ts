import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { idsInListOrder } from './helpers/list-order.ts';
import { FIRST_CREATED, type Made, matchesSearch, seedSearchable, SPACING } from './helpers/searchable-seed.ts';
import { startService, type Service } from './helpers/service.ts';

/**
 * `GET /v1/stored-completions/usage` (docs/api.md): figures per UTC day and responded model
 * for the list's filters, read from the rollup or added up over the completions, checked
 * against figures computed here from what the test made; deletes and retention take
 * completions out; the bound on filtered figures; the 404 for our unknown paths.
 */

let upstream: FakeUpstream;
let service: Service;
const made: Made[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url });
  await seedSearchable(service, upstream, made);
});

afterAll(async () => {
  await service.close();
  await upstream.close();
});

interface UsageItem {
  day: string;
  model: string;
  completions: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What the endpoint must answer for these completions: grouped by UTC day and responded model, sorted. */
function expectedUsage(from: Made[]): UsageItem[] {
  const groups = new Map<string, UsageItem>();
  for (const m of from) {
    const day = new Date(Math.floor(m.created / 86_400) * 86_400_000).toISOString().slice(0, 10);
    const key = `${day}\u0000${m.model}`;
    const item = groups.get(key) ?? { day, model: m.model, completions: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
    item.completions += 1;
    item.prompt_tokens += m.tokens.prompt;
    item.completion_tokens += m.tokens.completion;
    item.total_tokens += m.tokens.total;
    groups.set(key, item);
  }
  return [...groups.values()].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : Buffer.compare(Buffer.from(a.model), Buffer.from(b.model))));
}

async function usage(query: string, target = service, key?: string): Promise<{ status: number; body: unknown }> {
  const res = await target.request(`/v1/stored-completions/usage${query ? `?${query}` : ''}`, key ? { key } : {});
  return { status: res.status, body: await res.json() };
}

const DAY = 86_400;
const ALIGNED_AFTER = FIRST_CREATED + DAY;
const ALIGNED_BEFORE = FIRST_CREATED + 3 * DAY;
const CUT_AFTER = FIRST_CREATED + 7 * SPACING + 1;
const CUT_BEFORE = FIRST_CREATED + 30 * SPACING;

const CASES: [name: string, query: string, filter: (m: Made) => boolean][] = [
  ['no filter (rollup)', '', () => true],
  ['a requested model (rollup)', 'model=model-b', (m) => m.requestedModel === 'model-b'],
  ['a responded model (rollup)', 'model=model-c-2024-01-01', (m) => m.model === 'model-c-2024-01-01'],
  ['day-aligned bounds (rollup)', `created_after=${ALIGNED_AFTER}&created_before=${ALIGNED_BEFORE}`, (m) => m.created >= ALIGNED_AFTER && m.created < ALIGNED_BEFORE],
  ['a model and a day-aligned lower bound (rollup)', `model=model-a&created_after=${ALIGNED_AFTER}`, (m) => m.requestedModel === 'model-a' && m.created >= ALIGNED_AFTER],
  ['bounds that cut days (walked)', `created_after=${CUT_AFTER}&created_before=${CUT_BEFORE}`, (m) => m.created >= CUT_AFTER && m.created < CUT_BEFORE],
  ['a metadata pair (walked)', 'metadata[user]=u1', (m) => m.metadata.user === 'u1'],
  ['two pairs and a model (walked)', 'metadata[user]=u2&metadata[env]=prod&model=model-b', (m) => m.metadata.user === 'u2' && m.requestedModel === 'model-b'],
  ['a search (walked)', 'search=apple', (m) => matchesSearch(m, 'apple')],
  [
    'everything at once (walked)',
    `search=banana&metadata[env]=dev&model=model-a&created_after=${CUT_AFTER}&created_before=${CUT_BEFORE}`,
    (m) => matchesSearch(m, 'banana') && m.metadata.env === 'dev' && m.requestedModel === 'model-a' && m.created >= CUT_AFTER && m.created < CUT_BEFORE,
  ],
  // Bounds any integer may be: their days lie beyond any stored one (and beyond PostgreSQL's integer day).
  ['the widest bounds, cutting days (rollup and walked)', `created_after=${-(2 ** 53 - 1)}&created_before=${2 ** 53 - 1}`, () => true],
  ['a day-aligned lower bound 10^11 days before 1970 (rollup)', `created_after=${-DAY * 10 ** 11}`, () => true],
  ['a day-aligned upper bound 10^11 days before 1970 (rollup)', `created_before=${-DAY * 10 ** 11}`, () => false],
  ['a search with no word', 'search=***', () => false],
  ['a model never used', 'model=gpt-nothing', () => false],
];

describe('get /v1/stored-completions/usage', () => {
  for (const [name, query, filter] of CASES) {
    it(`adds up ${name} per UTC day and responded model`, async () => {
      const expected = expectedUsage(made.filter(filter));
      expect(await usage(query)).toEqual({ status: 200, body: { object: 'list', data: expected, truncated: false } });
    });
  }

  it('is not vacuous: the figures span several days and models, with tokens that were missing or not integers', () => {
    const all = expectedUsage(made);
    expect(new Set(all.map((item) => item.day))).toEqual(new Set(['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04']));
    expect(all.length).toBeGreaterThan(10);
    expect(made.some((m) => m.tokens.prompt === 0 && m.tokens.completion > 0)).toBe(true);
  });

  it('answers the exact figures of the brief\'s example shape', async () => {
    const { body } = (await usage(`model=model-a&created_after=${FIRST_CREATED}&created_before=${FIRST_CREATED + 1}`)) as { body: { data: UsageItem[] } };
    expect(body.data).toEqual([{ day: '2026-01-01', model: 'model-a-2024-01-01', completions: 2, prompt_tokens: 23, completion_tokens: 3, total_tokens: 26 }]);
  });

  it('refuses the list\'s bad filters with the list\'s errors', async () => {
    expect(await usage('created_after=yesterday')).toEqual({
      status: 400,
      body: { error: { message: "Invalid 'created_after': expected an integer (Unix seconds), but got 'yesterday' instead.", type: 'invalid_request_error', param: 'created_after', code: 'invalid_type' } },
    });
    expect(await usage('search=%20')).toEqual({
      status: 400,
      body: { error: { message: "Invalid 'search': expected at least one word, but got an empty or blank string instead.", type: 'invalid_request_error', param: 'search', code: 'string_below_min_length' } },
    });
    expect((await usage(`metadata[k]=${'v'.repeat(513)}`)).status).toBe(400);
  });

  it('needs a key, and shows a key only its own project', async () => {
    const res = await service.request('/v1/stored-completions/usage', { auth: false });
    expect(res.status).toBe(401);
    expect(await usage('', service, 'sk-test-someone-else-0009')).toEqual({ status: 200, body: { object: 'list', data: [], truncated: false } });
    expect(await usage('metadata[user]=u1', service, 'sk-test-someone-else-0009')).toEqual({ status: 200, body: { object: 'list', data: [], truncated: false } });
  });
});

describe('usage follows deletes and retention', () => {
  it('takes a deleted completion out at once, and drops a day whose last completion goes', async () => {
    const fake = await startFakeUpstream();
    const own = await startService({ upstreamUrl: fake.url });
    try {
      const mine: Made[] = [];
      await seedSearchable(own, fake, mine);
      const client = own.client();
      // Every completion of the last day, and two more.
      const lastDay = Math.floor(mine.at(-1)!.created / DAY);
      const doomed = [...mine.filter((m) => Math.floor(m.created / DAY) === lastDay), mine[3]!, mine[40]!];
      for (const m of doomed) await client.chat.completions.delete(m.id);
      const kept = mine.filter((m) => !doomed.includes(m));
      const filters: [string, (m: Made) => boolean][] = [
        ['', () => true],
        ['metadata[env]=prod', (m) => m.metadata.env === 'prod'],
        ['model=model-a', (m) => m.requestedModel === 'model-a'],
        ['search=apple', (m) => matchesSearch(m, 'apple')],
      ];
      for (const [query, filter] of filters) {
        expect(await usage(query, own)).toEqual({ status: 200, body: { object: 'list', data: expectedUsage(kept.filter(filter)), truncated: false } });
      }
      // The rollup row itself is gone, not left at zero.
      expect(await own.countRows(`usage_daily WHERE day = ${lastDay}`)).toBe(0);
      expect(await own.countRows(`usage_daily WHERE day = ${lastDay - 1}`)).toBeGreaterThan(0);
      // Search no longer finds what was deleted.
      const searched: string[] = [];
      for await (const c of client.chat.completions.list({ search: 'apple', limit: 100 } as never)) searched.push((c as { id: string }).id);
      expect(searched).toEqual(idsInListOrder(kept, (m) => matchesSearch(m, 'apple'), 'asc'));
    } finally {
      await own.close();
      await fake.close();
    }
  });

  it('takes expired completions out when retention sweeps', async () => {
    const fake = await startFakeUpstream();
    const own = await startService({ upstreamUrl: fake.url });
    try {
      const mine: Made[] = [];
      await seedSearchable(own, fake, mine);
      // Every completion was stored just now: a sweep of everything stored before tomorrow expires them all.
      let swept = 0;
      for (;;) {
        const deleted = await own.store.deleteExpired(Math.floor(Date.now() / 1000) + DAY, 40, Math.floor(Date.now() / 1000) + DAY);
        swept += deleted;
        if (deleted === 0) break;
      }
      expect(swept).toBe(mine.length);
      expect(await usage('', own)).toEqual({ status: 200, body: { object: 'list', data: [], truncated: false } });
      expect(await own.countRows('usage_daily')).toBe(0);
      const res = await own.request('/v1/chat/completions?search=apple');
      expect((await res.json()).data).toEqual([]);
    } finally {
      await own.close();
      await fake.close();
    }
  });
});

describe('the bound on filtered usage', () => {
  // A search's matches are read from the full-text index when few, or by walking the completions newest stored first when many.
  for (const [strategy, searchSortThreshold] of [['a search read from the index', undefined], ['a search walked', 0]] as const) {
  it(`adds up the newest matches only and says truncated when more match (${strategy})`, async () => {
    const fake = await startFakeUpstream();
    const storeOptions = searchSortThreshold === undefined ? { usageWalkLimit: 10 } : { usageWalkLimit: 10, searchSortThreshold };
    const own = await startService({ upstreamUrl: fake.url, storeOptions });
    try {
      const mine: Made[] = [];
      await seedSearchable(own, fake, mine);
      const newest = (filter: (m: Made) => boolean, count: number) => {
        const ids = new Set(idsInListOrder(mine, filter, 'desc').slice(0, count));
        return mine.filter((m) => ids.has(m.id));
      };
      const prod = (m: Made) => m.metadata.env === 'prod';
      expect(await usage('metadata[env]=prod', own)).toEqual({ status: 200, body: { object: 'list', data: expectedUsage(newest(prod, 10)), truncated: true } });
      // With a search, the most recently stored matches (`mine` is in the order they were stored).
      const apple = mine.filter((m) => matchesSearch(m, 'apple'));
      expect(await usage('search=apple', own)).toEqual({ status: 200, body: { object: 'list', data: expectedUsage(apple.slice(-10)), truncated: true } });
      expect(await usage('search=zebra', own)).toEqual({ status: 200, body: { object: 'list', data: expectedUsage(mine.filter((m) => matchesSearch(m, 'zebra'))), truncated: false } });
      // Exactly at the bound is not truncated.
      const ten = (m: Made) => m.metadata.user === 'u1' && m.created >= mine[112]!.created;
      expect(mine.filter(ten)).toHaveLength(10);
      expect(await usage(`metadata[user]=u1&created_after=${mine[112]!.created}`, own)).toEqual({
        status: 200,
        body: { object: 'list', data: expectedUsage(mine.filter(ten)), truncated: false },
      });
      // A range that cuts a day: the whole days exact from the rollup, the cut day bounded.
      const cutDay = (m: Made) => m.created >= FIRST_CREATED + 1 && m.created < FIRST_CREATED + DAY;
      expect(mine.filter(cutDay).length).toBeGreaterThan(10);
      expect(await usage(`created_after=${FIRST_CREATED + 1}`, own)).toEqual({
        status: 200,
        body: { object: 'list', data: expectedUsage([...newest(cutDay, 10), ...mine.filter((m) => m.created >= FIRST_CREATED + DAY)]), truncated: true },
      });
      // The rollup is never bounded.
      expect(await usage('', own)).toEqual({ status: 200, body: { object: 'list', data: expectedUsage(mine), truncated: false } });
    } finally {
      await own.close();
      await fake.close();
    }
  });
  }
});

describe('/v1/stored-completions/ is ours', () => {
  for (const [method, path] of [
    ['GET', '/v1/stored-completions/nope'],
    ['GET', '/v1/stored-completions'],
    ['GET', '/v1/stored-completions/usage/extra'],
    ['POST', '/v1/stored-completions/usage'],
    ['DELETE', '/v1/stored-completions/anything/deeper'],
  ] as const) {
    it(`answers ${method} ${path} with OpenAI's 404, never asking the provider`, async () => {
      const before = upstream.received.length;
      const res = await service.request(path, { method });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: { message: `Invalid URL (${method} ${path})`, type: 'invalid_request_error', param: null, code: null } });
      expect(upstream.received.length).toBe(before);
    });
  }

  it('needs a key there too (401 before any 404)', async () => {
    const res = await service.request('/v1/stored-completions/nope', { auth: false });
    expect(res.status).toBe(401);
  });
});
