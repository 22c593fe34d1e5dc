import type OpenAI from 'openai';
import type { ChatCompletionListParams } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { assertMatchesSchema } from './helpers/openai-schema.ts';
import { idsInListOrder } from './helpers/list-order.ts';
import { FIRST_CREATED, type Made, matchesSearch, OPERATORS_TEXT, seedSearchable, SPACING } from './helpers/searchable-seed.ts';
import { projectOf } from './helpers/source-service.ts';
import { DEFAULT_KEY, startService, type Service } from './helpers/service.ts';

/**
 * The list's extensions (docs/api.md): `created_after` / `created_before` and
 * `search`, alone and with every filter, paged to the end through the official
 * client (its list passes unknown query keys through), and their bad input.
 * The completions are test/helpers/searchable-seed.ts's.
 */
let upstream: FakeUpstream;
let service: Service;
const made: Made[] = [];
/**
 * The same completions behind a store that walks for every search: it walks the list's index and
 * asks the full-text index per row, and after 9 entries sorts the matches if the page is not full.
 * The default store sorts them (fewer than its threshold here), so the two cover every way a
 * search is served.
 */
let walking: Service;
const walkingMade: Made[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url });
  await seedSearchable(service, upstream, made);
  walking = await startService({ upstreamUrl: upstream.url, storeOptions: { searchSortThreshold: 0, searchWalkLimit: 9, searchWalkFill: 0 } });
  await seedSearchable(walking, upstream, walkingMade);
});

afterAll(async () => {
  await service.close();
  await walking.close();
  await upstream.close();
});

function expectedIds(filter: (m: Made) => boolean, order: 'asc' | 'desc', from: Made[] = made): string[] {
  return idsInListOrder(from, filter, order);
}

/** Auto-pages with the official client; the extension parameters ride along in its query. */
async function collect(client: OpenAI, query: Record<string, unknown>): Promise<string[]> {
  const ids: string[] = [];
  for await (const completion of client.chat.completions.list(query as ChatCompletionListParams)) ids.push(completion.id);
  return ids;
}

async function errorOf(path: string): Promise<{ status: number; body: unknown }> {
  const res = await service.request(path);
  return { status: res.status, body: await res.json() };
}

const AFTER = FIRST_CREATED + 10 * SPACING; // completions 40 and later
const BEFORE = FIRST_CREATED + 30 * SPACING; // completions before 120

type Shape = [name: string, query: Record<string, unknown>, filter: (m: Made) => boolean];

const FILTERS: Shape[] = [
  ['no other filter', {}, () => true],
  ['a model', { model: 'model-b' }, (m) => m.requestedModel === 'model-b'],
  ['a metadata pair', { metadata: { user: 'u2' } }, (m) => m.metadata.user === 'u2'],
  ['two pairs and a model', { model: 'model-a-2024-01-01', metadata: { env: 'prod', user: 'u0' } }, (m) => m.model === 'model-a-2024-01-01' && m.metadata.user === 'u0'],
];

const RANGES: Shape[] = [
  ['no range', {}, () => true],
  ['created_after', { created_after: AFTER }, (m) => m.created >= AFTER],
  ['created_before', { created_before: BEFORE }, (m) => m.created < BEFORE],
  ['both bounds', { created_after: AFTER, created_before: BEFORE }, (m) => m.created >= AFTER && m.created < BEFORE],
];

const SEARCHES: Shape[] = [
  ['no search', {}, () => true],
  ['a common word', { search: 'apple' }, (m) => matchesSearch(m, 'apple')],
  ['a rare word', { search: 'zebra' }, (m) => matchesSearch(m, 'zebra')],
  ['a word of the replies', { search: 'BANANA' }, (m) => matchesSearch(m, 'banana')],
  ['two words', { search: 'apple banana' }, (m) => matchesSearch(m, 'apple banana')],
];

describe('get /v1/chat/completions with created_after, created_before and search', () => {
  for (const [filterName, filterQuery, filter] of FILTERS) {
    for (const [rangeName, rangeQuery, inRange] of RANGES) {
      for (const [searchName, searchQuery, found] of SEARCHES) {
        if (rangeName === 'no range' && searchName === 'no search') continue;
        it(`pages ${searchName}, ${rangeName}, ${filterName} to the end in both orders, each match once`, async () => {
          for (const [target, from] of [[service, made], [walking, walkingMade]] as const) {
            for (const order of ['asc', 'desc'] as const) {
              const ids = await collect(target.client(), { ...filterQuery, ...rangeQuery, ...searchQuery, order, limit: 4 });
              expect(ids).toEqual(expectedIds((m) => filter(m) && inRange(m) && found(m), order, from));
            }
          }
        });
      }
    }
  }

  it('serves the walking store\'s searches by a walk, the rare word\'s too (the matrix above covers both ways)', async () => {
    const project = await projectOf(walking, DEFAULT_KEY);
    for (const search of ['apple', 'zebra']) {
      for (const metadata of [[], [['user', 'u2']]] as [string, string][][]) {
        const { walked } = await walking.store.explainList(project, { after: undefined, limit: 4, order: 'asc', model: undefined, metadata, search });
        expect(walked?.table, `${search} ${JSON.stringify(metadata)}`).not.toBe('completion_search');
      }
    }
  });

  it('finds something in every planted case (the matrix above is not vacuous)', () => {
    expect(made.filter((m) => matchesSearch(m, 'zebra')).length).toBe(9);
    expect(made.filter((m) => matchesSearch(m, 'apple banana') && m.created >= AFTER && m.created < BEFORE).length).toBeGreaterThan(5);
  });

  it('serves a searched page exactly like a list page: schema, ids and has_more', async () => {
    const all = expectedIds((m) => matchesSearch(m, 'apple'), 'desc');
    const res = await service.request('/v1/chat/completions?search=apple&order=desc&limit=5');
    expect(res.status).toBe(200);
    const page = await res.json();
    assertMatchesSchema('ChatCompletionList', page);
    expect(page.data.map((c: { id: string }) => c.id)).toEqual(all.slice(0, 5));
    expect(page.first_id).toBe(all[0]);
    expect(page.last_id).toBe(all[4]);
    expect(page.has_more).toBe(true);
    const one = await (await service.request(`/v1/chat/completions/${all[0]}`)).json();
    expect(page.data[0]).toEqual(one);
  });

  it('says has_more: false on a page that ends exactly at the last match', async () => {
    const all = expectedIds((m) => matchesSearch(m, 'zebra'), 'asc');
    const res = await service.request(`/v1/chat/completions?search=zebra&limit=${all.length}`);
    const page = await res.json();
    expect(page.data.map((c: { id: string }) => c.id)).toEqual(all);
    expect(page.has_more).toBe(false);
  });

  it('takes an after cursor outside the range or the search and continues from its position', async () => {
    // A completion before the range and without `zebra`: the page starts at the range.
    const outside = made.find((m) => m.created < AFTER && !matchesSearch(m, 'zebra'))!;
    const ids = await collect(service.client(), { after: outside.id, created_after: AFTER, search: 'zebra', limit: 2 });
    expect(ids).toEqual(expectedIds((m) => m.created >= AFTER && matchesSearch(m, 'zebra'), 'asc'));
    const inside = expectedIds((m) => m.created >= AFTER && m.created < BEFORE, 'desc')[7]!;
    const rest = await collect(service.client(), { after: inside, created_after: AFTER, created_before: BEFORE, order: 'desc', limit: 3 });
    expect(rest).toEqual(expectedIds((m) => m.created >= AFTER && m.created < BEFORE, 'desc').slice(8));
  });

  it('treats the bounds as inclusive after and exclusive before, to the second', async () => {
    const second = FIRST_CREATED + 5 * SPACING;
    const ids = await collect(service.client(), { created_after: second, created_before: second + 1 });
    expect(ids).toEqual(expectedIds((m) => m.created === second, 'asc'));
    expect(ids).toHaveLength(4);
  });

  it('returns an empty page for an empty or inverted range', async () => {
    for (const query of ['created_after=100&created_before=100', `created_after=${BEFORE}&created_before=${AFTER}`, 'created_before=0']) {
      const res = await service.request(`/v1/chat/completions?${query}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
    }
  });

  it('treats an empty created_after= or created_before= as no bound', async () => {
    const ids = await collect(service.client(), { created_after: '', created_before: '', limit: 100 });
    expect(ids).toEqual(expectedIds(() => true, 'asc'));
  });
});

describe('search text is words, never a query language', () => {
  const operatorCases = [
    '"NEAR"',
    '(x OR y)',
    '-minus',
    '*star*',
    'col:umn',
    'NEAR(x y)',
    'x AND y OR minus',
    OPERATORS_TEXT,
    '"unbalanced',
    "x' OR '1'='1",
  ];
  for (const search of operatorCases) {
    it(`finds ${JSON.stringify(search)} as plain words`, async () => {
      const ids = await collect(service.client(), { search, limit: 100 });
      const expected = expectedIds((m) => matchesSearch(m, search), 'asc');
      expect(ids).toEqual(expected);
    });
  }

  it('matches every word (AND), whatever its case, accents folded', async () => {
    expect(await collect(service.client(), { search: 'APPLE zebra', limit: 100 })).toEqual(
      expectedIds((m) => matchesSearch(m, 'apple zebra'), 'asc'),
    );
    const accented = expectedIds((m) => m.text.includes('Crème'), 'asc');
    expect(accented.length).toBeGreaterThan(0);
    expect(await collect(service.client(), { search: 'creme BRULEE', limit: 100 })).toEqual(accented);
  });

  it('reads a NUL inside a word as the index does, a separator: "apple\\0zebra" finds what "apple-zebra" finds', async () => {
    for (const target of [service, walking]) {
      const hyphen = await collect(target.client(), { search: 'apple-zebra', limit: 100 });
      expect(await collect(target.client(), { search: 'apple\u0000zebra', limit: 100 })).toEqual(hyphen);
      expect(await collect(target.client(), { search: '\u0000apple zebra\u0000', limit: 100 })).toEqual(
        await collect(target.client(), { search: 'apple zebra', limit: 100 }),
      );
      const usage = await target.request(`/v1/stored-completions/usage?search=${encodeURIComponent('apple\u0000zebra')}`);
      expect(usage.status).toBe(200);
    }
  });

  it('matches whole words only (no prefixes): "appl" finds nothing', async () => {
    expect(await collect(service.client(), { search: 'appl' })).toEqual([]);
  });

  it('answers an empty page for a search with no letters or digits', async () => {
    for (const search of ['*', '"', '()', '-', '"" ** --']) {
      const res = await service.request(`/v1/chat/completions?search=${encodeURIComponent(search)}`);
      expect(res.status, search).toBe(200);
      expect(await res.json()).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
    }
  });

  it('accepts a search of the longest allowed length (1000 characters)', async () => {
    const search = `${'apple '.repeat(165)}zebra`.padEnd(1000, '*');
    expect(search).toHaveLength(1000);
    expect(await collect(service.client(), { search, limit: 100 })).toEqual(expectedIds((m) => matchesSearch(m, 'apple zebra'), 'asc'));
  });
});

describe('bad input on the list extensions', () => {
  const invalidInteger = (name: string, raw: string) => ({
    status: 400,
    body: {
      error: {
        message: `Invalid '${name}': expected an integer (Unix seconds), but got '${raw}' instead.`,
        type: 'invalid_request_error',
        param: name,
        code: 'invalid_type',
      },
    },
  });

  for (const name of ['created_after', 'created_before']) {
    for (const raw of ['abc', '1.5', '1e9', '0x10', '99999999999999999999', 'now']) {
      it(`refuses ${name}=${raw} with a 400 naming ${name}`, async () => {
        expect(await errorOf(`/v1/chat/completions?${name}=${encodeURIComponent(raw)}`)).toEqual(invalidInteger(name, raw));
      });
    }
    it(`refuses a repeated ${name}`, async () => {
      expect(await errorOf(`/v1/chat/completions?${name}=1&${name}=2`)).toEqual({
        status: 400,
        body: { error: { message: `Invalid '${name}': expected a single value, but got 2 values.`, type: 'invalid_request_error', param: name, code: 'invalid_type' } },
      });
    });
  }

  it('accepts negative and zero seconds (a provider may send created: 0)', async () => {
    const res = await service.request('/v1/chat/completions?created_after=-5&created_before=0');
    expect(res.status).toBe(200);
  });

  for (const raw of ['', '%20', '%20%20%09%0A']) {
    it(`refuses search=${raw} (empty or blank) with a 400 naming search`, async () => {
      expect(await errorOf(`/v1/chat/completions?search=${raw}`)).toEqual({
        status: 400,
        body: {
          error: {
            message: "Invalid 'search': expected at least one word, but got an empty or blank string instead.",
            type: 'invalid_request_error',
            param: 'search',
            code: 'string_below_min_length',
          },
        },
      });
    });
  }

  it('refuses a search longer than 1000 characters', async () => {
    expect(await errorOf(`/v1/chat/completions?search=${'a'.repeat(1001)}`)).toEqual({
      status: 400,
      body: {
        error: {
          message: "Invalid 'search': string too long. Expected a string with maximum length 1000, but got a string with length 1001 instead.",
          type: 'invalid_request_error',
          param: 'search',
          code: 'string_above_max_length',
        },
      },
    });
  });

  it('surfaces the 400 through the official client as BadRequestError', async () => {
    const error = await collect(service.client(), { search: ' ' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400, param: 'search' });
  });
});

describe('the extensions see only the caller project', () => {
  it('never finds another project\'s completions by search or range', async () => {
    const other = service.client('sk-test-other-project-0002');
    expect(await collect(other, { search: 'apple' })).toEqual([]);
    expect(await collect(other, { created_after: 0 })).toEqual([]);
    // Its own completion with the same word is found, and only it.
    upstream.nextIds.push('chatcmpl-other-project-apple');
    await other.chat.completions.create({ model: 'model-a', messages: [{ role: 'user', content: 'apple' }], store: true });
    expect(await collect(other, { search: 'apple', created_after: 0 })).toEqual(['chatcmpl-other-project-apple']);
    expect(await collect(service.client(), { search: 'apple', limit: 100 })).toEqual(expectedIds((m) => matchesSearch(m, 'apple'), 'asc'));
  });
});
