import { join } from 'node:path';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import pg from 'pg';
import type { Logger } from 'pino';
import { ApiError } from '../errors.ts';
import { PROJECT_ROOT } from '../project-root.ts';
import { hideDatabasePassword, maskDatabaseUrl } from './database-url.ts';
import type { ConnectionUse, SqlDatabase, SqlSession } from './sql-client.ts';

export const pgMigrationsFolder = join(PROJECT_ROOT, 'migrations-pg');

/**
 * Any 64-bit number, the same for every instance: while one holds this advisory
 * lock the others wait, so instances starting together migrate exactly once and
 * none serves before the schema is current.
 */
export const MIGRATION_LOCK_KEY = 7_262_011_330_201_947;

const INT8_OID = 20;

/** PostgreSQL could not be opened at start (unreachable past the start-up timeout, or refusing): the message says why, password masked. */
export class PostgresStartError extends Error {
  override name = 'PostgresStartError';
}

export interface PostgresOptions {
  poolSize: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  /** How long start-up retries an unreachable server before giving up; 0 tries once. */
  startupTimeoutMs: number;
  /**
   * The setting that chose startupTimeoutMs, named when start-up gives up so the operator knows what to raise;
   * none for the command-line tool, whose wait is fixed and reads no such setting.
   */
  startupTimeoutSetting?: string;
  logger?: Logger;
  /** Most distinct statements prepared on each connection (PREPARED_STATEMENT_LIMIT unless a test says less). */
  preparedStatementLimit?: number;
}

/**
 * Most distinct SQL texts prepared (named) on each connection; later ones run unnamed, parsed and planned at
 * every call. A statement's text carries its page size (LIMITs are written in, text.ts) and its filters, so
 * a client could otherwise grow every connection's prepared statements, and the server's memory, without
 * bound. The service's own shapes at the common page sizes stay far below it.
 */
export const PREPARED_STATEMENT_LIMIT = 500;

export interface PostgresDatabase extends SqlDatabase {
  pool: pg.Pool;
}

/**
 * The URL as node-postgres should read it for `sslmode` to mean what it means
 * to libpq (psql, every other client): `require` encrypts without verifying the
 * certificate, `verify-ca` checks the chain only, `prefer` and `allow` use TLS
 * without verifying (and openPostgres goes on unencrypted when the server has no TLS). Left alone, node-postgres reads all three as `verify-full`
 * and refuses a server with a self-signed certificate that psql accepts.
 */
export function withLibpqSslModes(url: string): string {
  const parsed = new URL(url);
  const mode = parsed.searchParams.get('sslmode');
  if (mode === null || parsed.searchParams.has('uselibpqcompat')) return url;
  if (mode === 'allow') parsed.searchParams.set('sslmode', 'prefer');
  if (['allow', 'prefer', 'require', 'verify-ca'].includes(mode)) parsed.searchParams.set('uselibpqcompat', 'true');
  return parsed.toString();
}

/** SQLSTATE classes and driver errors that mean "the server cannot be reached now", not "the query is wrong". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  '57P01', // admin_shutdown: the server is stopping
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  '57014', // query_canceled: the statement timeout fired
  '57P05', // idle_session_timeout: the server closed a pooled connection that sat idle (managed servers set it low)
  '25P03', // idle_in_transaction_session_timeout: likewise, for a transaction left waiting on its reader
  '40001', // serialization_failure, once our own retries are spent
  '40P01', // deadlock_detected, likewise
  // read_only_sql_transaction: a failover's old primary turned standby, a server set read-only (a managed one
  // whose disk filled): writes pass again once it is writable, or DATABASE_URL names the new primary.
  '25006',
  '58030', // io_error: the server's disk failing a read or write
]);

/** Class 53, insufficient resources: disk_full, out_of_memory, too_many_connections, a configuration limit. */
const UNAVAILABLE_CLASSES = ['08', '53'];

/**
 * A database closed to connections for maintenance (`ALTER DATABASE ... ALLOW_CONNECTIONS false`): SQLSTATE
 * 55000, object_not_in_prerequisite_state, with this message. Retried at start, a 503 while serving. Other
 * errors of that class (a statement's, a bug's) are not the database being away, and stay what they are.
 */
function isClosedToConnections(err: unknown): boolean {
  return (err as { code?: unknown }).code === '55000' && /is not currently accepting connections/.test((err as Error).message ?? '');
}

/** True when an error says the database is unreachable or overloaded, so the request should get a 503. */
export function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_CLASSES.includes(code.slice(0, 2)))) return true;
  if (isClosedToConnections(err)) return true;
  // node-postgres raises these without a code when a connection dies or a pool slot never frees up.
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection ended|not queryable/i.test(
    err.message,
  );
}

/**
 * True when the connection itself failed (a client-side timeout, a dropped socket), not a statement
 * the server answered with an error (a statement timeout, a deadlock), after which it still takes a
 * ROLLBACK. (A transaction that failed either way is closed afterwards all the same: see transactionOnce.)
 */
function connectionUnusable(err: unknown): boolean {
  return isUnavailableError(err) && !(err instanceof pg.DatabaseError);
}

/**
 * SQLSTATEs of a server that, while serving, refuses our credentials or database (a password rotated,
 * a role or a database dropped): the data is out of reach, as when the server is down, so a request
 * gets the 503 and /healthz says why. At start they mean a wrong DATABASE_URL and are not retried.
 */
const REFUSED_CODES = new Set([
  '28000', // invalid_authorization_specification: no pg_hba.conf entry, or the role may not log in
  '28P01', // invalid_password
  '3D000', // invalid_catalog_name: the database does not exist
  '57P04', // database_dropped
  '42501', // insufficient_privilege: CONNECT revoked from the role (or its tables' rights)
]);

function isRefusedError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && REFUSED_CODES.has(code);
}

/** SQLSTATEs worth one more try inside the database before the client hears of it. */
function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '40001' || code === '40P01';
}

/**
 * Opens a pool on the server, waiting (with backoff) while it is unreachable,
 * then applies the migrations under an advisory lock. Throws when the server
 * stays unreachable for `startupTimeoutMs`, with the password hidden.
 */
export async function openPostgres(url: string, options: PostgresOptions): Promise<PostgresDatabase> {
  const identity = createDatabaseIdentity();
  let pool = createPool(withLibpqSslModes(url), url, options, identity);
  try {
    await withStartupRetry(url, options, async () => {
      try {
        await migrateOnce(pool, options.logger);
      } catch (err) {
        if (!fallsBackToPlain(url) || !(err instanceof Error) || !/does not support SSL/i.test(err.message)) throw err;
        // libpq's `prefer` and `allow` go on unencrypted when the server has no TLS; node-postgres stops there.
        await pool.end().catch(() => {});
        pool = createPool(withoutTls(url), url, options, identity);
        await migrateOnce(pool, options.logger);
      }
    });
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  const limit = options.preparedStatementLimit ?? PREPARED_STATEMENT_LIMIT;
  const db = wrapPool(pool, url, limit);
  // The health check's own connection (opened at its first check): in the pool it queued behind the requests, and a
  // pool merely busy under load failed it, so every instance left its balancer at once when traffic peaked.
  const apart = wrapPool(createPool(pool.options.connectionString!, url, { ...options, poolSize: 1 }, identity), url, limit);
  return {
    ...db,
    apart,
    close: async () => {
      await Promise.all([db.close(), apart.close()]);
    },
  };
}

/** The modes under which libpq connects without TLS to a server that has none. */
function fallsBackToPlain(url: string): boolean {
  const mode = new URL(url).searchParams.get('sslmode');
  return mode === 'prefer' || mode === 'allow';
}

/** The URL asking for a plain connection. */
function withoutTls(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('sslmode', 'disable');
  parsed.searchParams.delete('uselibpqcompat');
  return parsed.toString();
}

/**
 * Which database the process opened: its OID, which a server restart or a failover to a streaming replica keeps,
 * and which a database dropped and created again (or restored into a new one) under the same name does not.
 * Every connection is checked against the first before its first query: the stores keep what they read of the
 * database (project ids by name, the pass-through secret), and in a database replaced under them those ids name
 * other projects: served on, one tenant would read, and write into, another's completions. So a connection to
 * another database is refused (503, its reason on /healthz) until the instance is restarted on it.
 */
function createDatabaseIdentity() {
  let opened: string | undefined;
  return async (client: pg.ClientBase): Promise<void> => {
    const { rows } = await client.query<{ oid: string }>('SELECT oid::text AS oid FROM pg_database WHERE datname = current_database()');
    const oid = rows[0]?.oid;
    opened ??= oid;
    if (oid !== opened) {
      throw ApiError.databaseUnavailable(
        new Error('the database was replaced under this instance (dropped and created again, or restored into a new one); what it read of the old one no longer holds: restart it'),
      );
    }
  };
}

/**
 * How long a connection sits silent before TCP keepalive probes ask whether the other end is still there, on both ends;
 * 10 probes 1 s apart then give it up (Node's count and interval, and the ones set on the server's end). A peer that
 * vanished without a word (a partition, a dead VM, no FIN, no RST) is thus known gone within 20 s, not the 2 hours
 * after which the operating system's defaults send their first probe. Short enough that a vanished migrating instance
 * holds the others' start for seconds, long enough that a pool's few connections cost a probe now and then.
 */
export const KEEPALIVE_IDLE_MS = 10_000;
/** When a silent peer is given up: the idle time and the 10 probes 1 s apart. */
const KEEPALIVE_GONE_MS = KEEPALIVE_IDLE_MS + 10 * 1000;

/** SQLSTATE of a session the server ended for idling past its `idle_session_timeout`. */
const IDLE_SESSION_TIMEOUT = '57P05';

/** The service's pool on `connectionString` (`url`, the one configured, is what its messages name, masked). */
function createPool(connectionString: string, url: string, options: PostgresOptions, checkIdentity: (client: pg.ClientBase) => Promise<void>): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    // The server cancels a slow statement (statement_timeout, set in onConnect); the client-side timeout also covers a
    // server that stopped answering at all.
    query_timeout: options.statementTimeoutMs + options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    // Without a delay the operating system's applied: 2 hours of silence before the first probe.
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    application_name: 'stored-completions',
    // Statements are prepared once per connection (wrapPool); with generic plans they are also planned once,
    // not at every call (a two-filter page spent as long planning as running). Every statement's shape is
    // fixed by its text (LIMITs written in, src/store/postgres/text.ts), a search asks for a custom plan
    // (list-query.ts), and test/postgres-query-plan.test.ts reads the plans pages run with. Awaited before
    // the connection serves its first query. statement_timeout is set here too, not as a startup parameter: PgBouncer
    // refuses a connection whose startup packet carries one it does not track ("unsupported startup parameter:
    // statement_timeout"), and the service could not start behind it (docs/scaling.md, "Connection poolers").
    onConnect: async (client: pg.ClientBase) => {
      // The server's end probes as ours does: a session whose instance vanished ends (its locks let go, the migration's
      // advisory lock among them, its connection slot freed) within seconds, not after the server's OS's 2 hours.
      // Keepalive is not sent while an answer is unacknowledged, as the last one to a vanished instance is: its
      // retransmissions then ran about 15 minutes; tcp_user_timeout gives up on it as fast as the probes would.
      await client.query(
        `SET plan_cache_mode = force_generic_plan; SET statement_timeout = ${Math.trunc(options.statementTimeoutMs)}; ` +
          `SET tcp_keepalives_idle = ${KEEPALIVE_IDLE_MS / 1000}; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 10; ` +
          `SET tcp_user_timeout = ${KEEPALIVE_GONE_MS}`,
      );
      await checkIdentity(client);
    },
    // Unix seconds and row numbers are int8: read them as numbers (exact up to 2^53), as SQLite hands them out.
    types: { getTypeParser: (oid: number, format?: string) => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text')) } as pg.CustomTypesConfig,
  });
  // A pooled idle connection that the server closes (a restart) emits 'error' on the pool; unhandled, it would end
  // the process. The pool drops that connection and opens a fresh one for the next query. A server set to close
  // idle sessions (idle_session_timeout: 57P05) does so by design, as often as the pool lets one idle: no warning.
  pool.on('error', (err) => {
    if ((err as { code?: string }).code === IDLE_SESSION_TIMEOUT) options.logger?.debug({ err: maskError(err, url) }, 'the database closed an idle connection');
    else options.logger?.warn({ err: maskError(err, url) }, 'database connection lost');
  });
  return pool;
}

/**
 * A client checked out of the pool. While it is out, the pool no longer listens
 * for its errors: a connection the server drops between two queries (a restart)
 * would emit an 'error' nobody handles, which ends the process. `broken` then
 * says it must be closed, not returned to the pool.
 */
async function checkOut(pool: pg.Pool): Promise<{ client: pg.PoolClient; broken: () => boolean; release: (broken: boolean) => void }> {
  const client = await pool.connect();
  let dropped = false;
  const onError = () => {
    dropped = true;
  };
  client.on('error', onError);
  return {
    client,
    broken: () => dropped,
    release: (broken) => {
      client.off('error', onError);
      client.release(broken || dropped);
    },
  };
}

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

async function migrateOnce(pool: pg.Pool, logger: Logger | undefined): Promise<void> {
  const { client, release } = await checkOut(pool);
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

function isReadOnly(err: unknown): boolean {
  return (err as { code?: unknown }).code === '25006';
}

/**
 * What an error that is not retried at start says the server did. A refusal names the credentials or the database;
 * a right missing may be the right to connect or to create the tables; another error the server answered is the
 * migration failing there (a search_path naming another schema); the driver's own (TLS, the password's form) is the
 * connection failing before the server had a say. Each sends the operator to a different place.
 */
function startRefusal(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === '42501') return 'refused a right the service needs (to connect, or to create its tables: docs/operations.md)';
  if (isRefusedError(err)) return 'refused the connection';
  if (err instanceof pg.DatabaseError) return 'could not be prepared at start';
  return 'could not be connected to';
}

async function withStartupRetry(url: string, options: PostgresOptions, attempt: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + options.startupTimeoutMs;
  let delayMs = 250;
  for (let tries = 1; ; tries++) {
    try {
      await attempt();
      return;
    } catch (err) {
      const retryable = isUnavailableError(err);
      const message = hideDatabasePassword((err as Error).message, url);
      const remainingMs = deadline - Date.now();
      if (!retryable || remainingMs <= 0) {
        const still = (what: string) =>
          `still ${what} after ${tries} attempts over ${Math.round(options.startupTimeoutMs / 1000)} s${options.startupTimeoutSetting ? ` (${options.startupTimeoutSetting})` : ''}`;
        throw new PostgresStartError(`DATABASE_URL: PostgreSQL at ${maskDatabaseUrl(url)} ${retryable ? still(isReadOnly(err) ? 'read-only (a standby, or default_transaction_read_only)' : 'unreachable') : startRefusal(err)}: ${message}`);
      }
      const waitMs = Math.min(delayMs, remainingMs);
      options.logger?.warn({ database: maskDatabaseUrl(url), attempt: tries, retryInMs: waitMs, error: message }, 'database unreachable, retrying');
      await new Promise((r) => setTimeout(r, waitMs));
      delayMs = Math.min(delayMs * 2, 5_000);
    }
  }
}

function maskError(err: Error, url: string): Error {
  const masked = new Error(hideDatabasePassword(err.message, url));
  Object.assign(masked, { code: (err as { code?: unknown }).code });
  return masked;
}

/** pg-pool's own words when no connection of the pool came free in time: the database was never asked. */
function isPoolWaitTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'timeout exceeded when trying to connect';
}

/**
 * The cause a 503 names when the pool had no connection to give: all of them busy (a load the pool is too small
 * for) or still opening (a server that does not answer). pg-pool's "timeout exceeded when trying to connect" read,
 * on /healthz and in the log, as the database failing a connection, and sent operators to the database.
 */
function poolWaitTimeout(pool: pg.Pool): Error {
  return new Error(
    `no connection of the pool's ${pool.options.max} came free within ${pool.options.connectionTimeoutMillis} ms: all busy, or still opening`,
  );
}

/**
 * Every failure leaves here either as a 503 (the database is unreachable) or
 * as an error whose message cannot hold the password.
 */
function translate(err: unknown, url: string, pool: pg.Pool): unknown {
  if (err instanceof ApiError) return err;
  if (isPoolWaitTimeout(err)) return ApiError.databaseUnavailable(poolWaitTimeout(pool));
  // The 503 keeps what the database said (a refused password, a cut connection, a read-only server) as its cause:
  // the operator's log line, the failure counted in database_errors_total, and /healthz's reason name it.
  if (isRefusedError(err) || isClosedToConnections(err) || isUnavailableError(err)) {
    return ApiError.databaseUnavailable(err instanceof Error ? maskError(err, url) : undefined);
  }
  if (err instanceof Error) {
    const hidden = hideDatabasePassword(err.message, url);
    if (hidden !== err.message) err.message = hidden;
  }
  return err;
}

function wrapPool(pool: pg.Pool, url: string, preparedStatementLimit: number): PostgresDatabase {
  // One server-side prepared statement per distinct SQL text (node-postgres prepares it once per connection),
  // for the first preparedStatementLimit texts; the same names on every connection, so each holds at most as many.
  const names = new Map<string, string>();
  const named = (sql: string, params: readonly unknown[] | undefined): pg.QueryConfig => {
    let name = names.get(sql);
    if (name === undefined && names.size < preparedStatementLimit) {
      name = `s${names.size}`;
      names.set(sql, name);
    }
    return name === undefined ? { text: sql, values: params as unknown[] | undefined } : { name, text: sql, values: params as unknown[] | undefined };
  };

  const sessionOf = (client: pg.Pool | pg.PoolClient): SqlSession => ({
    async query<Row>(sql: string, params?: readonly unknown[]) {
      return (await client.query(named(sql, params))).rows as Row[];
    },
  });
  const poolSession = sessionOf(pool);

  async function transactionOnce<T>(work: (tx: SqlSession) => Promise<T>): Promise<T> {
    const { client, release } = await checkOut(pool);
    let broken = false;
    try {
      await client.query('BEGIN');
      try {
        const result = await work(sessionOf(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        // A connection that timed out or dropped cannot take a ROLLBACK: one sent after a query read
        // timeout would wait behind the unanswered statement for the timeout again, doubling the wait
        // for the 503. Closing the connection rolls the transaction back on the server.
        if (connectionUnusable(err)) broken = true;
        else
          await client.query('ROLLBACK').catch(() => {
            broken = true;
          });
        throw err;
      }
    } catch (err) {
      // Any unavailable error, the server's own included (a statement timeout, a deadlock after our retries, a
      // shutdown notice), closes the connection rather than trusting it to the next request.
      if (isUnavailableError(err)) broken = true;
      throw err;
    } finally {
      release(broken);
    }
  }

  return {
    pool,
    async query<Row>(sql: string, params?: readonly unknown[]) {
      try {
        return await poolSession.query<Row>(sql, params);
      } catch (err) {
        throw translate(err, url, pool);
      }
    },
    async transaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        try {
          return await transactionOnce(work);
        } catch (err) {
          if (attempt < 3 && isRetryable(err)) continue;
          throw translate(err, url, pool);
        }
      }
    },
    async readSnapshot() {
      let checkedOut: Awaited<ReturnType<typeof checkOut>>;
      try {
        checkedOut = await checkOut(pool);
      } catch (err) {
        throw translate(err, url, pool);
      }
      const { client } = checkedOut;
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      } catch (err) {
        checkedOut.release(true);
        throw translate(err, url, pool);
      }
      const session = sessionOf(client);
      let broken = false;
      return {
        async query<Row>(sql: string, params?: readonly unknown[]) {
          try {
            return await session.query<Row>(sql, params);
          } catch (err) {
            if (isUnavailableError(err)) broken = true;
            throw translate(err, url, pool);
          }
        },
        release: async () => {
          if (!broken && !checkedOut.broken()) await client.query('COMMIT').catch(() => (broken = true));
          checkedOut.release(broken);
        },
      };
    },
    connectionUse: (): ConnectionUse => ({ size: pool.options.max, open: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}
