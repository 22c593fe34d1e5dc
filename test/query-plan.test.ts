import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { createSqliteStore, type Store } from '../src/store/index.ts';
import { createListQueries, PAGE_ITEM_COLUMNS, pageSql } from '../src/store/sqlite/list-query.ts';
import { createStatementCache } from '../src/store/sqlite/statements.ts';
import type { ListParams, Metadata, SortOrder } from '../src/validation.ts';
import { toCompletionRecord } from '../src/wire.ts';

/**
 * The list's speed, kept without timing anything: every query shape must walk
 * one index in (created, id) order and look up each row by key, so a page
 * touches about one page of entries at any table size. A temporary b-tree
 * (a sort) or a SCAN of a table would make the cost grow with the data.
 */

const PROJECT = 'project-a';
const COUNT = 400;

let db: SqliteDatabase;
let store: Store;

/** Completion n: two a second; env 1 in 2, user 1 in 40, `o3-mini` 1 in 50, `burst` on the first 100 only. */
function metadataOf(n: number): Metadata {
  const metadata: Metadata = { env: n % 2 === 0 ? 'prod' : 'staging', user: `u${n % 40}` };
  if (n < 100) metadata.burst = 'yes';
  return metadata;
}

function modelOf(n: number): string {
  return n % 50 === 0 ? 'o3-mini' : n % 2 === 0 ? 'gpt-4o' : 'gpt-4o-mini';
}

beforeEach(async () => {
  db = openDatabase(':memory:');
  store = createSqliteStore(db);
  const records = Array.from({ length: COUNT }, (_, n) =>
    toCompletionRecord({
      request: { model: modelOf(n), messages: [{ role: 'user', content: `question ${n}` }] },
      response: {
        id: `chatcmpl-${String(n).padStart(4, '0')}`,
        created: 1_700_000_000 + Math.floor(n / 2),
        model: `${modelOf(n)}-2024-08-06`,
        choices: [{ index: 0, message: { role: 'assistant', content: `answer ${n}` }, finish_reason: 'stop' }],
      },
      id: `chatcmpl-${String(n).padStart(4, '0')}`,
      requestId: `req_${n}`,
      metadata: metadataOf(n),
      now: 0,
    }),
  );
  await store.saveCompletions(PROJECT, records);
});

afterEach(() => {
  db.close();
});

function params(overrides: Partial<ListParams>): ListParams {
  return { after: undefined, limit: 20, order: 'asc', model: undefined, metadata: [], ...overrides };
}

const CURSOR = 'chatcmpl-0200';

/** The walked index's bounds: the cursor, and with the test's created range its two sides. */
function range(order: SortOrder, cursor: boolean, idColumn: string, createdRange = false): string {
  const keyset = `(created,${idColumn})${order === 'asc' ? '>' : '<'}(?,?)`;
  if (!createdRange) return cursor ? ` AND ${keyset}` : '';
  // The cursor lies inside the range: it replaces the range's bound on its side of the walk.
  if (!cursor) return ' AND created>? AND created<?';
  return order === 'asc' ? ` AND ${keyset} AND created<?` : ` AND created>? AND ${keyset}`;
}

const SHAPES: {
  name: string;
  filter: Partial<ListParams>;
  walkedSteps: (order: SortOrder, cursor: boolean, createdRange?: boolean) => string[];
}[] = [
  {
    name: 'no filter',
    filter: {},
    walkedSteps: (order, cursor, createdRange) => [`SEARCH c USING INDEX completions_project_created_idx (project_id=?${range(order, cursor, 'id', createdRange)})`],
  },
  {
    name: 'model',
    filter: { model: 'gpt-4o' },
    walkedSteps: (order, cursor, createdRange) => [
      `SEARCH w USING PRIMARY KEY (project_id=? AND model=?${range(order, cursor, 'completion_id', createdRange)})`,
      'SEARCH c USING INDEX completions_project_id_idx (project_id=? AND id=?)',
    ],
  },
  {
    name: 'one metadata pair',
    filter: { metadata: [['user', 'u7']] },
    walkedSteps: (order, cursor, createdRange) => [
      `SEARCH w USING PRIMARY KEY (project_id=? AND key=? AND value=?${range(order, cursor, 'completion_id', createdRange)})`,
      'SEARCH c USING INDEX completions_project_id_idx (project_id=? AND id=?)',
    ],
  },
  {
    name: 'two metadata pairs',
    filter: { metadata: [['env', 'prod'], ['user', 'u8']] },
    walkedSteps: (order, cursor, createdRange) => [
      `SEARCH w USING PRIMARY KEY (project_id=? AND key=? AND value=?${range(order, cursor, 'completion_id', createdRange)})`,
      'SEARCH x EXISTS USING PRIMARY KEY (project_id=? AND key=? AND value=? AND created=? AND completion_id=?)',
      'SEARCH c USING INDEX completions_project_id_idx (project_id=? AND id=?)',
    ],
  },
  {
    name: 'model and a metadata pair',
    filter: { model: 'gpt-4o', metadata: [['user', 'u8']] },
    walkedSteps: (order, cursor, createdRange) => [
      `SEARCH w USING PRIMARY KEY (project_id=? AND key=? AND value=?${range(order, cursor, 'completion_id', createdRange)})`,
      'SEARCH x EXISTS USING PRIMARY KEY (project_id=? AND model=? AND created=? AND completion_id=?)',
      'SEARCH c USING INDEX completions_project_id_idx (project_id=? AND id=?)',
    ],
  },
];

/** A walk that starts in a temporary b-tree or scans a table grows with the data. */
function expectNoSortNorScan(steps: string[]): void {
  expect(steps.filter((step) => step.includes('TEMP B-TREE'))).toEqual([]);
  expect(steps.filter((step) => /^SCAN (?!\(subquery-\d+\)$)(?!s EXISTS VIRTUAL TABLE INDEX 0:=M)/.test(step))).toEqual([]);
}

/** Completions 100 to 299 (CURSOR, 200, lies inside). */
const CREATED_RANGE = { createdAfter: 1_700_000_050, createdBefore: 1_700_000_150 };

/** A common word (in every completion) is found by the walk and one full-text probe per row. */
const SEARCH_PROBE = 'SCAN s EXISTS VIRTUAL TABLE INDEX 0:=M2';

describe('list query plans', () => {
  for (const shape of SHAPES) {
    for (const cursor of [false, true]) {
      for (const order of ['asc', 'desc'] as const) {
        const page = () => params({ ...shape.filter, order, after: cursor ? CURSOR : undefined });
        it(`${shape.name}, ${cursor ? 'after a cursor' : 'first page'}, ${order}: walks one index in order and looks rows up by key`, async () => {
          const plan = await store.explainList(PROJECT, page());
          expect(plan.steps).toEqual([...shape.walkedSteps(order, cursor)]);
          expectNoSortNorScan(plan.steps);
        });

        it(`${shape.name}, ${cursor ? 'after a cursor' : 'first page'}, ${order}, in a created range: the range bounds the same walk`, async () => {
          const plan = await store.explainList(PROJECT, { ...page(), ...CREATED_RANGE });
          expect(plan.steps).toEqual([...shape.walkedSteps(order, cursor, true)]);
          expectNoSortNorScan(plan.steps);
        });

        it(`${shape.name}, ${cursor ? 'after a cursor' : 'first page'}, ${order}, searching a common word: the same walk, a probe per row`, async () => {
          const walking = createSqliteStore(db, { searchSortThreshold: 100 });
          const plan = await walking.explainList(PROJECT, { ...page(), ...CREATED_RANGE, search: 'question' });
          expect(plan.steps).toEqual([...shape.walkedSteps(order, cursor, true), SEARCH_PROBE]);
          expectNoSortNorScan(plan.steps);
        });
      }
    }
  }

  it('drops a cursor looser than the range: the walk starts at the range, not at the cursor', async () => {
    const early = 'chatcmpl-0010';
    const asc = await store.explainList(PROJECT, params({ after: early, ...CREATED_RANGE }));
    expect(asc.steps[0]).toBe('SEARCH c USING INDEX completions_project_created_idx (project_id=? AND created>? AND created<?)');
    const late = 'chatcmpl-0390';
    const desc = await store.explainList(PROJECT, params({ after: late, order: 'desc', ...CREATED_RANGE }));
    expect(desc.steps[0]).toBe('SEARCH c USING INDEX completions_project_created_idx (project_id=? AND created>? AND created<?)');
  });

  it('searching a rare word sorts the keys of its few matches, then reads one page of rows', async () => {
    const walking = createSqliteStore(db, { searchSortThreshold: 100 });
    for (const metadata of [[], [['env', 'prod']]] as [string, string][][]) {
      const plan = await walking.explainList(PROJECT, params({ metadata, search: '7', after: CURSOR }));
      expect(plan.walked).toEqual({ table: 'completion_search', args: ['7'] });
      expect(plan.steps).toEqual([
        'CO-ROUTINE page',
        'SCAN s VIRTUAL TABLE INDEX 0:M2',
        'SEARCH c USING INTEGER PRIMARY KEY (rowid=?)',
        ...(metadata.length
          ? ['SEARCH x EXISTS USING PRIMARY KEY (project_id=? AND key=? AND value=? AND created=? AND completion_id=?)']
          : []),
        // The matches' keys alone: fewer than the threshold, counted before choosing.
        'USE TEMP B-TREE FOR ORDER BY',
        'SCAN page',
        'SEARCH c USING INTEGER PRIMARY KEY (rowid=?)',
        // One page, put back in order.
        'USE TEMP B-TREE FOR ORDER BY',
      ]);
    }
  });

  it('cuts a search walk after the walk limit, and sorts the matches when the page is not full by then', async () => {
    const cut = createSqliteStore(db, { searchSortThreshold: 100, searchWalkLimit: 3 });
    const page = params({ metadata: [['user', 'u7']], search: 'answer' });
    const plan = await cut.explainList(PROJECT, page);
    expect(plan.walked).toEqual({ table: 'metadata', args: ['user', 'u7'] });
    expect(plan.steps).toEqual([
      'SEARCH w USING PRIMARY KEY (project_id=? AND key=? AND value=? AND (created,completion_id)<(?,?))',
      'SEARCH c USING INDEX completions_project_id_idx (project_id=? AND id=?)',
      SEARCH_PROBE,
    ]);
    // The three walked entries hold three matches, fewer than a page: the page comes from the sorted matches.
    const expected = Array.from({ length: 10 }, (_, k) => `chatcmpl-${String(40 * k + 7).padStart(4, '0')}`);
    expect((await cut.listCompletions(PROJECT, page)).items.map((row) => row.id)).toEqual(expected);
    expect((await cut.listCompletions(PROJECT, { ...page, limit: 3 })).items.map((row) => row.id)).toEqual(expected.slice(0, 3));
    expect((await cut.listCompletions(PROJECT, { ...page, limit: 2 })).hasMore).toBe(true);
  });

  it('chooses by the count of matches in the project, up to the threshold', async () => {
    const common = (threshold: number) => createSqliteStore(db, { searchSortThreshold: threshold }).explainList(PROJECT, params({ search: 'question' }));
    expect((await common(400)).walked).toEqual({ table: 'completions', args: [] });
    expect((await common(401)).walked).toEqual({ table: 'completion_search', args: ['question'] });
    // Another project's matches do not count: `question` is in none of project-b's completions.
    await store.saveCompletion(
      'project-b',
      toCompletionRecord({
        request: { model: 'gpt-4o', messages: [{ role: 'user', content: 'question' }] },
        response: { id: 'chatcmpl-b', created: 1_700_000_000, model: 'gpt-4o', choices: [] },
        id: 'chatcmpl-b',
        requestId: 'req_b',
        metadata: {},
        now: 0,
      }),
    );
    const other = await createSqliteStore(db, { searchSortThreshold: 2 }).explainList('project-b', params({ search: 'question' }));
    expect(other.walked).toEqual({ table: 'completion_search', args: ['question'] });
  });
});

describe('the served page', () => {
  /** The statement a served page runs (see pageSql): the list query, folded into one row. */
  function pagePlan(page: ListParams): string[] {
    const { id: projectId } = db.prepare('SELECT id FROM projects WHERE name = ?').get(PROJECT) as { id: number };
    const query = createListQueries(createStatementCache(db)).buildListQuery(projectId, page, { columns: PAGE_ITEM_COLUMNS })!;
    return (db.prepare(`EXPLAIN QUERY PLAN ${pageSql(query.sql)}`).all(...query.args) as { detail: string }[]).map((r) => r.detail);
  }

  for (const shape of SHAPES) {
    for (const cursor of [false, true]) {
      for (const order of ['asc', 'desc'] as const) {
        it(`${shape.name}, ${cursor ? 'after a cursor' : 'first page'}, ${order}: runs the list's own walk as a co-routine, in order, no sort`, async () => {
          const page = params({ ...shape.filter, order, after: cursor ? CURSOR : undefined, ...CREATED_RANGE });
          const steps = pagePlan(page);
          const coroutine = /^CO-ROUTINE \((subquery-\d+)\)$/.exec(steps[0]!);
          expect(coroutine).not.toBeNull();
          expect(steps.slice(1, -1)).toEqual((await store.explainList(PROJECT, page)).steps);
          expect(steps.at(-1)).toBe(`SCAN (${coroutine![1]})`);
          expectNoSortNorScan(steps);
        });
      }
    }
  }
});

describe('which filter a list walks', () => {
  it('walks the rarer metadata pair, whichever order the query names them in', async () => {
    const common: [string, string] = ['env', 'prod'];
    const rare: [string, string] = ['user', 'u8'];
    for (const metadata of [[common, rare], [rare, common]]) {
      for (const order of ['asc', 'desc'] as const) {
        expect((await store.explainList(PROJECT, params({ metadata, order }))).walked).toEqual({ table: 'metadata', args: rare });
        expect((await store.explainList(PROJECT, params({ metadata, order, after: CURSOR }))).walked).toEqual({ table: 'metadata', args: rare });
      }
    }
  });

  it('walks the model when it is rarer than the pair, and the pair when the model is commoner', async () => {
    expect((await store.explainList(PROJECT, params({ model: 'o3-mini', metadata: [['env', 'prod']] }))).walked).toEqual({
      table: 'completion_models',
      args: ['o3-mini'],
    });
    expect((await store.explainList(PROJECT, params({ model: 'gpt-4o', metadata: [['user', 'u8']] }))).walked).toEqual({
      table: 'metadata',
      args: ['user', 'u8'],
    });
  });

  it('judges rarity where the page is: a pair dense early and absent later is walked only where it is rare', async () => {
    const metadata: [string, string][] = [['burst', 'yes'], ['env', 'prod']];
    // From the start, `burst` is on every completion and `env=prod` on every other one.
    expect((await store.explainList(PROJECT, params({ metadata, order: 'asc' }))).walked).toEqual({ table: 'metadata', args: ['env', 'prod'] });
    // From the end backwards, `burst` is 300 completions away.
    expect((await store.explainList(PROJECT, params({ metadata, order: 'desc' }))).walked).toEqual({ table: 'metadata', args: ['burst', 'yes'] });
  });

  it('returns the same page whichever filter it walks', async () => {
    const expectedIds = Array.from({ length: COUNT }, (_, n) => n)
      .filter((n) => n < 100 && n % 2 === 0)
      .map((n) => `chatcmpl-${String(n).padStart(4, '0')}`);
    for (const order of ['asc', 'desc'] as const) {
      const ids: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.listCompletions(PROJECT, params({ metadata: [['burst', 'yes'], ['env', 'prod']], order, after, limit: 7 }));
        ids.push(...page.items.map((row) => row.id));
        if (!page.hasMore) break;
        after = page.items.at(-1)!.id;
      }
      expect(ids).toEqual(order === 'asc' ? expectedIds : [...expectedIds].reverse());
    }
  });
});

describe('rows a list reads', () => {
  it('serves choices in index order, from the completion\'s own row', async () => {
    const choices = [2, 0, 1].map((index) => ({ index, message: { role: 'assistant', content: `choice ${index}` }, finish_reason: 'stop' }));
    await store.saveCompletion(
      'project-b',
      toCompletionRecord({
        request: { model: 'gpt-4o', messages: [] },
        response: { id: 'chatcmpl-many', created: 1_700_000_000, model: 'gpt-4o', choices: [choices[1], choices[2], choices[0]] },
        id: 'chatcmpl-many',
        requestId: 'req_many',
        metadata: {},
        now: 0,
      }),
    );
    const page = await store.listCompletions('project-b', params({}));
    const served = JSON.parse(`[${page.items[0]!.choices}]`) as { index: number }[];
    expect(served.map((c) => c.index)).toEqual([0, 1, 2]);
  });
});
