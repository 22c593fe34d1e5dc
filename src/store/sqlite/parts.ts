import type Database from 'better-sqlite3';
import type { BackgroundCheckpoints } from '../../db/background-checkpoints.ts';
import type { SqliteDatabase } from '../../db/client.ts';
import type { createListQueries } from './list-query.ts';
import type { OpenedFile } from './opened-file.ts';
import type { ProjectIds } from './projects.ts';
import type { Prepare } from './statements.ts';
import type { WhenLockFree } from './write-lock.ts';
import type { createRowWrites } from './writes.ts';

/** A better-sqlite3 transaction as an IMMEDIATE one, run once the write lock is free (see createSqliteStore). */
export type Immediate = <A extends unknown[], R>(transaction: Database.Transaction<(...args: A) => R>) => (...args: A) => Promise<R>;

/** What the SQLite store's modules share, built once a store. */
export interface SqliteParts {
  db: SqliteDatabase;
  prepare: Prepare;
  file: OpenedFile;
  whenLockFree: WhenLockFree;
  immediate: Immediate;
  projects: ProjectIds;
  rows: ReturnType<typeof createRowWrites>;
  lists: ReturnType<typeof createListQueries>;
  /** The worker thread's checkpoints, when the store runs them (the service does). */
  checkpoints: BackgroundCheckpoints | undefined;
}

/** Whether the project has, or had, a completion of this id. */
export function isIdTaken({ projects, lists }: Pick<SqliteParts, 'projects' | 'lists'>, project: string, id: string): boolean {
  const projectId = projects.find(project);
  return projectId !== undefined && lists.findPosition(projectId, id) !== undefined;
}
