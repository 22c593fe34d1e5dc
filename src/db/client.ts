import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { checkDatabasePath, describeSqliteError, filesToCleanUp, removeCreatedFiles } from './open-errors.ts';

const migrationsFolder = resolve(dirname(fileURLToPath(import.meta.url)), '../../migrations');

export type SqliteDatabase = Database.Database;

/**
 * SQLite's `synchronous` in WAL mode. Both survive a crash of the process.
 * FULL syncs the WAL at every commit: an acknowledged write also survives an
 * operating-system crash or a power loss. NORMAL syncs only at checkpoints:
 * the last commits before such a crash can be lost.
 */
export type Synchronous = 'FULL' | 'NORMAL';

/**
 * Opens (creating its folder when needed) and migrates a SQLite database.
 * `migrate()` is synchronous for this driver, so the schema is current before
 * the caller serves anything; reopening an up-to-date database changes nothing.
 * A file that cannot serve throws a DatabaseOpenError whose one-line message
 * names DATABASE_URL, the path and the cause, and leaves no file behind.
 */
export function openDatabase(url: string, { synchronous = 'NORMAL' }: { synchronous?: Synchronous } = {}): SqliteDatabase {
  const onDisk = url !== ':memory:' && !url.startsWith('file:');
  const path = onDisk ? resolve(url) : url;
  if (onDisk) checkDatabasePath(path);
  const created = onDisk ? filesToCleanUp(path) : [];
  let sqlite: SqliteDatabase | undefined;
  try {
    sqlite = new Database(url);
    // WAL lets readers go on while a write commits; group commit (write-batcher.ts) makes a sync per batch cheap.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`synchronous = ${synchronous}`);
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('cache_size = -65536');
    migrate(drizzle(sqlite), { migrationsFolder });
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
