import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * The test files that run on both backends, from one source: the `postgres-shared`
 * project runs them again with TEST_BACKEND=postgres (test/helpers/test-database.ts
 * gives each file a database of its own on the server named by TEST_POSTGRES_URL,
 * or on the embedded PGlite without one).
 */
const BOTH_BACKENDS = [
  'test/store-contract.test.ts',
  'test/stored-completions.test.ts',
  'test/pagination.test.ts',
  'test/isolation.test.ts',
  'test/create.test.ts',
  'test/hostile-input.test.ts',
  'test/retention.test.ts',
  'test/streaming.test.ts',
  'test/passthrough.test.ts',
  'test/errors.test.ts',
  'test/list-extensions.test.ts',
  'test/usage.test.ts',
  'test/list-page-bytes.test.ts',
  'test/fuzz.test.ts',
  'test/fuzz-extensions.test.ts',
  'test/stored-json-fidelity.test.ts',
  'test/search-cjk.test.ts',
  'test/search-marks-agree.test.ts',
  'test/openai-schema.test.ts',
  'test/metadata-changes.test.ts',
  'test/mirror-since.test.ts',
];
/** PostgreSQL's own cases: its query plans, several instances on one database, restarts. */
const POSTGRES_ONLY = ['test/postgres-*.test.ts'];
/**
 * SQLite files that share their worker process with the files before them (isolate: false): each
 * isolated file spends seconds importing the service's module graph afresh (import 167 s of 362 s
 * for 59 small files on the loaded 2-core machine; 30 s shared). Listed one by one, not by pattern:
 * a file joins once it passes here, keeps no state of its own past its hooks, and asserts no event
 * loop stall or memory figure that a heap grown by other files would skew (large-body, body-values,
 * deep-json, export-http, malloc-thresholds and stream-assembly stay isolated).
 */
const SQLITE_SHARED = [
  'test/answer-headers.test.ts',
  'test/auth.test.ts',
  'test/background-checkpoints.test.ts',
  'test/compose.test.ts',
  'test/config.test.ts',
  'test/connection-timeouts.test.ts',
  'test/create.test.ts',
  'test/database-url.test.ts',
  'test/database-warnings.test.ts',
  'test/derived-fields.test.ts',
  'test/errors.test.ts',
  'test/exact-integers.test.ts',
  'test/fuzz-extensions.test.ts',
  'test/fuzz.test.ts',
  'test/health.test.ts',
  'test/hostile-input.test.ts',
  'test/isolation.test.ts',
  'test/json-members.test.ts',
  'test/list-extensions.test.ts',
  'test/list-page-bytes.test.ts',
  'test/list-params.test.ts',
  'test/metadata-changes.test.ts',
  'test/migration-backfill.test.ts',
  'test/migration-upgrade.test.ts',
  'test/newer-schema.test.ts',
  'test/observability.test.ts',
  'test/openai-schema.test.ts',
  'test/pagination.test.ts',
  'test/passthrough.test.ts',
  'test/pipelining.test.ts',
  'test/query-plan.test.ts',
  'test/request-encoding.test.ts',
  'test/request-metrics.test.ts',
  'test/restart.test.ts',
  'test/retention.test.ts',
  'test/search-cjk.test.ts',
  'test/search-marks-agree.test.ts',
  'test/search-merge.test.ts',
  'test/search-tokens.test.ts',
  'test/server-node-flags.test.ts',
  'test/sqlite-write-lock.test.ts',
  'test/store-contract.test.ts',
  'test/stored-completions.test.ts',
  'test/stored-json-fidelity.test.ts',
  'test/streaming.test.ts',
  'test/stringify-large.test.ts',
  'test/sync-answers.test.ts',
  'test/upstream-answers.test.ts',
  'test/upstream-reused-connection.test.ts',
  'test/upstream-size-limit.test.ts',
  'test/upstream-small-limit.test.ts',
  'test/upstream-url.test.ts',
  'test/usage.test.ts',
  'test/write-batcher.test.ts',
];

/** What the PostgreSQL projects run with: that backend, and room for the embedded PGlite's slow start. */
const ON_POSTGRES = { env: { TEST_BACKEND: 'postgres' }, testTimeout: 120_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    // Says once when the browser tests cannot run (no Chromium), or fails the run under REQUIRE_BROWSER=1.
    // The bundles the process tests run, built once before any file starts.
    globalSetup: ['test/helpers/build-bundles.ts', 'test/helpers/browser-setup.ts'],
    // Each test file's end-of-file cleanups (test/helpers/file-cleanup.ts), shared worker or not.
    setupFiles: ['test/helpers/file-setup.ts'],
    // Every test builds its own app and database, so files run in parallel safely.
    pool: 'forks',
    // One file per core, not vitest's default of one fewer: on CI's 2 cores that default is a single worker,
    // and the files ran one after another (CI's JSON report: no two files ever overlapped). Two at once took the
    // suite from 1,108 s to 957 s, not the half a replay of the files' times promised: most files keep a core busy
    // (a browser, a server, a child process), so less work per test, not more workers, is what shortens it further.
    maxWorkers: availableParallelism(),
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A poll passes as soon as its condition holds; the wait only matters on a machine slowed by the other files
    // (CI runs two at once, a browser often among them), where vitest's default second was once too short.
    expect: { poll: { timeout: 10_000 } },
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'], exclude: [...POSTGRES_ONLY, ...SQLITE_SHARED] } },
      // Sorted after `sqlite` (vitest runs projects in name order), so these short files also fill the end of the run.
      { extends: true, test: { name: 'sqlite-shared', include: SQLITE_SHARED, isolate: false } },
      // Starting the embedded PGlite takes seconds on a busy machine (tens when a test opens a second one).
      { extends: true, test: { name: 'postgres', include: POSTGRES_ONLY, ...ON_POSTGRES } },
      // The shared files, on PostgreSQL: all of them share their worker, as SQLITE_SHARED's do.
      { extends: true, test: { name: 'postgres-shared', include: BOTH_BACKENDS, isolate: false, ...ON_POSTGRES } },
    ],
  },
});
