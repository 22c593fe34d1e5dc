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

export interface SqlDatabase extends SqlSession {
  /** Runs `work` inside BEGIN ... COMMIT on one connection; rolls back when it throws. */
  transaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
