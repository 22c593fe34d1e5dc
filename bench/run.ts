import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Store } from '../src/store/index.ts';
import { type BenchDatabase, type DiskFigures, openBenchDatabase } from './database.ts';
import { PROJECTS, seedCompletions } from './data.ts';
import { createPost, createThroughputBySynchronous, measureCreates } from './create.ts';
import { startBenchServer, startInstantUpstream } from './http.ts';
import { cpuPerRequestLine, httpOverheadRows, measureHttpOverhead, PROBES, type Probe } from './http-overhead.ts';
import { measureListLatency, SEARCH_FILTERS, type ShapeResult, VARIANTS } from './list-latency.ts';
import { sqliteCreatesBeside } from './sqlite-creates.ts';
import { measureUsageLatency, type UsageShapeResult } from './usage-latency.ts';
import { markdownTable, round } from './stats.ts';

/**
 * `npm run bench [-- --rows N] [--quick] [--keep] [--database postgres://...]`: seeds a database of N
 * stored completions (default 1,000,000), measures list latency per query
 * shape at 10k rows and at N, HTTP list throughput beside a trivial endpoint,
 * create-with-store throughput and added latency, bytes on disk and resident
 * memory; prints a table and writes JSON to bench/results/.
 * `--quick` shortens every measurement (CI smoke: `npm run bench:smoke`).
 * `--database postgres://user:pw@host/db` runs it all on PostgreSQL, in a fresh
 * database created on that server and dropped at the end (kept with --keep).
 */

const USAGE = `usage: npm run bench [-- --rows N] [--quick] [--keep] [--database postgres://...]
  --rows N          completions to seed (at least 100; default 1,000,000)
  --quick           shorter measurements (the CI smoke run, npm run bench:smoke)
  --keep            keep the seeded database and print where it is
  --database URL    run it all on PostgreSQL, in a fresh database on that server (the role needs CREATEDB)
`;
let parsed;
try {
  parsed = parseArgs({
    options: {
      rows: { type: 'string', default: '1000000' },
      quick: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      database: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const rows = Number(values.rows);
if (!Number.isSafeInteger(rows) || rows < 100) throw new Error(`--rows: expected a whole number >= 100, got ${values.rows}`);
const quick = values.quick!;
const smallRows = Math.min(10_000, Math.floor(rows / 5));
const loadSeconds = quick ? 2 : 10;
const rounds = quick ? 1 : 2;

const API_KEY = 'sk-bench-project-a';
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: cpus().length,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown',
    memoryGb: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    // The in-process figures stand for the service's process: `npm run bench` runs with its V8 flags (scripts/build.mjs).
    nodeFlags: process.execArgv.filter((flag) => flag.startsWith('--') && flag !== '--import' && !flag.startsWith('--import=')),
    loadAverageAtStart: loadavg().map((l) => round(l, 2)),
  };
}

async function seed(store: Store, from: number, to: number): Promise<number> {
  const start = performance.now();
  await seedCompletions(store, from, to);
  return (performance.now() - start) / 1000;
}

async function main() {
  const info = machine();
  const database = await openBenchDatabase(values.database);
  log(`database ${database.description}; ${rows} rows (${smallRows} for the small stage)${quick ? ', quick' : ''}`);
  try {
    await measure(info, database);
  } finally {
    await database.dispose(values.keep!);
  }
}

async function measure(info: ReturnType<typeof machine>, database: BenchDatabase) {
  const { store } = database;
  const latencyOptions = quick ? { iterations: 300, warmup: 30 } : { iterations: 2000, warmup: 200 };
  // Searches and walked usage summaries take milliseconds, not microseconds: fewer rounds say as much.
  const searchOptions = quick ? { iterations: 50, warmup: 5 } : { iterations: 200, warmup: 20 };
  const usageOptions = quick ? { iterations: 10, warmup: 2 } : { iterations: 50, warmup: 5 };

  const smallSeedSeconds = await seed(store, 0, smallRows);
  log(`seeded ${smallRows} in ${smallSeedSeconds.toFixed(1)} s; measuring list latency`);
  await database.settle();
  const smallCursors = await database.deepCursors(PROJECTS[0], VARIANTS);
  const small = await measureListLatency(store, smallCursors, latencyOptions);
  const smallSearch = await measureListLatency(store, smallCursors, searchOptions, SEARCH_FILTERS);
  const fullSeedSeconds = await seed(store, smallRows, rows);
  const seedSeconds = smallSeedSeconds + fullSeedSeconds;
  log(`seeded ${rows} in ${seedSeconds.toFixed(1)} s (${Math.round(rows / seedSeconds)}/s); measuring list latency`);
  await database.settle();
  const fullCursors = await database.deepCursors(PROJECTS[0], VARIANTS);
  const full = await measureListLatency(store, fullCursors, latencyOptions);
  log('measuring search and usage latency');
  const fullSearch = await measureListLatency(store, fullCursors, searchOptions, SEARCH_FILTERS);
  const usage = await measureUsageLatency(store, usageOptions);
  log('measuring disk');
  const disk = await database.measureDisk(rows);
  await database.closeStore();

  const upstream = await startInstantUpstream();
  const server = await startBenchServer(database.url, upstream.url, `${API_KEY}:${PROJECTS[0]}`);
  const auth = { authorization: `Bearer ${API_KEY}` };
  try {
    log('measuring HTTP throughput: bare Hono, the list, /healthz and an authenticated /v1 request');
    const http = await measureHttpOverhead(server, auth.authorization, { rounds, durationSeconds: loadSeconds });
    const rssListMb = server.rssMb();

    log('measuring create-with-store');
    const post = createPost(auth.authorization);
    const { createBest, directBest, bareBest, directLatency, bareLatency, createLatency, cpuMicrosPerCreate, cpuMicrosPerBareProxy } = await measureCreates(server, upstream.url, post, {
      rounds,
      durationSeconds: loadSeconds,
      latencyCount: quick ? 300 : 2000,
    });
    const rssAfterCreateMb = server.rssMb();
    let sqliteBeside: number | undefined;
    if (database.backend === 'postgres') {
      log('measuring create-with-store on SQLite beside it (issue 10: PostgreSQL >= 70% of SQLite in the same run)');
      sqliteBeside = await sqliteCreatesBeside(upstream.url, `${API_KEY}:${PROJECTS[0]}`, post, { rounds, durationSeconds: loadSeconds });
    }

    // SQLITE_SYNCHRONOUS is SQLite's alone: PostgreSQL's commits wait for the WAL's fsync (synchronous_commit = on).
    let bySynchronous: Record<'FULL' | 'NORMAL', number> | undefined;
    if (database.backend === 'sqlite') {
      log('measuring create-with-store with SQLITE_SYNCHRONOUS=FULL and NORMAL');
      bySynchronous = await createThroughputBySynchronous(database.url, upstream.url, API_KEY, post, { rounds, durationSeconds: loadSeconds });
    }

    const results: BenchResults = {
      date: new Date().toISOString(),
      command: `npm run bench -- --rows ${rows}${quick ? ' --quick' : ''}${database.backend === 'postgres' ? ' --database postgres://...' : ''}`,
      backend: database.backend,
      machine: { ...info, loadAverageAtEnd: loadavg().map((l) => round(l, 2)) },
      rows,
      smallRows,
      seeding: { seconds: round(seedSeconds, 1), completionsPerSecond: Math.round(rows / seedSeconds) },
      listLatency: small.map((s, i) => listRow(s, full[i]!)),
      searchLatency: smallSearch.map((s, i) => listRow(s, fullSearch[i]!)),
      usageLatency: usage.map((u) => ({ ...u, p50Ms: round(u.p50Ms), p99Ms: round(u.p99Ms) })),
      http: Object.fromEntries(
        PROBES.map((p) => {
          const r = http[p.name]!;
          return [p.name, { path: p.path, requestsPerSecond: Math.round(r.requestsPerSecond), p50Ms: r.p50Ms, p99Ms: r.p99Ms, cpuMicrosPerRequest: Math.round(r.cpuMicrosPerRequest) }];
        }),
      ) as BenchResults['http'],
      create: {
        connections: 32,
        storedPerSecond: Math.round(createBest),
        directPerSecond: Math.round(directBest),
        bareProxyPerSecond: Math.round(bareBest),
        cpuMicrosPerCreate: Math.round(cpuMicrosPerCreate),
        cpuMicrosPerBareProxy: Math.round(cpuMicrosPerBareProxy),
        bareProxyAddedP50Ms: round(bareLatency.p50Ms - directLatency.p50Ms),
        directP50Ms: round(directLatency.p50Ms),
        createP50Ms: round(createLatency.p50Ms),
        addedP50Ms: round(createLatency.p50Ms - directLatency.p50Ms),
        addedP99Ms: round(createLatency.p99Ms - directLatency.p99Ms),
        ...(sqliteBeside !== undefined && { sqliteBesidePerSecond: Math.round(sqliteBeside) }),
      },
      ...(bySynchronous && {
        createBySynchronous: {
          FULL: Math.round(bySynchronous.FULL),
          NORMAL: Math.round(bySynchronous.NORMAL),
          fullCostPercent: round((1 - bySynchronous.FULL / bySynchronous.NORMAL) * 100, 1),
        },
      }),
      disk,
      memory: { rssWhileServingListMb: Math.round(rssListMb), rssAfterCreateMb: Math.round(rssAfterCreateMb), peakRssMb: Math.round(server.peakRssMb()) },
    };
    report(results);
  } finally {
    await server.stop();
    await upstream.close();
  }
}

function listRow(small: ShapeResult, full: ShapeResult) {
  return {
    shape: small.shape,
    small: { p50Ms: round(small.p50Ms), p99Ms: round(small.p99Ms), serializeP50Ms: round(small.serializeP50Ms), items: round(small.items, 1) },
    full: { p50Ms: round(full.p50Ms), p99Ms: round(full.p99Ms), serializeP50Ms: round(full.serializeP50Ms), items: round(full.items, 1) },
    p50Ratio: round(full.p50Ms / small.p50Ms, 2),
  };
}

interface BenchResults {
  date: string;
  command: string;
  backend: BenchDatabase['backend'];
  machine: ReturnType<typeof machine> & { loadAverageAtEnd: number[] };
  rows: number;
  smallRows: number;
  seeding: { seconds: number; completionsPerSecond: number };
  listLatency: ReturnType<typeof listRow>[];
  searchLatency: ReturnType<typeof listRow>[];
  usageLatency: UsageShapeResult[];
  /** 16 connections each, best of the rounds; the service's CPU time per request is the lowest of them. */
  http: Record<Probe['name'], { path: string; requestsPerSecond: number; p50Ms: number; p99Ms: number; cpuMicrosPerRequest: number }>;
  create: {
    connections: number;
    storedPerSecond: number;
    directPerSecond: number;
    /** The bare proxy beside the service (Hono + undici to the same upstream, no store): the ceiling for creates. */
    bareProxyPerSecond: number;
    /** The service's CPU time per stored create and per bare proxied request, lowest round. */
    cpuMicrosPerCreate: number;
    cpuMicrosPerBareProxy: number;
    bareProxyAddedP50Ms: number;
    directP50Ms: number;
    createP50Ms: number;
    addedP50Ms: number;
    addedP99Ms: number;
    /** PostgreSQL runs only: SQLite's figure in the same run (bench/sqlite-creates.ts). */
    sqliteBesidePerSecond?: number;
  };
  /** SQLite only. */
  createBySynchronous?: { FULL: number; NORMAL: number; fullCostPercent: number };
  disk: DiskFigures;
  memory: { rssWhileServingListMb: number; rssAfterCreateMb: number; peakRssMb: number };
}

function report(results: BenchResults) {
  const r = results;
  const k = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));
  const lines: string[] = [];
  lines.push(`Backend: ${r.backend}`, '');
  const latencyTable = (rows: ReturnType<typeof listRow>[]) =>
    markdownTable(
      ['shape', `p50 @${k(r.smallRows)}`, `p99 @${k(r.smallRows)}`, `p50 @${k(r.rows)}`, `p99 @${k(r.rows)}`, 'p50 ratio', `serialize p50 @${k(r.rows)}`, `items @${k(r.smallRows)}/${k(r.rows)}`],
      rows.map((s) => [
        s.shape,
        s.small.p50Ms.toFixed(3),
        s.small.p99Ms.toFixed(3),
        s.full.p50Ms.toFixed(3),
        s.full.p99Ms.toFixed(3),
        s.p50Ratio.toFixed(2),
        s.full.serializeP50Ms.toFixed(3),
        `${s.small.items}/${s.full.items}`,
      ]),
    );
  lines.push(`List latency, in-process (store + serializer), 20 items a page, ms:`, '', latencyTable(r.listLatency));
  lines.push('', `Search latency, in-process, 20 items a page, ms (target < 50 ms @1M):`, '', latencyTable(r.searchLatency));
  lines.push('', `Usage summary latency @${k(r.rows)}, in-process (store + serializer), ms (rollup target < 20 ms @1M):`, '');
  lines.push(
    markdownTable(
      ['shape', 'source', 'p50', 'p99', 'completions counted', 'truncated'],
      r.usageLatency.map((u) => [u.shape, u.rollup ? 'rollup' : 'walk', u.p50Ms.toFixed(3), u.p99Ms.toFixed(3), u.completions, String(u.truncated)]),
    ),
  );
  /** The worst of some p99s. */
  const worst = (p99s: number[]) => `${Math.max(...p99s).toFixed(3)} ms`;
  const worstSearchP99 = worst(r.searchLatency.map((s) => s.full.p99Ms));
  const worstRollupP99 = worst(r.usageLatency.filter((u) => u.rollup).map((u) => u.p99Ms));
  const worstP99 = Math.max(...r.listLatency.map((s) => s.full.p99Ms));
  // A 1-in-1000 filter cannot fill a page at 10k rows: its ratio compares pages of different sizes.
  const fullPages = r.listLatency.filter((s) => s.small.items === 20 && s.full.items === 20);
  const worstRatio = Math.max(...fullPages.map((s) => s.p50Ratio));
  lines.push('', 'Summary:', '');
  lines.push(
    markdownTable(
      ['measure', 'value', 'target'],
      [
        [`seeding ${k(r.rows)} completions`, `${r.seeding.seconds} s (${r.seeding.completionsPerSecond}/s)`, '< 60 s for 1M'],
        [`list p99 @${k(r.rows)}, worst shape`, `${worstP99.toFixed(3)} ms`, r.backend === 'postgres' ? '< 2 ms' : '< 1 ms'],
        [`search page p99 @${k(r.rows)}, worst shape`, worstSearchP99, '< 50 ms'],
        [`usage p99 @${k(r.rows)}, unfiltered or by model (rollup), worst shape`, worstRollupP99, '< 20 ms'],
        [`list p50 @${k(r.rows)} / @${k(r.smallRows)}, worst shape with full pages at both`, `${worstRatio.toFixed(2)}x`, '<= 1.5x'],
        ...httpOverheadRows(r.http),
        [
          'create-with-store, 32 connections',
          `${r.create.storedPerSecond}/s (upstream alone ${r.create.directPerSecond}/s = ${round(r.create.storedPerSecond / r.create.directPerSecond, 3)})`,
          '>= 3000/s',
        ],
        [
          'create-with-store / bare proxy (Hono + undici, no store), 32 connections',
          `${r.create.storedPerSecond} / ${r.create.bareProxyPerSecond} req/s = ${round(r.create.storedPerSecond / r.create.bareProxyPerSecond, 2)}; CPU ${r.create.cpuMicrosPerCreate} / ${r.create.cpuMicrosPerBareProxy} µs`,
          '',
        ],
        ...(r.create.sqliteBesidePerSecond
          ? [
              [
                'create-with-store, PostgreSQL / SQLite in the same run',
                `${r.create.storedPerSecond}/s / ${r.create.sqliteBesidePerSecond}/s = ${round(r.create.storedPerSecond / r.create.sqliteBesidePerSecond, 2)}`,
                '>= 0.70',
              ],
            ]
          : []),
        ...(r.createBySynchronous
          ? [
              [
                'create-with-store by SQLITE_SYNCHRONOUS, FULL / NORMAL',
                `${r.createBySynchronous.FULL}/s / ${r.createBySynchronous.NORMAL}/s (FULL costs ${r.createBySynchronous.fullCostPercent}%)`,
                'FULL default if < 15%',
              ],
            ]
          : []),
        [
          'create latency added over the upstream, p50 (one client)',
          `${r.create.addedP50Ms.toFixed(3)} ms (bare proxy ${r.create.bareProxyAddedP50Ms.toFixed(3)} ms)`,
          '< 0.5 ms',
        ],
        [
          'bytes on disk per completion / its JSON',
          `${r.disk.bytesPerCompletion} / ${r.disk.jsonBytesPerCompletion} = ${r.disk.ratio}x`,
          '<= 1.3x',
        ],
        ['resident memory while serving (peak)', `${r.memory.rssWhileServingListMb} MB (${r.memory.peakRssMb} MB)`, '< 200 MB'],
      ],
    ),
  );
  lines.push('', cpuPerRequestLine(r.http));
  lines.push(`Disk by table and index, bytes per completion: ${JSON.stringify(r.disk.bytesPerCompletionByTable)}`);
  lines.push(`Machine: ${r.machine.nproc} cores, ${r.machine.cpuModel}, ${r.machine.memoryGb} GB, Node ${r.machine.node} (${r.machine.nodeFlags.join(' ') || 'no V8 flags'}); load average ${r.machine.loadAverageAtStart.join(' ')} at start, ${r.machine.loadAverageAtEnd.join(' ')} at end`);
  lines.push(`Command: ${r.command}`);
  const text = lines.join('\n');
  process.stdout.write(`${text}\n`);

  const folder = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `${r.date.replace(/[:.]/g, '-')}-${r.rows}${r.backend === 'postgres' ? '-postgres' : ''}.json`);
  writeFileSync(file, `${JSON.stringify({ ...results, table: text }, null, 2)}\n`);
  log(`wrote ${file}`);
}

await main();
