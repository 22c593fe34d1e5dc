import { join } from 'node:path';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type pg from 'pg';
import type { Logger } from 'pino';
import { PROJECT_ROOT } from '../project-root.ts';

/** The schema's migrations, applied once at start by whichever instance takes the advisory lock first. */

export const pgMigrationsFolder = join(PROJECT_ROOT, 'migrations-pg');

/**
 * Any 64-bit number, the same for every instance: while one holds this advisory
 * lock the others wait, so instances starting together migrate exactly once and
 * none serves before the schema is current.
 */
export const MIGRATION_LOCK_KEY = 7_262_011_330_201_947;

/**
 * How long a migration's statement waits for a table's lock before it gives up and tries again. Waiting, it
 * queues every other session's use of that table behind it: a transaction left open on the table (an analyst's
 * session, a `pg_dump`, a `copy` reading it) would stall every instance still serving for as long.
 */
const MIGRATION_LOCK_TIMEOUT = '2s';
const MIGRATION_LOCK_RETRY_MS = 3_000;

/** PostgreSQL's lock_not_available: lock_timeout ran out. */
function isLockTimeout(err: unknown): boolean {
  return (err as { code?: unknown }).code === '55P03';
}

/**
 * drizzle's migrator, one transaction per migration: its own runs every pending migration in one, so a lock
 * timeout in the last rolled back (and ran again at each try) the ones before it, a rewrite of every completion
 * among them. Same table and records as drizzle's (`drizzle.__drizzle_migrations`), so either reads the other's.
 */
async function applyMigrations(client: pg.PoolClient, logger: Logger | undefined): Promise<void> {
  await client.query('CREATE SCHEMA IF NOT EXISTS "drizzle"');
  await client.query('CREATE TABLE IF NOT EXISTS "drizzle"."__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)');
  const [last] = (await client.query<{ createdAt: string }>('SELECT created_at::text AS "createdAt" FROM "drizzle"."__drizzle_migrations" ORDER BY created_at DESC LIMIT 1')).rows;
  for (const migration of readMigrationFiles({ migrationsFolder: pgMigrationsFolder })) {
    if (last !== undefined && Number(last.createdAt) >= migration.folderMillis) continue;
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query('BEGIN');
        for (const statement of migration.sql) await client.query(statement);
        await client.query('INSERT INTO "drizzle"."__drizzle_migrations" ("hash", "created_at") VALUES ($1, $2)', [migration.hash, migration.folderMillis]);
        await client.query('COMMIT');
        break;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        if (!isLockTimeout(err)) throw err;
        // This migration alone rolled back; the sessions queued behind its lock request go on meanwhile.
        logger?.warn({ attempt }, 'a migration waits for a table another session holds (an open transaction, a dump, a copy): trying again');
        await new Promise((resolve) => setTimeout(resolve, MIGRATION_LOCK_RETRY_MS));
      }
    }
  }
}

/**
 * The session holding the migration lock, as pg_stat_activity shows it (a bigint advisory key is two 32-bit halves in
 * pg_locks); undefined when it was let go meanwhile. Its client's address is shown to the same role, as the instances are.
 */
async function migrationLockHolder(client: pg.PoolClient): Promise<Record<string, unknown> | undefined> {
  const { rows } = await client.query(
    `SELECT a.pid, a.application_name AS "applicationName", host(a.client_addr) AS "clientAddr", a.backend_start AS "connectedAt", a.state
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid`,
    [MIGRATION_LOCK_KEY],
  );
  return rows[0];
}

/**
 * Applies the pending migrations on a connection checked out for it (`release(true)` closes it), under the advisory
 * lock: another instance migrating holds this one here until it is done.
 */
export async function migrateOnce({ client, release }: { client: pg.PoolClient; release: (broken: boolean) => void }, logger: Logger | undefined): Promise<void> {
  try {
    // Waiting for another instance's migration, or a long one, is not a slow statement: neither for the server nor
    // for the client's own read timeout, which cut the wait for another instance at 35 s. (The connection is
    // closed afterwards, its settings with it.)
    (client as unknown as { connectionParameters: { query_timeout?: number } }).connectionParameters.query_timeout = 0;
    await client.query('SET statement_timeout = 0');
    const [{ locked }] = (await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY])).rows as [
      { locked: boolean },
    ];
    if (!locked) {
      // Not bounded by DATABASE_STARTUP_TIMEOUT_MS: an upgrade's migration may rightly take longer. Said, so a wait is not
      // silent, with the session it waits for: the operator can tell a migrating instance from a stray session to end.
      const holder = await migrationLockHolder(client).catch(() => undefined);
      logger?.info({ lockKey: MIGRATION_LOCK_KEY, holder }, 'waiting for another instance to finish migrating the database');
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    }
    try {
      // After the advisory lock, which lock_timeout would cut too.
      await client.query(`SET lock_timeout = '${MIGRATION_LOCK_TIMEOUT}'`);
      await applyMigrations(client, logger);
    } finally {
      // A broken connection cannot answer; closing it (below) lets the lock go, and the error that broke it is the one to tell.
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    }
  } finally {
    // Closed, not reused: its settings are the migration's, and one that failed mid-way may still hold the lock.
    release(true);
  }
}
