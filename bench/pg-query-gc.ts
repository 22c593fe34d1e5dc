import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';

/**
 * `node --max-semi-space-size=4 [--no-allocation-site-pretenuring] [--trace-gc-nvp] --import tsx bench/pg-query-gc.ts
 * --database URL --mode MODE`: the list's first page (no filter, desc, 20 items) through node-postgres alone, one
 * query at a time, and what the young-generation collections cost per query. The modes are the ways of calling
 * node-postgres that bench/README.md, "PostgreSQL list pages: where the service's CPU goes", compares: `pool`
 * (pool.query, no read timeout), `pool-timeout` (pool.query with `query_timeout`, as the service's pool),
 * `client-promise` (a checked-out client's promise form), `client-callback` (its callback form). With V8's
 * allocation-site pretenuring on, the second and third keep ~1.3 MB of rows alive through each scavenge.
 * On a database `npm run bench -- --keep --database postgres://...` seeded.
 */
const { values } = parseArgs({ options: { database: { type: 'string' }, mode: { type: 'string', default: 'pool-timeout' }, seconds: { type: 'string', default: '2.5' } } });
if (!values.database) throw new Error('--database: a postgres:// URL of a database `npm run bench -- --keep` seeded');
const mode = values.mode!;
const pool = new pg.Pool({ connectionString: values.database, max: 10, ...(mode === 'pool-timeout' ? { query_timeout: 35_000 } : {}) });
const client = mode.startsWith('client') ? await pool.connect() : undefined;
const [project] = (await pool.query<{ id: number }>("SELECT id FROM projects WHERE name = 'project-a'")).rows;
const text = 'SELECT c.id, c.body, c.metadata, c.choices FROM completions c WHERE c.project_id = $1 ORDER BY c.created DESC, c.id DESC LIMIT 21';

let collections = 0;
let collectionMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    collections++;
    collectionMs += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });

async function page(): Promise<unknown[]> {
  const query: pg.QueryConfig = { name: 'list', text, values: [project!.id] };
  if (mode === 'client-promise') return (await client!.query(query)).rows;
  if (mode === 'client-callback') {
    return new Promise((resolve, reject) => client!.query(query, (err: Error | null, result: pg.QueryResult) => (err ? reject(err) : resolve(result.rows))));
  }
  return (await pool.query(query)).rows;
}

async function run(ms: number): Promise<number> {
  let pages = 0;
  for (const end = Date.now() + ms; Date.now() < end; pages++) await page();
  return pages;
}

await run(1500);
for (let round = 0; round < 2; round++) {
  collections = 0;
  collectionMs = 0;
  const before = process.cpuUsage();
  const pages = await run(Number(values.seconds) * 1000);
  const cpu = process.cpuUsage(before);
  const perPage = (x: number) => Number((x / pages).toFixed(1));
  process.stdout.write(
    `${JSON.stringify({ mode, pages, cpuUsPerPage: perPage(cpu.user + cpu.system), gcPer1000Pages: perPage(collections * 1000), gcUsPerPage: perPage(collectionMs * 1000) })}\n`,
  );
}
client?.release();
await pool.end();
