import { isPostgresUrl, maskDatabaseUrl } from '../db/database-url.ts';
import { unfinishedCopyIn } from '../copy-mark.ts';
import type { Store } from '../store/index.ts';
import { CliError } from './errors.ts';

/** Refuses a target that is not empty, saying when an unfinished copy is what fills it and how to start over. */
export async function checkCopyTarget(target: Store, to: string): Promise<void> {
  if (await target.isEmpty()) return;
  const mark = await unfinishedCopyIn(target);
  if (mark === undefined) throw new CliError(`the target ${maskDatabaseUrl(to)} already holds data: copy only writes into an empty database`);
  // Not resumed: the source has moved on since (completions deleted, metadata changed), and what was copied from its old snapshot cannot be told apart.
  const startOver = isPostgresUrl(to)
    ? 'empty that database (drop and create it again)'
    : `delete ${to} (and ${to}-wal and ${to}-shm beside it)`;
  throw new CliError(
    `the target ${maskDatabaseUrl(to)} holds an unfinished copy: a copy into it from ${mark.from} started at ${mark.startedAt} was stopped before the end, ` +
      `so it holds only part of that database. To start over, ${startOver}, then run the copy again`,
  );
}

/** Refuses to copy from an unfinished copy: the result would look whole. */
export async function checkCopySource(source: Store, from: string): Promise<void> {
  if ((await unfinishedCopyIn(source)) === undefined) return;
  throw new CliError(
    `the source ${maskDatabaseUrl(from)} holds an unfinished copy (a copy into it was stopped before the end): copy from the database it was copied from`,
  );
}
