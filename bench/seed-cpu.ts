import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/db/client.ts';
import { createSqliteStore, type CompletionRecord } from '../src/store/index.ts';
import { createGenerator, PROJECTS, projectOf } from './data.ts';
import { measureListLatency, SEARCH_FILTERS, VARIANTS } from './list-latency.ts';
import { round } from './stats.ts';

/**
 * `npm run bench:seed -- --rows N [--batch N] [--list] [--search] [--keep]`: the bulk path's cost alone, on SQLite. Seeds
 * N completions through `store.saveCompletions` as the bench does (its records, in time order, a
 * transaction per project and batch) and prints the writing process's CPU time per completion
 * (`process.cpuUsage()` around the saves only: building the records is not counted), for every
 * 100,000 and overall, with the wall time, the largest WAL seen after a batch and the file's bytes
 * per completion. On a shared machine the CPU figure moves much less than the wall clock.
 * `--list` adds the in-process list latency (p50 of every shape) at the end, `--search` the
 * search latency (p50 and p99 of every search shape, as the bench measures them). `--setup SQL` runs
 * once after opening and `--finish SQL` after the last batch (counted): for trying pragmas and
 * FTS5 options.
 */

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '10000' },
    list: { type: 'boolean', default: false },
    search: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    // Experiments: SQL run once after opening (pragmas, FTS5 options), and after the last batch (timed too).
    setup: { type: 'string' },
    finish: { type: 'string' },
  },
});
const rows = Number(values.rows);
const batchSize = Number(values.batch);
const log = (message: string) => process.stderr.write(`[seed] ${message}\n`);

const folder = mkdtempSync(join(tmpdir(), 'stored-completions-seed-'));
const path = join(folder, 'seed.db');
const db = openDatabase(path);
const store = createSqliteStore(db);
if (values.setup) db.exec(values.setup);
const generator = createGenerator();
const sizeOf = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

const micros = (usage: NodeJS.CpuUsage) => usage.user + usage.system;
let cpuTotal = 0;
let cpuStage = 0;
let walPeak = 0;
const wallStart = performance.now();
let stageStart = wallStart;
log(`${rows} completions, ${batchSize} a batch, ${path}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (let from = 0; from < rows; from += batchSize) {
  const byProject: Record<string, CompletionRecord[]> = Object.fromEntries(PROJECTS.map((p) => [p, []]));
  for (let n = from; n < Math.min(rows, from + batchSize); n++) byProject[projectOf(n)]!.push(generator.record(n));
  const before = process.cpuUsage();
  for (const project of PROJECTS) await store.saveCompletions(project, byProject[project]!);
  const spent = micros(process.cpuUsage(before));
  cpuTotal += spent;
  cpuStage += spent;
  walPeak = Math.max(walPeak, sizeOf(`${path}-wal`));
  const done = Math.min(rows, from + batchSize);
  if (done % 100_000 === 0 || done === rows) {
    const stageRows = done % 100_000 === 0 ? 100_000 : done % 100_000;
    log(
      `${done}: ${round(cpuStage / stageRows, 1)} µs CPU a completion over the last ${stageRows}, ` +
        `${((performance.now() - stageStart) / 1000).toFixed(1)} s wall; load ${loadavg()[0]!.toFixed(1)}`,
    );
    cpuStage = 0;
    stageStart = performance.now();
  }
}
let finishMicros = 0;
if (values.finish) {
  const before = process.cpuUsage();
  db.exec(values.finish);
  finishMicros = micros(process.cpuUsage(before));
  cpuTotal += finishMicros;
}
const wallSeconds = (performance.now() - wallStart) / 1000;
const walAtEnd = sizeOf(`${path}-wal`);
db.pragma('wal_checkpoint(TRUNCATE)');
const summary: Record<string, unknown> = {
  rows,
  batch: batchSize,
  cpuMicrosPerCompletion: round(cpuTotal / rows, 1),
  finishMicrosPerCompletion: round(finishMicros / rows, 1),
  wallSeconds: round(wallSeconds, 1),
  walPeakBytes: walPeak,
  walAtEndBytes: walAtEnd,
  fileBytesPerCompletion: Math.round(sizeOf(path) / rows),
  bytesPerCompletionByTable: Object.fromEntries(
    (db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as { name: string; bytes: number }[]).map(
      ({ name, bytes }) => [name, Math.round(bytes / rows)],
    ),
  ),
  loadAverageAtEnd: loadavg().map((l) => round(l, 2)),
};
if (values.list || values.search) {
  const { projectId } = db.prepare('SELECT id AS projectId FROM projects WHERE name = ?').get(PROJECTS[0]) as { projectId: number };
  const ids = db.prepare('SELECT id FROM completions WHERE project_id = ? ORDER BY created, id').pluck().all(projectId) as string[];
  const cursors = Array.from({ length: VARIANTS }, (_, i) => ids[Math.floor(ids.length * (0.4 + (0.2 * i) / VARIANTS))]!);
  if (values.list) {
    const shapes = await measureListLatency(store, cursors, { iterations: 2000, warmup: 200 });
    summary.listP50Ms = Object.fromEntries(shapes.map((s) => [s.shape, s.p50Ms]));
  }
  if (values.search) {
    // The bench's own search iterations (bench/run.ts).
    const shapes = await measureListLatency(store, cursors, { iterations: 200, warmup: 20 }, SEARCH_FILTERS);
    summary.searchP50P99Ms = Object.fromEntries(shapes.map((s) => [s.shape, [round(s.p50Ms, 3), round(s.p99Ms, 3)]]));
  }
}
console.log(JSON.stringify(summary, null, 2));
await store.close();
if (!values.keep) rmSync(folder, { recursive: true, force: true });
else log(`kept ${path}`);
