import pg from 'pg';
import type { Logger } from 'pino';
import { ApiError } from '../errors.ts';
import { hideDatabasePassword, maskDatabaseUrl } from './database-url.ts';
import { connectionUnusable, isReadOnly, isRetryable, isUnavailableError, maskError, startRefusal, translate } from './postgres-errors.ts';
import { migrateOnce } from './postgres-migrate.ts';
import type { ConnectionUse, SqlDatabase, SqlSession } from './sql-client.ts';

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

/**
 * Opens a pool on the server, waiting (with backoff) while it is unreachable,
 * then applies the migrations under an advisory lock. Throws when the server
 * stays unreachable for `startupTimeoutMs`, with the password hidden.
 */
export async function openPostgres(url: string, options: PostgresOptions): Promise<PostgresDatabase> {
  const identity = createDatabaseIdentity();
  let pool = createPool(withLibpqSslModes(url), url, options, identity);
  try {
    await withStartupRetry(url, options, async (deadline) => {
      try {
        await migrateOnce(await checkOutBy(pool, deadline), options.logger);
      } catch (err) {
        if (!fallsBackToPlain(url) || !(err instanceof Error) || !/does not support SSL/i.test(err.message)) throw err;
        // libpq's `prefer` and `allow` go on unencrypted when the server has no TLS; node-postgres stops there.
        await pool.end().catch(() => {});
        pool = createPool(withoutTls(url), url, options, identity);
        await migrateOnce(await checkOutBy(pool, deadline), options.logger);
      }
    });
  } catch (err) {
    // Not awaited: the pool ends once a connection still opening is given up, up to DATABASE_CONNECT_TIMEOUT_MS later.
    void pool.end().catch(() => {});
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

/** A connection still not open when start-up's time ran out (checkOutBy). */
class StartupDeadlineError extends Error {}

/**
 * How long the attempt start-up makes at its deadline may still take to connect, so that a server which just came
 * back is given a fair try, and the start never overruns DATABASE_STARTUP_TIMEOUT_MS by more.
 */
const LAST_ATTEMPT_MS = 1_000;

/**
 * A connection checked out before start-up's deadline (or LAST_ATTEMPT_MS from now, if later). A server that accepts
 * connections and never answers (a hung server, a port forwarded to a host that is gone) otherwise held start-up for
 * the pool's DATABASE_CONNECT_TIMEOUT_MS past DATABASE_STARTUP_TIMEOUT_MS: 30 s past a 1.5 s one, the give-up
 * line then saying "over 2 s". Only the connection is bounded: a migration may rightly take longer.
 */
async function checkOutBy(pool: pg.Pool, deadline: number): ReturnType<typeof checkOut> {
  const pending = checkOut(pool);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StartupDeadlineError("no answer from the server within the start-up's time")), Math.max(deadline - Date.now(), LAST_ATTEMPT_MS));
  });
  try {
    return await Promise.race([pending, expired]);
  } catch (err) {
    // A connection that opens after all is closed, not left checked out of a pool nobody uses.
    pending.then(({ release }) => release(true)).catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function withStartupRetry(url: string, options: PostgresOptions, attempt: (deadline: number) => Promise<void>): Promise<void> {
  const deadline = Date.now() + options.startupTimeoutMs;
  let delayMs = 250;
  for (let tries = 1; ; tries++) {
    try {
      await attempt(deadline);
      return;
    } catch (err) {
      const retryable = isUnavailableError(err) || err instanceof StartupDeadlineError;
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
