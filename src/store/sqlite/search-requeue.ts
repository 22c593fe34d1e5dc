import type { SqliteDatabase } from '../../db/client.ts';
import { holdsCjk } from '../cjk-segments.ts';
import { searchTextOf } from '../derived-fields.ts';
import { splitChoices } from '../joined-choices.ts';
import { messageBodies } from './dump.ts';
import type { Prepare } from './statements.ts';
import { choicesSql } from './stored-json.ts';

/** Queued completions looked at per transaction: each batch commits on its own, so a restart resumes where it stopped. */
const BATCH_SIZE = 2000;

/**
 * Goes through the completions a migration queued in `search_requeue` (0009: every one stored
 * before Chinese, Japanese and Korean runs were split into characters and pairs for search,
 * src/store/cjk-segments.ts) and indexes again those whose text holds such characters. Run when
 * the store opens, before it serves; each batch takes the write lock, so processes opening the
 * file together share the work, and whichever finds the queue empty goes on. Returns how many
 * completions this call indexed again.
 */
export function reindexQueuedSearch(db: SqliteDatabase, prepare: Prepare): number {
  const batch = db.transaction((): number | undefined => {
    const queued = prepare(`SELECT seq FROM search_requeue ORDER BY seq LIMIT ${BATCH_SIZE}`).pluck().all() as number[];
    if (queued.length === 0) return undefined;
    const [first, last] = [queued[0]!, queued.at(-1)!];
    const rows = prepare(`SELECT seq, project_id AS projectId, ${choicesSql('choices')} AS choices FROM completions WHERE seq BETWEEN ? AND ?`).all(
      first,
      last,
    ) as { seq: number; projectId: number; choices: string }[];
    const messages = messageBodies(prepare, rows.map((row) => row.seq));
    // Most hold no CJK character (a stored JSON text writes them as themselves): only those that do are indexed again.
    const chosen = rows.filter((row) => holdsCjk(row.choices) || (messages.get(row.seq) ?? []).some(holdsCjk));
    for (const row of chosen) {
      const text = searchTextOf({ messages: messages.get(row.seq) ?? [], choices: splitChoices(row.choices) });
      prepare('DELETE FROM completion_search WHERE rowid = ?').run(row.seq);
      prepare('INSERT INTO completion_search (rowid, project, text) VALUES (?, ?, ?)').run(row.seq, row.projectId, text);
    }
    prepare('DELETE FROM search_requeue WHERE seq BETWEEN ? AND ?').run(first, last);
    return chosen.length;
  });
  let indexed = 0;
  for (let done = batch.immediate(); done !== undefined; done = batch.immediate()) indexed += done;
  return indexed;
}
