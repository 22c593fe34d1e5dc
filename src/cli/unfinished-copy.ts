import { isPostgresUrl, maskDatabaseUrl } from '../db/database-url.ts';
import type { Store } from '../store/index.ts';
import { CliError } from './errors.ts';

/**
 * A setting `copy` keeps in its target from before the first write to after
 * the last: a target that still holds it was left by a copy that did not
 * finish (killed, a crash, a full disk), and holds only part of its source.
 * Without it, such a target looked like any database with data in it, and
 * the copy run again refused it with no word of why or what to do.
 */
const UNFINISHED_COPY = 'copy_unfinished';

interface UnfinishedCopy {
  /** The source, as typed, its password masked. */
  from: string;
  /** ISO time, to the second. */
  startedAt: string;
}

export async function markCopyUnfinished(target: Store, from: string): Promise<void> {
  const mark: UnfinishedCopy = { from: maskDatabaseUrl(from), startedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
  await target.setSetting(UNFINISHED_COPY, JSON.stringify(mark));
}

export async function markCopyFinished(target: Store): Promise<void> {
  await target.deleteSetting(UNFINISHED_COPY);
}

/** Refuses a target that is not empty, saying when an unfinished copy is what fills it and how to start over. */
export async function checkCopyTarget(target: Store, to: string): Promise<void> {
  if (await target.isEmpty()) return;
  const saved = await target.getSetting(UNFINISHED_COPY);
  if (saved === undefined) throw new CliError(`the target ${maskDatabaseUrl(to)} already holds data: copy only writes into an empty database`);
  const mark = JSON.parse(saved) as UnfinishedCopy;
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
  if ((await source.getSetting(UNFINISHED_COPY)) === undefined) return;
  throw new CliError(
    `the source ${maskDatabaseUrl(from)} holds an unfinished copy (a copy into it was stopped before the end): copy from the database it was copied from`,
  );
}
