import type { SqlSession } from '../../db/sql-client.ts';
import type { PageParams } from '../../validation.ts';
import type { MessageRow, Page } from '../contract.ts';
import { badMessageCursor, messageIndexOf } from '../sqlite/messages.ts';
import { limitLiteral } from './text.ts';

/** One keyset page of a stored completion's input messages, in `idx` order. */
export async function listMessagePage(db: SqlSession, seq: number, completionId: string, params: PageParams): Promise<Page<MessageRow>> {
  let afterIdx: number | undefined;
  if (params.after !== undefined) {
    afterIdx = messageIndexOf(completionId, params.after);
    const exists =
      afterIdx !== undefined &&
      (await db.query('SELECT 1 FROM input_messages WHERE completion_seq = $1 AND idx = $2', [seq, afterIdx])).length > 0;
    if (!exists) throw badMessageCursor(completionId, params.after);
  }
  const direction = params.order === 'asc' ? 'ASC' : 'DESC';
  const comparison = params.order === 'asc' ? '>' : '<';
  const rows = await db.query<MessageRow>(
    `SELECT idx, body FROM input_messages WHERE completion_seq = $1${afterIdx === undefined ? '' : ` AND idx ${comparison} $2`}
     ORDER BY idx ${direction} LIMIT ${limitLiteral(params.limit + 1)}`,
    afterIdx === undefined ? [seq] : [seq, afterIdx],
  );
  const hasMore = rows.length > params.limit;
  if (hasMore) rows.pop();
  return { items: rows, hasMore };
}
