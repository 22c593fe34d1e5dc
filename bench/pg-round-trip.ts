import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openPostgres } from '../src/db/postgres-client.ts';
import { createPostgresStore } from '../src/store/index.ts';
import type { ListParams } from '../src/validation.ts';
import { serializeCompletionList } from '../src/wire.ts';
import { PROJECTS } from './data.ts';
import { percentile, round, sortedCopy } from './stats.ts';

/**
 * How much of a PostgreSQL list page's tail is the round trip itself. One client, one request at a time, in
 * turn: `SELECT 1` through node-postgres alone, `SELECT 1` through the service's client (src/db/postgres-client.ts),
 * and the list's worst shape at 1M (no filter, first page, asc) through the store, as the bench measures it.
 * When `SELECT 1` has the list page's p99, the tail is the trip between two processes on a busy machine
 * (the server's backend waking up, the scheduler), not the query nor our code. Runs on the database
 * bench/pg-list-alloc.ts seeds (`pglist_<rows>`).
 *
 *   npx tsx bench/pg-list-alloc.ts --server postgres://... --rows 10000 --seed
 *   npx tsx bench/pg-round-trip.ts --server postgres://... --rows 10000
 */
const { values } = parseArgs({
  options: {
    server: { type: 'string' },
    rows: { type: 'string', default: '10000' },
    iterations: { type: 'string', default: '5000' },
  },
});
if (values.server === undefined) throw new Error('--server postgres://... is required');
const url = new URL(values.server);
url.pathname = `/pglist_${Number(values.rows)}`;
const iterations = Number(values.iterations);

const raw = new pg.Client({ connectionString: url.toString() });
await raw.connect();
const db = await openPostgres(url.toString(), { poolSize: 4, statementTimeoutMs: 60_000, connectTimeoutMs: 10_000, startupTimeoutMs: 10_000 });
const store = createPostgresStore(db);
const params: ListParams = { after: undefined, limit: 20, order: 'asc', model: undefined, metadata: [] };

const probes: [string, () => Promise<unknown>][] = [
  ['SELECT 1, node-postgres alone', () => raw.query('SELECT 1')],
  ['SELECT 1, the service client', () => db.query('SELECT 1')],
  ['list page (no filter, first, asc)', async () => serializeCompletionList(await store.listCompletionsJson(PROJECTS[0], params))],
];
const times = probes.map(() => [] as number[]);
for (let i = 0; i < 300; i++) for (const [, probe] of probes) await probe();
const load = loadavg()[0]!;
for (let i = 0; i < iterations; i++) {
  // Each probe first in turn: what one leaves behind (garbage to collect, a server backend to wake) falls on all alike.
  for (let k = 0; k < probes.length; k++) {
    const index = (i + k) % probes.length;
    const t0 = performance.now();
    await probes[index]![1]();
    times[index]!.push(performance.now() - t0);
  }
}
for (const [index, [name]] of probes.entries()) {
  const sorted = sortedCopy(times[index]!);
  const at = (q: number) => round(percentile(sorted, q));
  console.log(JSON.stringify({ probe: name, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: at(1), load1: round(load, 2) }));
}
await raw.end();
await store.close();
