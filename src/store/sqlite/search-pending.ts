import type Database from 'better-sqlite3';
import type { SqliteDatabase } from '../../db/client.ts';
import { searchTextOf } from '../derived-fields.ts';
import { splitChoices } from '../joined-choices.ts';
import { messageBodies } from './dump.ts';
import type { Prepare } from './statements.ts';
import { choicesSql } from './stored-json.ts';
import type { createRowWrites, SearchRow } from './writes.ts';

/** How long after a stored create its search index rows are written, with all the others stored meanwhile. */
export const SEARCH_INDEX_DELAY_MS = 50;

/** Pending completions indexed per transaction. */
const BATCH_SIZE = 2000;

/** After a failed run (the lock held past the busy timeout, a full disk), the next one waits this long. */
const RETRY_DELAY_MS = 1000;

/**
 * The search index rows of the service's own creates, written a moment after the creates
 * committed. FTS5 writes a segment per transaction, and writing one per stored create was half
 * of a lone create's CPU time (bench/README.md). A create instead commits its completion with a
 * line in `search_pending`; SEARCH_INDEX_DELAY_MS later, one transaction indexes everything
 * pending, as one segment. Nothing is ever missed:
 * - a search (a list, an export or usage with `search`) first indexes whatever is pending, from
 *   any process on the file, so it finds every acknowledged completion;
 * - the lines commit with their completions, so a crash loses none: the store indexes them when it
 *   opens;
 * - a completion deleted while pending takes its line with it (writes.ts, removeCompletion).
 * The texts of this process's creates are kept here until indexed; another process's pending
 * completions are read back from their rows.
 */
export function createPendingSearch(
  db: SqliteDatabase,
  prepare: Prepare,
  rows: ReturnType<typeof createRowWrites>,
  /** The store's own wrapper: a transaction begun IMMEDIATE once the write lock is free, on the file it opened. */
  immediate: (transaction: Database.Transaction<() => number>) => () => Promise<number>,
) {
  const texts = new Map<number, SearchRow>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  /** Whatever is pending, this process's or another's. */
  function anyPending(): boolean {
    return prepare('SELECT 1 FROM search_pending LIMIT 1').get() !== undefined;
  }

  /** The search rows of pending completions whose texts this process does not hold. */
  function readBack(seqs: number[]): SearchRow[] {
    if (seqs.length === 0) return [];
    const found = prepare(
      `SELECT seq, project_id AS projectId, ${choicesSql('choices')} AS choices FROM completions WHERE seq IN (SELECT value FROM json_each(?))`,
    ).all(JSON.stringify(seqs)) as { seq: number; projectId: number; choices: string }[];
    const messages = messageBodies(prepare, seqs);
    return found.map(({ seq, projectId, choices }) => [
      seq,
      projectId,
      searchTextOf({ messages: messages.get(seq) ?? [], choices: splitChoices(choices) }),
    ]);
  }

  /** One batch of pending completions indexed, in its own write transaction; how many (0: none was pending). */
  const indexBatch = immediate(db.transaction((): number => {
    const seqs = prepare(`SELECT seq FROM search_pending ORDER BY seq LIMIT ${BATCH_SIZE}`).pluck().all() as number[];
    if (seqs.length === 0) {
      // Another process indexed them: the texts held for them are no longer needed.
      texts.clear();
      return 0;
    }
    const held = seqs.map((seq) => texts.get(seq)).filter((row) => row !== undefined);
    const searchRows = held.length === seqs.length ? held : [...held, ...readBack(seqs.filter((seq) => !texts.has(seq)))];
    rows.insertSearchRows(searchRows.sort((a, b) => a[0] - b[0]));
    prepare('DELETE FROM search_pending WHERE seq BETWEEN ? AND ?').run(seqs[0], seqs.at(-1));
    for (const seq of seqs) texts.delete(seq);
    return seqs.length;
  }));

  /** Indexes everything pending, a batch to a transaction. */
  async function indexAll(): Promise<void> {
    let indexed: number;
    do indexed = await indexBatch();
    while (indexed === BATCH_SIZE);
  }

  /** Indexes what is pending after `delayMs`, unless a run is already due. */
  function indexSoon(delayMs = SEARCH_INDEX_DELAY_MS): void {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      // A connection closed without the store's close() (a test, a CLI run ending) has nothing left to index.
      if (db.open) indexAll().catch(() => indexSoon(RETRY_DELAY_MS));
    }, delayMs);
    // Pending lines are durable: a timer must not keep a process alive that has nothing else to do.
    timer.unref();
  }

  return {
    /** After a create's transaction committed: its search rows, to be indexed shortly. */
    committed(searchRows: SearchRow[]): void {
      if (searchRows.length === 0) return;
      for (const row of searchRows) texts.set(row[0], row);
      indexSoon();
    },
    indexSoon,
    /**
     * Before a search: undefined when nothing is pending (the usual case, answered without waiting),
     * otherwise a promise that settles once everything pending is indexed.
     */
    beforeSearch(): Promise<void> | undefined {
      return anyPending() ? indexAll() : undefined;
    },
    /** At close: no more runs, and what is pending indexed now if the database lets it (the next open does it otherwise). */
    async close(): Promise<void> {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      await indexAll().catch(() => {});
    },
  };
}

export type PendingSearch = ReturnType<typeof createPendingSearch>;
