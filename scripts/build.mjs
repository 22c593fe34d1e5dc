// Bundles the two entry points, the service (src/server.ts) and the command-line tool
// (src/cli/main.ts), into plain JavaScript under dist/, so that they run on bare `node`.
// Why: running the TypeScript sources through tsx costs a loader thread and a
// transpiler in every process, about 45 MB of resident memory (measured on an export:
// 195 MB under tsx, 150 MB bundled), more than a third of what the service needs.
//
// A bundle is only rebuilt when a source is newer than it, so `npm start` and
// `npm run cli` (which run this first), and bin/stored-completions.mjs, never run stale
// code and cost a few milliseconds when nothing changed. The dependencies stay in
// node_modules (packages: 'external'): only our own code is inlined.
// Each bundle sits one folder below the root, as src/project-root.ts does, so the paths
// it computes (migrations, the UI's files) hold in both.
import { readdirSync, renameSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The node options the service runs with, wherever it runs: `npm start` (package.json),
 * the image (Dockerfile's CMD), the systemd example (docs/operations.md) and the
 * benchmark's service process (bench/http.ts). test/server-node-flags.test.ts checks
 * that they agree. Why: V8 grows the young generation up to two 16 MiB semi-spaces under
 * the allocation rate of stored creates; 4 MiB ones lowered the service's peak resident
 * memory by 14-20 MB at the same create rate (bench/README.md, "Create path, third round").
 * Without allocation-site pretenuring: V8 learned to allocate node-postgres's per-query objects
 * straight into the old generation, whence they kept each page's rows alive through every
 * young-generation collection, so that the rows were copied and promoted, and a PostgreSQL list
 * page spent more CPU in the garbage collector than in node-postgres (bench/README.md,
 * "PostgreSQL list pages: where the service's CPU goes").
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=4', '--no-allocation-site-pretenuring'];

/** The bundles: name in dist/ → entry point. */
export const BUNDLES = { 'server.mjs': 'src/server.ts', 'cli.mjs': 'src/cli/main.ts' };

function newestSourceMtime() {
  let newest = Math.max(statSync(fileURLToPath(import.meta.url)).mtimeMs, statSync(join(root, 'package-lock.json')).mtimeMs);
  const walk = (folder) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(join(root, 'src'));
  return newest;
}

function builtMtime(name) {
  try {
    return statSync(join(root, 'dist', name)).mtimeMs;
  } catch {
    return -Infinity;
  }
}

/** Builds every bundle older than a source (all of them with `force`). Resolves to the names built. */
export async function ensureBuilt({ force = false } = {}) {
  const newest = newestSourceMtime();
  const stale = Object.keys(BUNDLES).filter((name) => force || builtMtime(name) < newest);
  if (stale.length > 0) await bundle(Object.fromEntries(stale.map((name) => [name, BUNDLES[name]])));
  return stale;
}

/**
 * Bundles each entry point (a path from the root) into dist/<name>, whatever its age:
 * ensureBuilt's worker, and how the benchmark bundles the service it measures.
 */
export async function bundle(entries) {
  // Loaded only when needed: esbuild starts a helper process.
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(entries).map(([name, entry]) => [name.replace(/\.mjs$/, ''), entry])),
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // Readable stack traces without source maps: names and layout kept.
    keepNames: true,
    write: false,
    logLevel: 'warning',
  });
  mkdirSync(join(root, 'dist'), { recursive: true });
  for (const file of result.outputFiles) {
    // Written beside and renamed: a process starting meanwhile (tests start several at once)
    // reads the old bundle or the new one, never half of one.
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes('--force');
  const built = await ensureBuilt({ force });
  // Standard error: `npm run cli -- export` writes its lines to standard output.
  if (built.length > 0) process.stderr.write(`built ${built.map((name) => relative(root, join(root, 'dist', name))).join(', ')}\n`);
}
