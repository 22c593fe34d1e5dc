/**
 * The little the PostgreSQL store needs from a driver: run one statement, run
 * several in a transaction, close. node-postgres (the server) and PGlite (the
 * embedded build the tests use where no server runs) both sit behind it, so
 * one store implementation runs on either.
 */
export interface SqlSession {
  /** Runs one statement with `$1`-style parameters and returns its rows. */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

export interface ReservedSession extends SqlSession {
  release(): Promise<void>;
}

/** A pool's connections now: the most it opens, those open, those of them idle, and the queries waiting for one. */
export interface ConnectionUse {
  size: number;
  open: number;
  idle: number;
  waiting: number;
}

export interface SqlDatabase extends SqlSession {
  /** Runs `work` inside BEGIN ... COMMIT on one connection; rolls back when it throws. */
  transaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T>;
  /**
   * A read-only transaction on a connection of its own until `release`: every
   * query sees the database as it was at the first one, however long the
   * caller takes between them (a dump that a generator yields from).
   */
  readSnapshot(): Promise<ReservedSession>;
  /** The same database on a connection of its own, outside the pool the requests share: the health check's. */
  apart?: SqlDatabase;
  /** Its pool's connections, for /healthz and /metrics; none for a single connection. */
  connectionUse?(): ConnectionUse;
  close(): Promise<void>;
}
