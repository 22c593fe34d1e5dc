import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SqliteDatabase } from './client.ts';
import { migrationsFolder } from './client.ts';
import { pgMigrationsFolder } from './postgres-migrate.ts';
import type { SqlSession } from './sql-client.ts';

/**
 * A database that a newer version migrated: its journal records a migration newer than the newest this code
 * has. The migrations only skip what is recorded (drizzle's rule: every migration newer than the last one
 * recorded), so nothing else notices: this code reads and writes the tables it knows and passes over what the
 * newer version added. The service warns and serves on (an older instance restarting during a rolling
 * upgrade on PostgreSQL must keep serving, docs/scaling.md); `copy`, which promises a whole database, refuses.
 */
export interface NewerSchema {
  /** Migrations the database records, and when the newest was written (drizzle's `created_at`, ms). */
  recorded: number;
  recordedNewestAt: number;
  /** This code's migrations, and its newest one's tag and time. */
  known: number;
  knownNewestTag: string;
  knownNewestAt: number;
}

interface Journal {
  entries: { tag: string; when: number }[];
}

function newestKnown(folder: string): { known: number; tag: string; when: number } {
  const { entries } = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as Journal;
  const newest = entries.reduce((a, b) => (b.when > a.when ? b : a));
  return { known: entries.length, tag: newest.tag, when: newest.when };
}

function compare(recorded: number, newestAt: number | null, folder: string): NewerSchema | undefined {
  const known = newestKnown(folder);
  if (newestAt === null || !(newestAt > known.when)) return undefined;
  return { recorded, recordedNewestAt: newestAt, known: known.known, knownNewestTag: known.tag, knownNewestAt: known.when };
}

/** A SQLite database's journal against this code's migrations (after they were applied). */
export function newerSqliteSchema(sqlite: SqliteDatabase): NewerSchema | undefined {
  const row = sqlite.prepare('SELECT count(*) AS recorded, max(CAST(created_at AS INTEGER)) AS newest FROM "__drizzle_migrations"').get() as {
    recorded: number;
    newest: number | null;
  };
  return compare(row.recorded, row.newest, migrationsFolder);
}

/** A PostgreSQL database's journal against this code's migrations (after they were applied). */
export async function newerPostgresSchema(db: SqlSession): Promise<NewerSchema | undefined> {
  const [row] = await db.query<{ recorded: number; newest: string | null }>(
    'SELECT count(*)::int AS recorded, max(created_at)::text AS newest FROM "drizzle"."__drizzle_migrations"',
  );
  return compare(row!.recorded, row!.newest === null ? null : Number(row!.newest), pgMigrationsFolder);
}

const day = (ms: number) => new Date(ms).toISOString();

/** One line naming both versions: the database's newest migration and this code's. */
export function describeNewerSchema(schema: NewerSchema): string {
  return (
    `the database was migrated by a newer version of stored-completions: it records ${schema.recorded} migrations, the newest from ${day(schema.recordedNewestAt)}; ` +
    `this version knows ${schema.known}, up to ${schema.knownNewestTag} from ${day(schema.knownNewestAt)}`
  );
}
