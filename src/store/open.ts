import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { openDatabase } from '../db/client.ts';
import { isPostgresUrl } from '../db/database-url.ts';
import { openPostgres } from '../db/postgres-client.ts';
import type { Store } from './contract.ts';
import { createPostgresStore } from './postgres/index.ts';
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
    | 'databasePoolSize'
    | 'databaseStatementTimeoutMs'
    | 'databaseConnectTimeoutMs'
    | 'databaseStartupTimeoutMs'
  >,
  logger?: Logger,
): Promise<Store> {
  if (!isPostgresUrl(config.databaseUrl)) {
    return createSqliteStore(openDatabase(config.databaseUrl, { synchronous: config.sqliteSynchronous, cacheSizeMb: config.sqliteCacheSizeMb }));
  }
  const db = await openPostgres(config.databaseUrl, {
    poolSize: config.databasePoolSize,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    startupTimeoutMs: config.databaseStartupTimeoutMs,
    ...(logger ? { logger } : {}),
  });
  return createPostgresStore(db);
}
