import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../../db/client.ts';

export type Prepare = (sql: string) => Statement;

/**
 * A LIMIT taken from a parameter. Never a bare `LIMIT ?`: SQLite's planner reads a bare parameter's
 * value to estimate the rows (`sqlite3ExprIsInteger`), which marks the statement as depending on it,
 * so every new binding of the limit, i.e. every execution, expires the statement and parses and plans
 * it again on its next step: measured with callgrind, 20% of a page's instructions (105k of 541k for
 * a 20-item page). An expression is not read at planning time; the ordered walk is chosen without it.
 */
export const LIMIT_PARAMETER = 'LIMIT ? + 0';

/** Prepares each distinct SQL text once; list queries come in a few dozen shapes. */
export function createStatementCache(db: SqliteDatabase): Prepare {
  const statements = new Map<string, Statement>();
  return (sql) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
}
