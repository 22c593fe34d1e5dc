import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../src/store/index.ts';
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
  await opened.analyze();
});

afterAll(async () => {
  await opened.close();
});

function params(overrides: Partial<ListParams>): ListParams {
  return { after: undefined, limit: 20, order: 'asc', model: undefined, metadata: [], ...overrides };
}

const CURSOR = 'chatcmpl-01000';

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
        it(`${shape.name}, ${cursor ? 'after a cursor' : 'first page'}, ${order}: walks one index in order, no Seq Scan, no Sort`, async () => {
          const plan = await store.explainList(PROJECT, params({ ...shape.filter, order, after: cursor ? CURSOR : undefined }));
          const direction = order === 'asc' ? 'Forward' : 'Backward';
          expect(plan.steps.filter((step) => /Seq Scan|Sort|Hash|Materialize|Bitmap/.test(step))).toEqual([]);
          // The first scan under the Limit is the walked index, in the page's direction.
          expect(plan.steps[0]).toBe('Limit');
          expect(plan.steps.find((step) => /Index (Only )?Scan/.test(step))?.trim()).toMatch(
            new RegExp(`^Index (Only )?Scan on \\w+ using ${shape.walkedIndex} ${direction}$`),
          );
          // Each completion of a filtered walk is one lookup by its unique key.
          if (shape.walkedIndex !== 'completions_project_created_idx') {
            expect(plan.steps.filter((step) => step.includes('on completions ')).map((step) => step.trim())).toEqual([
              'Index Scan on completions using completions_project_id_idx Forward',
            ]);
          }
        });
      }
    }
  }
});
