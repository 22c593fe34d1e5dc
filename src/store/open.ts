import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { openDatabase } from '../db/client.ts';
import { isPostgresUrl } from '../db/database-url.ts';
import { raiseMallocThresholds } from '../db/malloc-thresholds.ts';
import { openPostgres } from '../db/postgres-client.ts';
import { describeNewerSchema, type NewerSchema, newerPostgresSchema, newerSqliteSchema } from '../db/schema-version.ts';
import type { Store } from './contract.ts';
import { createPostgresStore, type PostgresStoreOptions } from './postgres/index.ts';
import { backfillSearch } from './postgres/search-backfill.ts';
import { createSqliteStore } from './sqlite/index.ts';

/**
 * Opens the backend DATABASE_URL names, migrated and ready to serve: PostgreSQL
 * for `postgres://` and `postgresql://` (waiting for an unreachable server up to
 * DATABASE_STARTUP_TIMEOUT_MS), SQLite for anything else.
 */
export async function openStore(
  config: Pick<
    Config,
    | 'databaseUrl'
    | 'sqliteSynchronous'
    | 'sqliteCacheSizeMb'
    | 'sqliteBusyTimeoutMs'
    | 'databasePoolSize'
    | 'databaseStatementTimeoutMs'
    | 'databaseConnectTimeoutMs'
    | 'databaseStartupTimeoutMs'
  >,
  logger?: Logger,
  /** PostgreSQL's tuning (tests lower the search and usage limits to reach every path on little data). */
  postgresOptions?: PostgresStoreOptions,
): Promise<Store> {
  if (!isPostgresUrl(config.databaseUrl)) {
    const db = openDatabase(config.databaseUrl, {
      synchronous: config.sqliteSynchronous,
      cacheSizeMb: config.sqliteCacheSizeMb,
      busyTimeoutMs: config.sqliteBusyTimeoutMs,
    });
    // The service's list pages free their blocks in bulk: glibc keeps them instead of trimming its heap (see the function).
    raiseMallocThresholds(db);
    warnOfNewerSchema(newerSqliteSchema(db), logger);
    return createSqliteStore(db, {
      backgroundCheckpoints: {
        onError: (err) => logger?.warn({ err }, 'the WAL checkpoint thread failed; SQLite checkpoints inside commits again'),
        onRecover: () => logger?.info('the WAL checkpoint thread checkpoints again'),
      },
    });
  }
  const db = await openPostgres(config.databaseUrl, {
    poolSize: config.databasePoolSize,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    startupTimeoutMs: config.databaseStartupTimeoutMs,
    startupTimeoutSetting: 'DATABASE_STARTUP_TIMEOUT_MS',
    ...(logger ? { logger } : {}),
  });
  warnOfNewerSchema(await newerPostgresSchema(db), logger);
  // Completions stored before the search columns existed are indexed before this instance serves.
  await backfillSearch(db, logger);
  return createPostgresStore(db, postgresOptions);
}

/**
 * Said, never refused: on PostgreSQL an older instance restarting while a newer one has migrated the database (a
 * rolling upgrade) must keep serving; it reads and writes the tables it knows, as it did before the upgrade began.
 */
function warnOfNewerSchema(newer: NewerSchema | undefined, logger: Logger | undefined): void {
  if (newer === undefined) return;
  logger?.warn(
    { newerSchema: newer },
    `${describeNewerSchema(newer)}. Serving on with what this version knows; finish the upgrade (docs/operations.md, "Upgrades")`,
  );
}
