import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import pg from 'pg';
import { openPostgres } from '../src/db/postgres-client.ts';
import { createPostgresStore, type Store } from '../src/store/index.ts';
import type { ListParams, SortOrder } from '../src/validation.ts';
import { serializeCompletionList } from '../src/wire.ts';
import { PROJECTS, seedCompletions } from './data.ts';
import { percentile, round, sortedCopy } from './stats.ts';

/**
 * PostgreSQL list pages in-process, per shape (store.listCompletionsJson and serializeCompletionList,
 * all the endpoint does besides HTTP): p50/p90/p99/max, the service's CPU and the server backends' CPU
 * a page (both share the machine's cores), bytes V8 allocated a page, and its collections (scavenges
 * per 1000 pages, their mean length, the others by type). One JSON line per shape. To compare two
 * versions of the store, run each from its own checkout, alternated, on the same seeded database.
 *
 *   npx tsx bench/pg-list-alloc.ts --server postgres://... --rows 10000 --seed     (creates pglist_10000)
 *   node --expose-gc --import tsx bench/pg-list-alloc.ts --server postgres://... --rows 10000 --label old
 *
 * The database is `pglist_<rows>` on that server (the role needs CREATEDB); --seed drops and refills it.
 */
const { values } = parseArgs({
  options: {
    server: { type: 'string' },
    rows: { type: 'string', default: '10000' },
    seed: { type: 'boolean', default: false },
    label: { type: 'string', default: '' },
    pages: { type: 'string', default: '3000' },
  },
});
if (values.server === undefined) throw new Error('--server postgres://... is required');
const rows = Number(values.rows);
const name = `pglist_${rows}`;
const pages = Number(values.pages);
const url = (() => {
  const parsed = new URL(values.server!);
  parsed.pathname = `/${name}`;
  return parsed.toString();
})();

async function seed(): Promise<void> {
  const admin = new pg.Client({ connectionString: values.server });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const db = await openPostgres(url, { poolSize: 10, statementTimeoutMs: 600_000, connectTimeoutMs: 10_000, startupTimeoutMs: 10_000 });
  await seedCompletions(createPostgresStore(db), 0, rows);
  await db.query('VACUUM ANALYZE');
  await db.close();
}

/** An id from the middle of the project's history (the seed spreads completions evenly over its projects). */
async function deepCursor(db: { query: <R>(sql: string, args?: unknown[]) => Promise<R[]> }, project: string): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `SELECT c.id FROM completions c JOIN projects p ON p.id = c.project_id WHERE p.name = $1 ORDER BY c.created, c.id OFFSET (SELECT count(*) / 2 FROM completions) / 2 LIMIT 1`,
    [project],
  );
  return row!.id;
}

async function measure(): Promise<void> {
  const db = await openPostgres(url, { poolSize: 4, statementTimeoutMs: 60_000, connectTimeoutMs: 10_000, startupTimeoutMs: 10_000 });
  const store: Store = createPostgresStore(db);
  const project = PROJECTS[0];
  const cursor = await deepCursor(db, project);
  const params = (order: SortOrder, rest: Partial<ListParams> = {}): ListParams => ({ after: undefined, limit: 20, model: undefined, metadata: [], order, ...rest });
  const shapes: [string, (i: number) => ListParams][] = [
    ['no filter, first, desc', () => params('desc')],
    ['no filter, first, asc', () => params('asc')],
    ['no filter, deep cursor, desc', () => params('desc', { after: cursor })],
    ['env (1 in 2), first, desc', (i) => params('desc', { metadata: [['env', i % 2 ? 'prod' : 'staging']] })],
  ];
  const page = async (params: ListParams) => serializeCompletionList(await store.listCompletionsJson(project, params));

  const out: Record<string, unknown>[] = [];
  for (const [shape, paramsOf] of shapes) {
    for (let i = 0; i < 300; i++) await page(paramsOf(i));
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 50));
    const backends = (await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()')).map((r) => r.pid);
    const server0 = serverTicks(backends);
    const profiler = new v8.GCProfiler();
    const used0 = v8.getHeapStatistics().used_heap_size;
    profiler.start();
    const times: number[] = [];
    let bytes = 0;
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < pages; i++) {
      const t0 = performance.now();
      bytes += (await page(paramsOf(i))).length;
      times.push(performance.now() - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    const serverUs = (serverTicks(backends) - server0) * 10_000;
    const used1 = v8.getHeapStatistics().used_heap_size;
    const { statistics } = profiler.stop()!;
    // Bytes allocated on V8's heap: what it holds more now, plus what each collection freed.
    const freed = statistics.reduce((sum, gc) => sum + gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize, 0);
    const allocated = used1 - used0 + freed;
    const scavenges = statistics.filter((gc) => gc.gcType === 'Scavenge');
    const sorted = sortedCopy(times);
    out.push({
      label: values.label,
      rows,
      shape,
      p50: round(percentile(sorted, 0.5)),
      p90: round(percentile(sorted, 0.9)),
      p99: round(percentile(sorted, 0.99)),
      max: round(sorted[sorted.length - 1]!),
      cpuUsPerPage: Math.round((cpu.user + cpu.system) / pages),
      serverCpuUsPerPage: Math.round(serverUs / pages),
      kbAllocPerPage: round(allocated / pages / 1024, 1),
      kbServedPerPage: round(bytes / pages / 1024, 1),
      scavengesPer1000: round((scavenges.length * 1000) / pages, 1),
      scavengeMsMean: round(scavenges.reduce((sum, gc) => sum + gc.cost, 0) / Math.max(1, scavenges.length) / 1000),
      otherGcs: otherGcs(statistics),
      load1: round(loadavg()[0]!, 2),
    });
  }
  for (const line of out) console.log(JSON.stringify(line));
  await store.close();
}

/** CPU time (user and system, in 10 ms ticks) of the PostgreSQL backends serving this process: the server shares the machine's cores. */
function serverTicks(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // A backend that ended (or a server on another machine): not counted.
    }
  }
  return ticks;
}

/** Collections other than scavenges: how many of each type and their time. */
function otherGcs(statistics: v8.GCProfilerResult['statistics']): string {
  const byType = new Map<string, { count: number; ms: number }>();
  for (const gc of statistics) {
    if (gc.gcType === 'Scavenge') continue;
    const seen = byType.get(gc.gcType) ?? { count: 0, ms: 0 };
    byType.set(gc.gcType, { count: seen.count + 1, ms: seen.ms + gc.cost / 1000 });
  }
  return [...byType].map(([type, { count, ms }]) => `${type} ${count} ${round(ms, 1)}ms`).join(', ');
}

if (values.seed) await seed();
else await measure();
