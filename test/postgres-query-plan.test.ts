import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, type Store } from '../src/store/index.ts';
import { cutWalkFills, storedOrderWalkPays } from '../src/store/postgres/search-strategy.ts';
import type { ListParams, Metadata, SortOrder } from '../src/validation.ts';
import { toCompletionRecord } from '../src/wire.ts';
import { openTestStore, type TestStore } from './helpers/service.ts';

/**
 * test/query-plan.test.ts for PostgreSQL: every list shape walks one index in
 * (created, id) order and looks each completion up by key, so a page touches
 * about one page of entries at any table size. A Seq Scan, or a Sort (which
 * would read every matching row before the first is returned), would make the
 * cost grow with the data. Plans are read with the statistics of a table
 * bigger than one page per filter, after ANALYZE, as a server would have them.
 */

const PROJECT = 'project-a';
const COUNT = 2_000;

let opened: TestStore;
let store: Store;

function metadataOf(n: number): Metadata {
  const metadata: Metadata = { env: n % 2 === 0 ? 'prod' : 'staging', user: `u${n % 40}` };
  if (n < 100) metadata.burst = 'yes';
  return metadata;
}

function modelOf(n: number): string {
  return n % 50 === 0 ? 'o3-mini' : n % 2 === 0 ? 'gpt-4o' : 'gpt-4o-mini';
}

beforeAll(async () => {
  opened = await openTestStore('postgres');
  store = opened.store;
  const records = Array.from({ length: COUNT }, (_, n) =>
    toCompletionRecord({
      request: { model: modelOf(n), messages: [{ role: 'user', content: `question ${n}` }] },
      response: {
        id: `chatcmpl-${String(n).padStart(5, '0')}`,
        created: 1_700_000_000 + Math.floor(n / 2),
        model: `${modelOf(n)}-2024-08-06`,
        choices: [{ index: 0, message: { role: 'assistant', content: `answer ${n}` }, finish_reason: 'stop' }],
      },
      id: `chatcmpl-${String(n).padStart(5, '0')}`,
      requestId: `req_${n}`,
      metadata: metadataOf(n),
      now: 0,
    }),
  );
  await store.saveCompletions(PROJECT, records);
  await store.saveCompletions('project-b', records.slice(0, 500));
  // Tombstones, as a database that has served deletes has: the cursor's position is also looked up there.
  await store.restore(Array.from({ length: 5_000 }, (_, n) => ({ kind: 'tombstone' as const, project: 'project-c', id: `chatcmpl-gone-${n}`, created: n, expiredAt: n })));
  await opened.analyze();
});

afterAll(async () => {
  await opened.close();
});

function params(overrides: Partial<ListParams>): ListParams {
  return { after: undefined, limit: 20, order: 'asc', model: undefined, metadata: [], ...overrides };
}

const CURSOR = 'chatcmpl-01000';

/**
 * The plan split in three: the walk; the cursor's lookups (InitPlans: run once, before the walk);
 * and, for a page with several filters, the CTE that picks which filter to walk (`walk_choice`).
 */
function splitCursorLookup(steps: string[]): { walk: string[]; cursor: string[]; choice: string[] } {
  const parts = { walk: [] as string[], cursor: [] as string[], choice: [] as string[] };
  let part: 'cursor' | 'choice' | undefined;
  let partDepth = 0;
  for (const step of steps) {
    const depth = step.length - step.trimStart().length;
    if (part !== undefined && depth <= partDepth) part = undefined;
    if (part === undefined && step.trimStart().startsWith('InitPlan: ')) [part, partDepth] = ['cursor', depth];
    if (part === undefined && step.trimStart().startsWith('CTE walk_choice: ')) [part, partDepth] = ['choice', depth];
    parts[part ?? 'walk'].push(step);
  }
  return parts;
}

/**
 * The cursor's position is one lookup by key in the completions, and one in the tombstones. A plan
 * that was run (a page with several filters, EXPLAIN ANALYZE) leaves out the tombstones' lookup
 * when the completions' found it, and reads the position once per walk that needs it.
 */
function expectCursorLookup(cursor: string[], ran = false): void {
  expect(cursor.filter((step) => /Seq Scan|Sort|Hash|Materialize|Bitmap/.test(step))).toEqual([]);
  // A walk's read of the walk_choice CTE's one row is no lookup.
  const scans = cursor.filter((step) => /Scan/.test(step) && !/CTE Scan/.test(step)).map((step) => step.trim().replace(/^InitPlan: /, ''));
  const inCompletions = expect.stringMatching(/^Index (Only )?Scan on completions using completions_project_id_idx/);
  const inTombstones = expect.stringMatching(/^Index (Only )?Scan on deleted_completions using deleted_completions_project_id_id_pk/);
  if (!ran) {
    expect(scans).toEqual([inCompletions, inTombstones]);
    return;
  }
  expect(scans.filter((step) => step.includes('completions_project_id_idx')).length).toBeGreaterThan(0);
  expect(scans).toEqual(scans.map((step) => (step.includes('deleted') ? inTombstones : inCompletions)));
}

/**
 * The choice of the walk, for a page with several filters: each filter's index walked in the page's
 * direction to its 21st entry (and the cursor's lookups), then those few rows (one per filter) sorted.
 */
function expectWalkChoice(choice: string[], filters: number, cursor: boolean, order: SortOrder): void {
  const direction = order === 'asc' ? 'Forward' : 'Backward';
  expect(choice.filter((step) => /Seq Scan|Hash|Materialize|Bitmap/.test(step))).toEqual([]);
  expect(choice.filter((step) => /Sort/.test(step)).map((step) => step.trim())).toEqual(['Sort']);
  const walks = choice.filter((step) => /Scan/.test(step) && !/completions_project_id_idx|deleted_completions_project_id_id_pk/.test(step));
  expect(walks.map((step) => step.trim())).toEqual(
    Array.from({ length: filters }, () => expect.stringMatching(new RegExp(`^Index (Only )?Scan on \\w+ using \\w+_filter_idx ${direction}$`))),
  );
  if (cursor) expectCursorLookup(choice.filter((step) => /Scan/.test(step) && !walks.includes(step)), true);
}

const filterCount = (filter: Partial<ListParams>) => (filter.metadata?.length ?? 0) + (filter.model === undefined ? 0 : 1);

const SHAPES: { name: string; filter: Partial<ListParams>; walkedIndex: string }[] = [
  { name: 'no filter', filter: {}, walkedIndex: 'completions_project_created_idx' },
  { name: 'model', filter: { model: 'gpt-4o' }, walkedIndex: 'completion_models_filter_idx' },
  { name: 'one metadata pair', filter: { metadata: [['user', 'u7']] }, walkedIndex: 'metadata_filter_idx' },
  { name: 'two metadata pairs', filter: { metadata: [['env', 'prod'], ['user', 'u8']] }, walkedIndex: 'metadata_filter_idx' },
  { name: 'model and a metadata pair', filter: { model: 'gpt-4o', metadata: [['user', 'u8']] }, walkedIndex: 'metadata_filter_idx' },
];

describe('PostgreSQL list query plans', () => {
  for (const shape of SHAPES) {
    for (const cursor of [false, true]) {
      for (const order of ['asc', 'desc'] as SortOrder[]) {
        const page = params({ ...shape.filter, order, after: cursor ? CURSOR : undefined });
        it(`${shape.name}, ${cursor ? 'after a cursor' : 'first page'}, ${order}: walks one index in order, no Seq Scan, no Sort`, async () => {
          expectOrderedWalk(await store.explainList(PROJECT, page), shape.walkedIndex, cursor, order, filterCount(shape.filter));
        });
        // Every completion has `question`: 2,000 matches, the sort threshold, so the page walks and probes each row.
        it(`${shape.name}, ${cursor ? 'after a cursor' : 'first page'}, ${order}, searching a common word: the same walk, each row's keys checked`, async () => {
          const plan = await store.explainList(PROJECT, { ...page, search: 'question' });
          // A search with several filters ranks them before the statement (its walk may be cut and asked again).
          expectOrderedWalk(plan, shape.walkedIndex, cursor, order, 1);
        });
      }
    }
  }

  it('searching a rare word takes its matches from the GIN index, sorts their keys, then reads one page of rows', async () => {
    for (const shape of SHAPES) {
      const plan = await store.explainList(PROJECT, params({ ...shape.filter, search: '7', after: CURSOR }));
      expect(plan.walked).toEqual({ table: 'completion_search', args: ['7'] });
      expect(plan.steps.filter((step) => /Seq Scan/.test(step))).toEqual([]);
      expect(plan.steps.map((step) => step.trim())).toContain('Bitmap Index Scan using completions_search_idx');
      // The page's rows are read by key after the sort, not before it.
      expect(plan.steps.map((step) => step.trim())).toContain('Index Scan on completions using completions_pkey Forward');
    }
  });
});

describe("a search page walks only when its cut walk is expected to fill it (the planner's guess for a rare word is high)", () => {
  // The store's 2,500 completions make the planner guess 12.5 matches for a word its statistics do not list (0.5%);
  // with the threshold at 1 that guess is over it, as the guess for such a word is over 2,000 at 1M rows.
  const lowered = () => createPostgresStore(opened.postgres!, { searchSortThreshold: 1 });
  const walkingAlways = () => createPostgresStore(opened.postgres!, { searchSortThreshold: 1, searchWalkFill: 0 });
  const RARE_SHAPES: Partial<ListParams>[] = [
    { search: '7' },
    { search: '7', after: CURSOR },
    { search: '1500', order: 'desc', after: CURSOR },
    { search: 'absentword' },
    { search: '7', metadata: [['env', 'staging']] },
    { search: '1503', model: 'gpt-4o-mini', metadata: [['user', 'u23']] },
  ];

  it('a rare word takes its matches from the GIN index at once, where the walk would expect 12 of the 21 rows it needs in its cut', async () => {
    for (const shape of RARE_SHAPES) {
      const plan = await lowered().explainList(PROJECT, params(shape));
      expect(plan.walked, JSON.stringify(shape)).toEqual({ table: 'completion_search', args: [shape.search] });
      expect(plan.steps.map((step) => step.trim())).toContain('Bitmap Index Scan using completions_search_idx');
    }
  });

  it('searchWalkFill 0 still walks for it (how tests reach the walk, its cut and its sort), with the same pages', async () => {
    for (const shape of RARE_SHAPES) {
      const plan = await walkingAlways().explainList(PROJECT, params(shape));
      expect(plan.walked?.table, JSON.stringify(shape)).not.toBe('completion_search');
      for (const limit of [1, 20]) {
        const page = params({ ...shape, limit });
        const pages = await Promise.all([walkingAlways(), lowered(), store].map((s) => s.listCompletions(PROJECT, page)));
        const [walked, sorted, byDefault] = pages.map((p) => ({ ids: p.items.map((row) => row.id), hasMore: p.hasMore }));
        expect(sorted, JSON.stringify(page)).toEqual(walked);
        expect(byDefault).toEqual(walked);
      }
    }
  });

  it('a common word still walks with the gate on', async () => {
    const plan = await lowered().explainList(PROJECT, params({ search: 'question', after: CURSOR }));
    expect(plan.walked).toEqual({ table: 'completions', args: [] });
  });
});

describe("a search page's gate: walk when the cut walk of 2,000 entries expects two pages' worth of matches", () => {
  const WANTED = 21;
  it.each([
    // expected matches (with the checked filters' share), the project's rows, walks
    ['a word the statistics do not list at 300,000 rows (pglist_300000: 1,500 guessed in a project of 148,380)', 1_500, 148_380, false],
    ['the same at 1M rows: 5,000 guessed in a project of 500,000', 5_000, 500_000, false],
    ['the same in a table of one project: 0.5%', 5_000, 1_000_000, false],
    ['a word in 1 of 50: 40 expected in the cut, under two pages', 10_000, 500_000, false],
    ['a word in 1 of 20: 100 expected in the cut', 25_000, 500_000, true],
    ['a word in half of a project (pglist_300000: 73,930 of 148,380)', 73_930, 148_380, true],
    ['a word in half, a 1-in-2 pair checked beside the walked one', 73_930 / 2, 148_380, true],
    ['a word in 1 of 20, a 1-in-10 pair checked: 10 expected', 25_000 / 10, 500_000, false],
    ['every completion (this file: "question" in 2,000 of 2,000)', 2_000, 2_000, true],
  ])('%s', (_, expected, projectRows, walks) => {
    expect(cutWalkFills(expected, projectRows, WANTED, 2_000)).toBe(walks);
  });

  it('a factor of 0 walks whatever the density (tests)', () => {
    expect(cutWalkFills(1, 1_000_000, WANTED, 3, 0)).toBe(true);
  });
});

/** One ordered index walk: the walked index first under the Limit, in the page's direction; no Seq Scan, Sort, Hash or Bitmap. */
function expectOrderedWalk(plan: { steps: string[] }, walkedIndex: string, cursor: boolean, order: SortOrder, filters: number): void {
  const direction = order === 'asc' ? 'Forward' : 'Backward';
  // One statement: the cursor's position is read inside it.
  const { walk, cursor: lookup, choice } = splitCursorLookup(plan.steps);
  if (cursor) expectCursorLookup(lookup, filters > 1);
  else expect(lookup.filter((step) => !/CTE Scan/.test(step))).toEqual([]);
  if (filters > 1) expectWalkChoice(choice, filters, cursor, order);
  else expect(choice).toEqual([]);
  expect(walk.filter((step) => /Seq Scan|Sort|Hash|Materialize|Bitmap/.test(step))).toEqual([]);
  expect(walk[0]).toBe('Limit');
  expect(walk.find((step) => /Index (Only )?Scan/.test(step))?.trim()).toMatch(
    new RegExp(`^Index (Only )?Scan on \\w+ using ${walkedIndex} ${direction}$`),
  );
  // Each completion of a filtered walk is one lookup by its unique key.
  if (walkedIndex !== 'completions_project_created_idx') {
    expect(walk.filter((step) => step.includes('on completions ')).map((step) => step.trim())).toEqual([
      'Index Scan on completions using completions_project_id_idx Forward',
    ]);
  }
}

describe("a usage summary's search: walked in stored order only when the matches are many for the table", () => {
  const WANTED = 20_001;
  it.each([
    // The planner's guess for a word its statistics do not list (a rare word, a typo): 0.5% of the table.
    ['a word the statistics do not list, a project of 500,000 in a table of 1M', 5_000, 500_000, false],
    ['the same in a project of 5M', 50_000, 5_000_000, false],
    ['a word in half of a project of 150,000 (measured: 0.48 s walked, 2.2 s from the index)', 74_775, 150_000, true],
    ['a word in half of a project of 500,000', 250_000, 500_000, true],
    ['a word in half of a project of 1M in a table of 100M', 500_000, 1_000_000, true],
  ])('%s', (_, expected, projectRows, walks) => {
    expect(storedOrderWalkPays(expected, WANTED, projectRows)).toBe(walks);
  });
});
