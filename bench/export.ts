import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/db/client.ts';
import { createSqliteStore } from '../src/store/index.ts';
import { PROJECTS, seedCompletions } from './data.ts';
import { markdownTable, round } from './stats.ts';

/**
 * `npm run bench:export [-- --rows N] [--keep]`: seeds a database of N stored
 * completions (default 1,000,000, half in each of two projects, as `npm run
 * bench` does), then runs the command-line tool as its own process, as an
 * operator would: `export` of one project to a file, in each format, and
 * `import` of that file into an empty database. Reports completions per second
 * and each process's peak resident memory; JSON in bench/results/.
 */

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, keep: { type: 'boolean', default: false } } });
const rows = Number(values.rows);
if (!Number.isSafeInteger(rows) || rows < 100) throw new Error(`--rows: expected a whole number >= 100, got ${values.rows}`);
const log = (message: string) => process.stderr.write(`[bench:export] ${message}\n`);
const here = dirname(fileURLToPath(import.meta.url));

const folder = mkdtempSync(join(tmpdir(), 'bench-export-'));
const env = { API_KEYS: `sk-bench-a:${PROJECTS[0]}`, PATH: process.env.PATH ?? '' };

interface Run {
  seconds: number;
  maxRssMb: number;
  summary: string;
}

/** One CLI command in its own process: wall time, peak memory, its summary line. */
function runTool(args: string[], databaseUrl: string): Promise<Run> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', join(here, 'peak-rss.mjs'), join(here, '..', 'dist', 'cli.mjs'), ...args], {
    env: { ...env, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}:\n${stderr}`));
      const rss = Number(/maxRssBytes (\d+)/.exec(stderr)?.[1]);
      const summary = stderr.split('\n').filter((l) => /^(export|import):/.test(l)).at(-1) ?? '';
      resolve({ seconds: (performance.now() - started) / 1000, maxRssMb: round(rss / 2 ** 20, 1), summary });
    });
  });
}

try {
  const source = join(folder, 'source.db');
  log(`seeding ${rows.toLocaleString('en-US')} completions`);
  const seedStarted = performance.now();
  const store = createSqliteStore(openDatabase(source));
  await seedCompletions(store, 0, rows);
  await store.close();
  log(`seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  const exported = Math.ceil(rows / 2);
  const results: Record<string, Run & { perSecond: number; fileMb?: number }> = {};
  for (const format of ['completions', 'finetune', 'eval']) {
    const out = join(folder, `${format}.jsonl`);
    log(`export --format ${format}`);
    const run = await runTool(['export', '--key', 'sk-bench-a', '--format', format, '--out', out], source);
    results[`export ${format}`] = { ...run, perSecond: Math.round(exported / run.seconds), fileMb: round(statSync(out).size / 2 ** 20, 1) };
    if (format !== 'completions') rmSync(out);
  }
  log('import');
  const imported = await runTool(['import', join(folder, 'completions.jsonl'), '--key', 'sk-bench-a'], join(folder, 'target.db'));
  results.import = { ...imported, perSecond: Math.round(exported / imported.seconds) };

  const table = markdownTable(
    ['command', 'completions', 'seconds (process)', 'completions/s', 'peak RSS MB', 'file MB'],
    Object.entries(results).map(([name, r]) => [name, exported, round(r.seconds, 1), r.perSecond, r.maxRssMb, r.fileMb ?? '']),
  );
  process.stdout.write(`\n${rows.toLocaleString('en-US')} completions in the database, one project's ${exported.toLocaleString('en-US')} moved:\n\n${table}\n\n`);
  for (const [name, r] of Object.entries(results)) process.stdout.write(`${name}: ${r.summary}\n`);
  const resultsFolder = join(here, 'results');
  mkdirSync(resultsFolder, { recursive: true });
  const file = join(resultsFolder, `export-${rows}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ rows, exported, node: process.version, results }, null, 2)}\n`);
  log(`wrote ${file}`);
} finally {
  if (values.keep) log(`kept ${folder}`);
  else rmSync(folder, { recursive: true, force: true });
}
