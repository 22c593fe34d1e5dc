import type { Logger } from 'pino';
import type { SqlDatabase } from '../../db/sql-client.ts';
import { splitChoices } from '../joined-choices.ts';
import { messageBodies } from './dump.ts';
import { searchColumnsOf } from './search-tokens.ts';

/** Completions indexed per transaction: each batch commits on its own, so a restart resumes where it stopped. */
const BATCH_SIZE = 500;

/**
 * Fills the search columns of completions stored before they existed (migration 0001 adds them
 * empty: SQL cannot split text as SQLite's FTS5 does). Run at start-up, before serving; instances
 * starting together share the work (SKIP LOCKED) and each returns once none is left, the batches
 * other instances hold included. Returns how many this instance indexed.
 */
export async function backfillSearch(db: SqlDatabase, logger?: Logger): Promise<number> {
  let indexed = 0;
  for (;;) {
    const done = await db.transaction(async (tx) => {
      const rows = await tx.query<{ seq: number; projectId: number; choices: string }>(
        `SELECT seq, project_id AS "projectId", choices FROM completions WHERE search_keys IS NULL LIMIT ${BATCH_SIZE} FOR UPDATE SKIP LOCKED`,
      );
      if (rows.length === 0) return 0;
      const seqs = rows.map((row) => row.seq);
      const messages = await messageBodies(tx, seqs);
      const columns = rows.map((row) =>
        searchColumnsOf(row.projectId, { messages: messages.get(row.seq) ?? [], choices: splitChoices(row.choices) }),
      );
      await tx.query(
        `UPDATE completions c SET search_keys = string_to_array(u.keys, ' '), search_text = u.text
         FROM unnest($1::int8[], $2::text[], $3::text[]) AS u(seq, keys, text) WHERE c.seq = u.seq`,
        [seqs, columns.map((c) => c.keys), columns.map((c) => c.text)],
      );
      return rows.length;
    });
    if (done === 0) {
      // None free, but another instance may hold the last batches: serving before they commit would answer searches without
      // those completions. This waits for their locks (no SKIP LOCKED); a row still empty after (its instance went away
      // before committing) is indexed here.
      const left = await db.query('SELECT 1 FROM completions WHERE search_keys IS NULL LIMIT 1 FOR UPDATE');
      if (left.length === 0) break;
      continue;
    }
    indexed += done;
    if (indexed % (BATCH_SIZE * 20) === 0) logger?.info({ indexed }, 'indexing stored completions for search');
  }
  if (indexed > 0) logger?.info({ indexed }, 'indexed stored completions for search');
  return indexed;
}
