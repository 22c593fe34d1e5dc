import { setImmediate as nextTurn } from 'node:timers/promises';
import type { SqliteDatabase } from '../../db/client.ts';
import type { Prepare } from './statements.ts';

/** Pages of the full-text index one merge step writes: a step holds the write lock for tens of milliseconds at most. */
const PAGES_PER_STEP = 500;

/** A bulk write at least this share of the database's completions is followed by a merge. */
const MERGE_SHARE = 0.1;

/**
 * Folds the full-text index into one segment after a bulk write of `written` completions (import,
 * mirror, copy), when they are at least a tenth of the database. FTS5 writes a segment per
 * transaction and keeps several per level; a search page that probes the index once per
 * completion (a common word: list-query.ts) searches every segment, so one segment serves such
 * pages 8 to 26 times faster at 1M (bench/README.md, "Search in Chinese, Japanese and Korean").
 * A merge rewrites the whole index (5 s at 1M), which is why small imports do not trigger it and
 * the service's own creates never do. Steps of PAGES_PER_STEP pages, each its own transaction, with
 * a turn of the event loop between them, so a service on the same file keeps writing meanwhile.
 * Returns whether it merged.
 */
export async function mergeSearchIndexAfter(db: SqliteDatabase, prepare: Prepare, written: number): Promise<boolean> {
  if (written <= 0) return false;
  const total = prepare('SELECT count(*) FROM completions').pluck().get() as number;
  if (written < total * MERGE_SHARE) return false;
  const totalChanges = prepare('SELECT total_changes()').pluck();
  // A negative size merges whatever segments there are, not only a level holding `automerge` of them.
  const step = prepare(`INSERT INTO completion_search (completion_search, rank) VALUES ('merge', -${PAGES_PER_STEP})`);
  for (;;) {
    const before = totalChanges.get() as number;
    step.run();
    // FTS5's documentation: a step that changed fewer than two rows had nothing left to merge.
    if ((totalChanges.get() as number) - before < 2) return true;
    await nextTurn();
  }
}
