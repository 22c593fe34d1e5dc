import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgres } from '../../src/db/postgres-client.ts';
import type { SqlDatabase } from '../../src/db/sql-client.ts';
import { atEndOfEachFile } from './file-cleanup.ts';
import { openPglite } from './pglite.ts';

/**
 * Where the tests' PostgreSQL comes from. With TEST_POSTGRES_URL (set by .ci/run
 * through scripts/start-test-postgres.sh), a real server: each test file gets
 * databases of its own, so files run in parallel and in any order. Without it,
 * the embedded PGlite, unless REQUIRE_POSTGRES=1 (CI), which makes a missing
 * server a failure instead.
 */
export type Backend = 'sqlite' | 'postgres';

/** The backend a test file runs on: vitest's `postgres` project sets TEST_BACKEND (vitest.config.ts). */
export const TEST_BACKEND: Backend = process.env.TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';
export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL || undefined;
export const REQUIRE_POSTGRES = process.env.REQUIRE_POSTGRES === '1';

/** True when cases that need a real server (several processes, restarts) can run; throws when CI requires them and they cannot. */
export function hasPostgresServer(): boolean {
  if (TEST_POSTGRES_URL) return true;
  if (REQUIRE_POSTGRES) throw new Error('REQUIRE_POSTGRES=1 but TEST_POSTGRES_URL is not set: start one with scripts/start-test-postgres.sh');
  return false;
}

let skipNoticeShown = false;
/** Says once per file that the real-server cases were not run, and why. */
export function noteSkippedServerCases(): void {
  if (skipNoticeShown) return;
  skipNoticeShown = true;
  process.stderr.write(
    'PostgreSQL: no TEST_POSTGRES_URL, so the cases that need a real server (several processes, restarts) were not run; ' +
      'scripts/start-test-postgres.sh starts one.\n',
  );
}

export const POSTGRES_OPTIONS = { poolSize: 4, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000, startupTimeoutMs: 10_000 };

const TABLES = ['projects', 'settings', 'completions', 'input_messages', 'metadata', 'completion_models', 'deleted_completions', 'usage_daily'];
/** The identity columns' sequences, which start again at 1 for each test, as on a new database. */
const SEQUENCES = ['completions_seq_seq', 'projects_id_seq'];

/** Past this, the tables are truncated: a test that stored megabytes would leave them to vacuum under the next tests. */
const TRUNCATE_ABOVE_BYTES = 8 * 1024 * 1024;

/**
 * Empties the store's tables, as a new database has them. DELETE for the few rows most tests leave: TRUNCATE gives
 * each table new files and scans the server's whole buffer cache for each, and cost ten times as much a reset
 * (287 ms against 29 at the median on the loaded test server), more than many a test itself.
 */
async function emptyDatabase(db: SqlDatabase): Promise<void> {
  const [{ bytes }] = (await db.query<{ bytes: number }>(
    `SELECT (${TABLES.map((table) => `pg_total_relation_size('${table}')`).join(' + ')})::float8 AS bytes`,
  )) as [{ bytes: number }];
  if (bytes > TRUNCATE_ABOVE_BYTES) {
    await db.query(`TRUNCATE ${TABLES.join(', ')} RESTART IDENTITY`);
    return;
  }
  await db.transaction(async (tx) => {
    for (const table of TABLES) await tx.query(`DELETE FROM ${table}`);
    await tx.query(`SELECT ${SEQUENCES.map((name) => `setval('${name}', 1, false)`).join(', ')}`);
  });
}

/** A PostgreSQL database leased to one test: empty when leased. */
export interface PostgresLease {
  /** The DATABASE_URL a service opens; undefined on PGlite (no server to reach). */
  url: string | undefined;
  /** A connection for the test's own checks (counts), and for the store on PGlite. */
  db: SqlDatabase;
  release(): Promise<void>;
}

interface Slot {
  url: string | undefined;
  db: SqlDatabase;
  busy: boolean;
}
const slots: Slot[] = [];
const createdDatabases: string[] = [];

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Creates an empty database on the test server (migrated by whoever opens it first). */
export async function createTestDatabase(): Promise<string> {
  const name = `sc_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  createdDatabases.push(name);
  return withDatabase(TEST_POSTGRES_URL!, name);
}

async function openSlot(): Promise<Slot> {
  if (hasPostgresServer()) {
    const url = await createTestDatabase();
    return { url, db: await openPostgres(url, POSTGRES_OPTIONS), busy: false };
  }
  return { url: undefined, db: await openPglite(), busy: false };
}

/**
 * An empty PostgreSQL database for one test. Databases are reused within a
 * file, emptied between tests (creating one costs far more than a TRUNCATE,
 * and starting PGlite takes seconds), and dropped when the file ends.
 */
export async function leasePostgres(): Promise<PostgresLease> {
  let slot = slots.find((s) => !s.busy);
  if (!slot) {
    slot = await openSlot();
    slots.push(slot);
  }
  slot.busy = true;
  await emptyDatabase(slot.db);
  const leased = slot;
  return {
    url: leased.url,
    db: leased.db,
    release: async () => {
      leased.busy = false;
    },
  };
}

// At the end of each file (file-cleanup.ts says why not a module-level afterAll): a file's databases are its own.
atEndOfEachFile(async () => {
  await Promise.all(slots.splice(0).map((slot) => slot.db.close()));
  if (createdDatabases.length === 0) return;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    for (const name of createdDatabases.splice(0)) await dropDatabase(admin, name);
  } finally {
    await admin.end();
  }
});

/**
 * Drops a test database, ending whatever is still connected to it. An autovacuum worker in it
 * can only be ended with pg_signal_backend (scripts/start-test-postgres.sh grants it); on a server
 * set up without that grant, the worker is waited for instead: it finishes within moments.
 */
async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch (err) {
      const privilege = (err as { code?: string }).code === '42501';
      if (!privilege || attempt === 20) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
