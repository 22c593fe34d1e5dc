import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { openPostgres } from '../src/db/postgres-client.ts';
import { createPostgresStore, type PostgresStoreOptions } from '../src/store/index.ts';
import type { ListParams } from '../src/validation.ts';
import { PROJECTS } from './data.ts';
import { postgresDeepCursors } from './database.ts';
import { measureListLatency, SEARCH_FILTERS, VARIANTS } from './list-latency.ts';
import { round } from './stats.ts';

/**
 * PostgreSQL search pages in-process (bench/list-latency.ts's search shapes, and a word in no completion),
 * on the database `bench/pg-list-alloc.ts --seed` fills, with which statement a page runs first: `walk`
 * (the cut walk of the list's index) or `sort` (every match from the GIN index). --sort-threshold lowers
 * the store's search threshold so the planner's guess for a word its statistics do not list (0.5% of
 * the table) is over it at this size, as it is at 1M with the default. To compare two versions of the
 * store, run each from its own checkout, alternated, on the same database.
 *
 *   npx tsx bench/pg-search-pages.ts --server postgres://... --rows 300000 --sort-threshold 1000
 */
const { values } = parseArgs({
  options: {
    server: { type: 'string' },
    rows: { type: 'string', default: '300000' },
    'sort-threshold': { type: 'string' },
    iterations: { type: 'string', default: '100' },
    label: { type: 'string', default: '' },
  },
});
if (values.server === undefined) throw new Error('--server postgres://... is required');
const url = new URL(values.server);
url.pathname = `/pglist_${Number(values.rows)}`;

const ABSENT_WORD = 'qwxzvbnm';
const filters = [
  ...SEARCH_FILTERS,
  { name: 'search absent', params: () => ({ model: undefined, metadata: [], search: ABSENT_WORD }) },
  { name: 'search absent + env (1 in 2)', params: (v: number) => ({ model: undefined, metadata: [['env', v % 2 ? 'prod' : 'staging']] as [string, string][], search: ABSENT_WORD }) },
];

const db = await openPostgres(url.toString(), { poolSize: 4, statementTimeoutMs: 60_000, connectTimeoutMs: 10_000, startupTimeoutMs: 10_000 });
const options: PostgresStoreOptions = values['sort-threshold'] === undefined ? {} : { searchSortThreshold: Number(values['sort-threshold']) };
const store = createPostgresStore(db, options);
const project = PROJECTS[0];
const cursors = await postgresDeepCursors(db, project, VARIANTS);

const iterations = Number(values.iterations);
const results = await measureListLatency(store, cursors, { iterations, warmup: Math.ceil(iterations / 10) }, filters);
for (const result of results) {
  const [filterName, cursor, order] = splitShape(result.shape);
  const filter = filters.find((f) => f.name === filterName)!;
  const params: ListParams = { ...filter.params(0), after: cursor === 'deep cursor' ? cursors[0] : undefined, limit: 20, order: order as ListParams['order'] };
  const { walked } = await store.explainList(project, params);
  const first = walked?.table === 'completion_search' ? 'sort' : 'walk';
  console.log(
    JSON.stringify({ label: values.label, shape: result.shape, first, p50: round(result.p50Ms), p99: round(result.p99Ms), items: result.items, load1: round(loadavg()[0]!, 2) }),
  );
}
await store.close();

/** "filter, deep cursor, asc" (the filter's name may hold commas of its own) as its three parts. */
function splitShape(shape: string): [string, string, string] {
  const parts = shape.split(', ');
  return [parts.slice(0, -2).join(', '), parts.at(-2)!, parts.at(-1)!];
}
