import Database from 'better-sqlite3';

/**
 * Completions a SQLite database holds so far, read beside the tool writing it as any reader of a WAL database
 * can; 0 while the file or its tables are not there yet.
 */
export function completionsSoFar(path: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM completions').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}
