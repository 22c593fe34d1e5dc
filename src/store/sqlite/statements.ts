import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../../db/client.ts';

export type Prepare = (sql: string) => Statement;

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
