import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { PROJECT_ROOT } from '../project-root.ts';
import { checkDatabasePath, describeSqliteError, filesToCleanUp, removeCreatedFiles } from './open-errors.ts';

export const migrationsFolder = join(PROJECT_ROOT, 'migrations');

export type SqliteDatabase = Database.Database;

/**
 * SQLite's `synchronous` in WAL mode. Both survive a crash of the process.
 * FULL syncs the WAL at every commit: an acknowledged write also survives an
 * operating-system crash or a power loss. NORMAL syncs only at checkpoints:
 * the last commits before such a crash can be lost.
 */
export type Synchronous = 'FULL' | 'NORMAL';

/** How long a statement waits for another process's lock before failing with SQLITE_BUSY (the service's SQLITE_BUSY_TIMEOUT_MS). */
export const BUSY_TIMEOUT_MS = 5_000;
/** The same at start, while another process starting on the same file may be migrating it. */
const MIGRATION_BUSY_TIMEOUT_MS = 60_000;

/** Between two tries of the switch to WAL while another process holds the lock it needs. */
const WAL_RETRY_MS = 20;

/**
 * Puts the file in WAL mode. Switching a new file needs its exclusive lock, and SQLite fails the
 * switch at once with SQLITE_BUSY, without the busy timeout's wait, when another connection is
 * switching it at the same moment (each holds a shared lock and wants the exclusive one: waiting
 * could deadlock). Two processes started together on a new file (`--scale 2`, a rolling start) hit
 * it about one start in ten: the switch is tried again until the other has made it, as long as
 * the migration's wait would last.
 */
function switchToWal(sqlite: SqliteDatabase): void {
  const deadline = Date.now() + MIGRATION_BUSY_TIMEOUT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      sqlite.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if (!(err as { code?: string }).code?.startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw err;
      // A synchronous pause: opening is synchronous, and nothing else runs before the database is open.
      Atomics.wait(pause, 0, 0, WAL_RETRY_MS);
    }
  }
}

/**
 * drizzle-kit's migrations, applied as drizzle's migrator applies them (same
 * `__drizzle_migrations` table, same rule: every migration newer than the last
 * one recorded), but in one exclusive transaction that also reads what is
 * applied: two processes starting at once on a new file take turns, and the
 * second finds everything done. (drizzle's own migrator reads outside its
 * transaction, so the second one ran the same CREATE TABLEs again and failed.)
 */
function applyMigrations(sqlite: SqliteDatabase): void {
  const migrations = readMigrationFiles({ migrationsFolder });
  const apply = sqlite.transaction(() => {
    sqlite.exec('CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
    const last = sqlite.prepare('SELECT created_at FROM "__drizzle_migrations" ORDER BY created_at DESC LIMIT 1').get() as
      | { created_at: number | string }
      | undefined;
    const record = sqlite.prepare('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)');
    for (const migration of migrations) {
      if (last !== undefined && Number(last.created_at) >= migration.folderMillis) continue;
      for (const statement of migration.sql) if (statement.trim() !== '') sqlite.exec(statement);
      record.run(migration.hash, migration.folderMillis);
    }
  });
  apply.exclusive();
}

/**
 * Opens (creating its folder when needed) and migrates a SQLite database.
 * `migrate()` is synchronous for this driver, so the schema is current before
 * the caller serves anything; reopening an up-to-date database changes nothing.
 * A file that cannot serve throws a DatabaseOpenError whose one-line message
 * names DATABASE_URL, the path and the cause, and leaves no file behind.
 */
export function openDatabase(
  url: string,
  /** The page cache defaults to 64 MiB here; the service passes SQLITE_CACHE_SIZE_MB, and SQLITE_BUSY_TIMEOUT_MS. */
  { synchronous = 'NORMAL', cacheSizeMb = 64, busyTimeoutMs = BUSY_TIMEOUT_MS }: { synchronous?: Synchronous; cacheSizeMb?: number; busyTimeoutMs?: number } = {},
): SqliteDatabase {
  // This better-sqlite3 build reads no `file:` URIs (configuration refuses them): every name but :memory: is a path.
  const onDisk = url !== ':memory:';
  const path = onDisk ? resolve(url) : url;
  if (onDisk) checkDatabasePath(path);
  const created = onDisk ? filesToCleanUp(path) : [];
  let sqlite: SqliteDatabase | undefined;
  try {
    sqlite = new Database(url);
    // First, so that every statement below waits for a lock another process holds instead of failing.
    sqlite.pragma(`busy_timeout = ${MIGRATION_BUSY_TIMEOUT_MS}`);
    // WAL lets readers go on while a write commits; group commit (write-batcher.ts) makes a sync per batch cheap.
    switchToWal(sqlite);
    sqlite.pragma(`synchronous = ${synchronous}`);
    sqlite.pragma('foreign_keys = ON');
    // Negative: a size in KiB rather than in pages.
    sqlite.pragma(`cache_size = -${cacheSizeMb * 1024}`);
    applyMigrations(sqlite);
    sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
    return sqlite;
  } catch (err) {
    try {
      sqlite?.close();
    } catch {
      // Closing a connection that failed to open can fail too; the open's error is the one to report.
    }
    removeCreatedFiles(created, err);
    throw describeSqliteError(path, err);
  }
}
