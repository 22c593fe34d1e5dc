import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { createSqliteStore, type Store } from '../src/store/index.ts';
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

/** The choices of each row: an ordered co-routine over their primary key, never a sort. */
const CHOICES_STEPS = [
  'CORRELATED SCALAR SUBQUERY 2',
  'CO-ROUTINE (subquery-1)',
  'SEARCH ch USING INDEX sqlite_autoindex_choices_1 (completion_seq=?)',
  'SCAN (subquery-1)',
];

function range(order: SortOrder, cursor: boolean, idColumn: string): string {
  return cursor ? ` AND (created,${idColumn})${order === 'asc' ? '>' : '<'}(?,?)` : '';
}

const SHAPES: { name: string; filter: Partial<ListParams>; walkedSteps: (order: SortOrder, cursor: boolean) => string[] }[] = [
  {
    name: 'no filter',
    filter: {},
    walkedSteps: (order, cursor) => [`SEARCH c USING INDEX completions_project_created_idx (project_id=?${range(order, cursor, 'id')})`],
  },
  {
    name: 'model',
    filter: { model: 'gpt-4o' },
    walkedSteps: (order, cursor) => [
      `SEARCH w USING COVERING INDEX completion_models_filter_idx (project_id=? AND model=?${range(order, cursor, 'completion_id')})`,
      'SEARCH c USING INDEX completions_project_id_idx (project_id=? AND id=?)',
    ],
  },
  {
    name: 'one metadata pair',
    filter: { metadata: [['user', 'u7']] },
    walkedSteps: (order, cursor) => [
      `SEARCH w USING COVERING INDEX metadata_filter_idx (project_id=? AND key=? AND value=?${range(order, cursor, 'completion_id')})`,
      'SEARCH c USING INDEX completions_project_id_idx (project_id=? AND id=?)',
    ],
  },
  {
    name: 'two metadata pairs',
    filter: { metadata: [['env', 'prod'], ['user', 'u8']] },
    walkedSteps: (order, cursor) => [
      `SEARCH w USING COVERING INDEX metadata_filter_idx (project_id=? AND key=? AND value=?${range(order, cursor, 'completion_id')})`,
      'SEARCH x EXISTS USING COVERING INDEX metadata_filter_idx (project_id=? AND key=? AND value=? AND created=? AND completion_id=?)',
      'SEARCH c USING INDEX completions_project_id_idx (project_id=? AND id=?)',
    ],
  },
  {
    name: 'model and a metadata pair',
    filter: { model: 'gpt-4o', metadata: [['user', 'u8']] },
    walkedSteps: (order, cursor) => [
      `SEARCH w USING COVERING INDEX metadata_filter_idx (project_id=? AND key=? AND value=?${range(order, cursor, 'completion_id')})`,
      'SEARCH x EXISTS USING COVERING INDEX completion_models_filter_idx (project_id=? AND model=? AND created=? AND completion_id=?)',
      'SEARCH c USING INDEX completions_project_id_idx (project_id=? AND id=?)',
    ],
  },
];

describe('list query plans', () => {
  for (const shape of SHAPES) {
    for (const cursor of [false, true]) {
      for (const order of ['asc', 'desc'] as const) {
        it(`${shape.name}, ${cursor ? 'after a cursor' : 'first page'}, ${order}: walks one index in order and looks rows up by key`, async () => {
          const plan = await store.explainList(PROJECT, params({ ...shape.filter, order, after: cursor ? CURSOR : undefined }));
          expect(plan.steps).toEqual([...shape.walkedSteps(order, cursor), ...CHOICES_STEPS]);
          expect(plan.steps.filter((step) => step.includes('TEMP B-TREE'))).toEqual([]);
          expect(plan.steps.filter((step) => /^SCAN (?!\(subquery-\d+\)$)/.test(step))).toEqual([]);
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
  it('serves choices in index order (the ordered subquery that avoids a sort per row)', async () => {
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
