import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/db/client.ts';
import { isPostgresUrl, maskDatabaseUrl } from '../src/db/database-url.ts';
import { openPostgres } from '../src/db/postgres-client.ts';
import type { SqlDatabase } from '../src/db/sql-client.ts';
import { createPostgresStore, createSqliteStore, type Store } from '../src/store/index.ts';
import { serializeCompletion, serializeMessageList } from '../src/wire.ts';
import { round } from './stats.ts';

/**
 * The database a bench run fills: a SQLite file in a temporary folder, or, with
 * `--database postgres://...`, a fresh database created on that server (the
 * role needs CREATEDB) and dropped at the end unless `--keep`. The same store
 * code runs on either; only the few bench-only reads below speak SQL.
 */
export interface BenchDatabase {
  backend: 'sqlite' | 'postgres';
  /** The DATABASE_URL the bench's service process opens. */
  url: string;
  /** Where it is, for the log (password masked). */
  description: string;
  store: Store;
  /**
   * After seeding, before lists are measured: the state a running service's database is kept in. On
   * PostgreSQL a VACUUM ANALYZE, as autovacuum leaves a service that writes at a steady rate (migration
   * 0004 has it visit the filter tables every 1% of inserts): the seeding's burst of thousands a second
   * outruns autovacuum's one-minute nap, and the newest rows, which first pages read, would be walked
   * with a heap visit per index entry. Then a CHECKPOINT: the load leaves gigabytes of dirty pages that
   * the checkpointer writes out over the next minutes (spread by checkpoint_completion_target), and lists
   * measured meanwhile shared the two cores and the disk with those writes, which a service writing at a
   * steady rate does not see (bench/README.md, "PostgreSQL's list tail, the round trip and the load's
   * checkpoint"). Nothing on SQLite.
   */
  settle(): Promise<void>;
  /** Ids from the middle of the project's history (40% to 60% of its rows), for "deep cursor" pages. */
  deepCursors(project: string, count: number): Promise<string[]>;
  measureDisk(total: number): Promise<DiskFigures>;
  /** Closes the bench's own store (the service process opens its own). */
  closeStore(): Promise<void>;
  /** Deletes the database, unless kept. */
  dispose(keep: boolean): Promise<void>;
}

export interface DiskFigures {
  /** The SQLite file, or PostgreSQL's database size (tables, indexes, TOAST). */
  fileBytes: number;
  bytesPerCompletion: number;
  jsonBytesPerCompletion: number;
  ratio: number;
  bytesPerCompletionByTable: Record<string, number>;
}

/** What the API serves for a sample of completions, in bytes per completion (retrieve and messages). */
async function servedBytes(store: Store, sample: { id: string; project: string }[]): Promise<number> {
  let jsonBytes = 0;
  for (const { id, project } of sample) {
    jsonBytes += Buffer.byteLength(serializeCompletion((await store.getCompletion(project, id))!));
    const messages = (await store.listMessages(project, id, { after: undefined, limit: 100, order: 'asc' }))!;
    jsonBytes += Buffer.byteLength(serializeMessageList(id, messages));
  }
  return jsonBytes / sample.length;
}

function diskFigures(fileBytes: number, total: number, jsonBytesPerCompletion: number, tables: { name: string; bytes: number }[]): DiskFigures {
  return {
    fileBytes,
    bytesPerCompletion: Math.round(fileBytes / total),
    jsonBytesPerCompletion: Math.round(jsonBytesPerCompletion),
    ratio: round(fileBytes / total / jsonBytesPerCompletion, 2),
    bytesPerCompletionByTable: Object.fromEntries(tables.map((t) => [t.name, Math.round(t.bytes / total)])),
  };
}

const SAMPLE_SQL = `SELECT c.id, p.name AS project FROM completions c JOIN projects p ON p.id = c.project_id
  WHERE c.seq IN (SELECT seq FROM completions ORDER BY random() LIMIT 500)`;

export async function openBenchDatabase(database: string | undefined): Promise<BenchDatabase> {
  return database !== undefined && isPostgresUrl(database) ? openPostgresBench(database) : openSqliteBench();
}

function openSqliteBench(): BenchDatabase {
  const folder = mkdtempSync(join(tmpdir(), 'stored-completions-bench-'));
  const url = join(folder, 'bench.db');
  const db = openDatabase(url);
  const store = createSqliteStore(db);
  return {
    backend: 'sqlite',
    url,
    description: `SQLite ${url}`,
    store,
    deepCursors: async (project, count) => {
      const { projectId } = db.prepare('SELECT id AS projectId FROM projects WHERE name = ?').get(project) as { projectId: number };
      // The seed writes in time order, so seq order is time order within a project.
      const { lo, hi } = db.prepare('SELECT min(seq) AS lo, max(seq) AS hi FROM completions WHERE project_id = ?').get(projectId) as {
        lo: number;
        hi: number;
      };
      const pick = db.prepare('SELECT id FROM completions WHERE project_id = ? AND seq >= ? ORDER BY seq LIMIT 1');
      return Array.from({ length: count }, (_, i) => (pick.get(projectId, Math.floor(lo + (hi - lo) * (0.4 + (0.2 * i) / count))) as { id: string }).id);
    },
    settle: async () => {},
    measureDisk: async (total) => {
      db.pragma('wal_checkpoint(TRUNCATE)');
      const sample = db.prepare(SAMPLE_SQL).all() as { id: string; project: string }[];
      const tables = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as {
        name: string;
        bytes: number;
      }[];
      return diskFigures(statSync(url).size, total, await servedBytes(store, sample), tables);
    },
    closeStore: () => store.close(),
    dispose: async (keep) => {
      if (!keep) rmSync(folder, { recursive: true, force: true });
    },
  };
}

async function openPostgresBench(serverUrl: string): Promise<BenchDatabase> {
  const name = `stored_completions_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const parsed = new URL(serverUrl);
  parsed.pathname = `/${name}`;
  const url = parsed.toString();
  const db: SqlDatabase = await openPostgres(url, { poolSize: 10, statementTimeoutMs: 600_000, connectTimeoutMs: 10_000, startupTimeoutMs: 10_000 });
  const store = createPostgresStore(db);
  return {
    backend: 'postgres',
    url,
    description: `PostgreSQL ${maskDatabaseUrl(url)}`,
    store,
    deepCursors: (project, count) => postgresDeepCursors(db, project, count),
    settle: async () => {
      await db.query('VACUUM ANALYZE');
      try {
        await db.query('CHECKPOINT');
      } catch (err) {
        // CHECKPOINT needs a superuser or pg_checkpoint (PostgreSQL 15 and later); the figures are then taken during it.
        console.error(`[bench] no CHECKPOINT after seeding (${(err as Error).message}): list latencies include the load's checkpoint writes`);
      }
    },
    measureDisk: async (total) => {
      // Statistics and the visibility map as autovacuum leaves them, before sizes are read.
      await db.query('VACUUM ANALYZE');
      const sample = await db.query<{ id: string; project: string }>(SAMPLE_SQL);
      const [{ bytes }] = (await db.query<{ bytes: number }>('SELECT pg_database_size(current_database()) AS bytes')) as [{ bytes: number }];
      const tables = await db.query<{ name: string; bytes: number }>(
        `SELECT c.relname AS name, pg_relation_size(c.oid) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') ORDER BY bytes DESC`,
      );
      return diskFigures(bytes, total, await servedBytes(store, sample), tables);
    },
    closeStore: () => store.close(),
    dispose: async (keep) => {
      if (keep) return;
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

/**
 * Ids from the middle of `project`'s history on PostgreSQL (40% to 60% of its rows, evenly spread), for
 * "deep cursor" pages. The seed writes in time order, so seq order is time order within a project.
 */
export async function postgresDeepCursors(db: SqlDatabase, project: string, count: number): Promise<string[]> {
  const [{ projectId }] = (await db.query<{ projectId: number }>('SELECT id AS "projectId" FROM projects WHERE name = $1', [project])) as [
    { projectId: number },
  ];
  const [{ lo, hi }] = (await db.query<{ lo: number; hi: number }>('SELECT min(seq) AS lo, max(seq) AS hi FROM completions WHERE project_id = $1', [
    projectId,
  ])) as [{ lo: number; hi: number }];
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const seq = Math.floor(Number(lo) + (Number(hi) - Number(lo)) * (0.4 + (0.2 * i) / count));
    const [row] = await db.query<{ id: string }>('SELECT id FROM completions WHERE project_id = $1 AND seq >= $2 ORDER BY seq LIMIT 1', [projectId, seq]);
    ids.push(row!.id);
  }
  return ids;
}
