import type { Store } from '../src/store/index.ts';
import type { ListParams, SortOrder } from '../src/validation.ts';
import { serializeCompletionList } from '../src/wire.ts';
import { COMMON_WORD, MODELS, PROJECTS, RARE_WORD, USER_COUNT } from './data.ts';
import { percentile, sortedCopy } from './stats.ts';

/**
 * List latency per query shape, in-process: `store.listCompletions` and
 * `serializeCompletionList`, which is all the endpoint does besides HTTP.
 * Each shape rotates through several filter values and deep cursors, so the
 * figures are not one hot page served over and over.
 */

export interface ShapeResult {
  shape: string;
  p50Ms: number;
  p99Ms: number;
  /** The serializer's share of the p50 page (median of its own time). */
  serializeP50Ms: number;
  /** Mean items per page: a rare filter on a small database cannot fill a page. */
  items: number;
}

type Filter = { name: string; params: (variant: number) => Pick<ListParams, 'model' | 'metadata' | 'search'> };

export const LIST_FILTERS: Filter[] = [
  { name: 'no filter', params: () => ({ model: undefined, metadata: [] }) },
  { name: 'model', params: (v) => ({ model: MODELS[v % MODELS.length], metadata: [] }) },
  { name: 'user (1 in 1000)', params: (v) => ({ model: undefined, metadata: [['user', userValue(v)]] }) },
  { name: 'env (1 in 2)', params: (v) => ({ model: undefined, metadata: [['env', v % 2 ? 'prod' : 'staging']] }) },
  {
    // The common pair is named first: the store must still walk the rare one.
    name: 'env + user',
    params: (v) => ({ model: undefined, metadata: [['env', v % 2 ? 'prod' : 'staging'], ['user', userValue(v)]] }),
  },
];

/** Search shapes: a word in 1 of 10,000 completions and one in half of them, alone and with a metadata filter. */
export const SEARCH_FILTERS: Filter[] = [
  { name: 'search rare (1 in 10000)', params: () => ({ model: undefined, metadata: [], search: RARE_WORD }) },
  { name: 'search common (1 in 2)', params: () => ({ model: undefined, metadata: [], search: COMMON_WORD }) },
  { name: 'search rare + env (1 in 2)', params: (v) => ({ model: undefined, metadata: [['env', v % 2 ? 'prod' : 'staging']], search: RARE_WORD }) },
  { name: 'search common + user (1 in 1000)', params: (v) => ({ model: undefined, metadata: [['user', userValue(v)]], search: COMMON_WORD }) },
  { name: 'search common + env (1 in 2)', params: (v) => ({ model: undefined, metadata: [['env', v % 2 ? 'prod' : 'staging']], search: COMMON_WORD }) },
];

function userValue(variant: number): string {
  return `user-${(variant * 37) % USER_COUNT}`;
}

export const VARIANTS = 16;

export interface LatencyOptions {
  iterations: number;
  warmup: number;
}

function shapeName(filter: string, cursor: boolean, order: SortOrder): string {
  return `${filter}, ${cursor ? 'deep cursor' : 'first page'}, ${order}`;
}

/** `cursors`: ids from the middle of the project's history (BenchDatabase.deepCursors), for "deep cursor" pages. */
export async function measureListLatency(
  store: Store,
  cursors: string[],
  options: LatencyOptions,
  filters: Filter[] = LIST_FILTERS,
): Promise<ShapeResult[]> {
  const project = PROJECTS[0];
  const results: ShapeResult[] = [];
  for (const filter of filters) {
    for (const withCursor of [false, true]) {
      for (const order of ['desc', 'asc'] as SortOrder[]) {
        const paramsFor = (i: number): ListParams => ({
          ...filter.params(i % VARIANTS),
          after: withCursor ? cursors[i % VARIANTS] : undefined,
          limit: 20,
          order,
        });
        for (let i = 0; i < options.warmup; i++) serializeCompletionList(await store.listCompletionsJson(project, paramsFor(i)));
        const total: number[] = [];
        const serialize: number[] = [];
        let items = 0;
        for (let i = 0; i < options.iterations; i++) {
          const params = paramsFor(i);
          const t0 = process.hrtime.bigint();
          const page = await store.listCompletionsJson(project, params);
          const t1 = process.hrtime.bigint();
          const json = serializeCompletionList(page);
          const t2 = process.hrtime.bigint();
          if (json.length === 0) throw new Error('empty page');
          total.push(Number(t2 - t0) / 1e6);
          serialize.push(Number(t2 - t1) / 1e6);
          items += page.count;
        }
        const sorted = sortedCopy(total);
        results.push({
          shape: shapeName(filter.name, withCursor, order),
          p50Ms: percentile(sorted, 0.5),
          p99Ms: percentile(sorted, 0.99),
          serializeP50Ms: percentile(sortedCopy(serialize), 0.5),
          items: items / options.iterations,
        });
      }
    }
  }
  return results;
}
