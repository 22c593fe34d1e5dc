import type { Store } from '../src/store/index.ts';
import { serializeUsage } from '../src/wire.ts';
import type { ListFilters } from '../src/validation.ts';
import { COMMON_WORD, FIRST_CREATED, MODELS, PROJECTS, RARE_WORD } from './data.ts';
import { percentile, sortedCopy } from './stats.ts';

/**
 * Usage summary latency per filter shape, in-process: `store.summarizeUsage` and
 * `serializeUsage`, which is all the endpoint does besides HTTP. Rollup shapes
 * (target < 20 ms at 1M) and walked shapes (bounded at the store's walk limit).
 */

export interface UsageShapeResult {
  shape: string;
  /** Read from the per-day rollup (the rest add up completions). */
  rollup: boolean;
  p50Ms: number;
  p99Ms: number;
  /** Completions the summary counted, and whether it was truncated. */
  completions: number;
  truncated: boolean;
}

const DAY = 86_400;
const NONE: ListFilters = { model: undefined, metadata: [] };

const SHAPES: { name: string; rollup: boolean; filters: ListFilters }[] = [
  { name: 'no filter', rollup: true, filters: NONE },
  { name: 'model', rollup: true, filters: { ...NONE, model: MODELS[1] } },
  { name: 'model + day-aligned range (1 day)', rollup: true, filters: { ...NONE, model: MODELS[1], createdAfter: FIRST_CREATED + DAY, createdBefore: FIRST_CREATED + 2 * DAY } },
  { name: 'user (1 in 1000)', rollup: false, filters: { ...NONE, metadata: [['user', 'user-7']] } },
  { name: 'env (1 in 2)', rollup: false, filters: { ...NONE, metadata: [['env', 'prod']] } },
  { name: 'range cutting days (1 hour)', rollup: false, filters: { ...NONE, createdAfter: FIRST_CREATED + 1800, createdBefore: FIRST_CREATED + 5400 } },
  { name: 'search rare (1 in 10000)', rollup: false, filters: { ...NONE, search: RARE_WORD } },
  { name: 'search common (1 in 2)', rollup: false, filters: { ...NONE, search: COMMON_WORD } },
];

export async function measureUsageLatency(store: Store, options: { iterations: number; warmup: number }): Promise<UsageShapeResult[]> {
  const project = PROJECTS[0];
  const results: UsageShapeResult[] = [];
  for (const shape of SHAPES) {
    for (let i = 0; i < options.warmup; i++) serializeUsage(await store.summarizeUsage(project, shape.filters));
    const samples: number[] = [];
    let last = await store.summarizeUsage(project, shape.filters);
    for (let i = 0; i < options.iterations; i++) {
      const t0 = process.hrtime.bigint();
      last = await store.summarizeUsage(project, shape.filters);
      serializeUsage(last);
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const sorted = sortedCopy(samples);
    results.push({
      shape: shape.name,
      rollup: shape.rollup,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      completions: last.rows.reduce((sum, row) => sum + row.completions, 0),
      truncated: last.truncated,
    });
  }
  return results;
}
