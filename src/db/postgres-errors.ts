import pg from 'pg';
import { ApiError } from '../errors.ts';
import { hideDatabasePassword } from './database-url.ts';

/**
 * What a PostgreSQL failure means to the service: the database away (a 503, retried at start), the credentials or
 * the database refused, a conflict worth one more try, or an error of the statement itself; and every message
 * that leaves with the password hidden.
 */

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
export function connectionUnusable(err: unknown): boolean {
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
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '40001' || code === '40P01';
}

export function isReadOnly(err: unknown): boolean {
  return (err as { code?: unknown }).code === '25006';
}

/**
 * What an error that is not retried at start says the server did. A refusal names the credentials or the database;
 * a right missing may be the right to connect or to create the tables; another error the server answered is the
 * migration failing there (a search_path naming another schema); the driver's own (TLS, the password's form) is the
 * connection failing before the server had a say. Each sends the operator to a different place.
 */
export function startRefusal(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === '42501') return 'refused a right the service needs (to connect, or to create its tables: docs/operations.md)';
  if (isRefusedError(err)) return 'refused the connection';
  if (err instanceof pg.DatabaseError) return 'could not be prepared at start';
  return 'could not be connected to';
}

export function maskError(err: Error, url: string): Error {
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
export function translate(err: unknown, url: string, pool: pg.Pool): unknown {
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
