import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';

const migrationsFolder = resolve(dirname(fileURLToPath(import.meta.url)), '../../migrations');

export type SqliteDatabase = Database.Database;

/**
 * Opens (creating its folder when needed) and migrates a SQLite database.
 * `migrate()` is synchronous for this driver, so the schema is current before
 * the caller serves anything; reopening an up-to-date database changes nothing.
 */
export function openDatabase(url: string): SqliteDatabase {
  if (url !== ':memory:' && !url.startsWith('file:')) mkdirSync(dirname(resolve(url)), { recursive: true });
  const sqlite = new Database(url);
  // WAL lets readers go on while a write commits; NORMAL syncs at checkpoints,
  // which in WAL mode still survives a process crash (only an OS crash or power
  // loss can lose the last transactions).
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('cache_size = -65536');
  migrate(drizzle(sqlite), { migrationsFolder });
  return sqlite;
}
