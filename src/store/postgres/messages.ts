import type { SqlSession } from '../../db/sql-client.ts';
import type { PageParams } from '../../validation.ts';
import type { MessageRow, Page } from '../contract.ts';
import { badMessageCursor, messageIndexOf } from '../sqlite/messages.ts';
import { limitLiteral } from './text.ts';

/**
 * One keyset page of a stored completion's input messages, in `idx` order; undefined when the project
 * has no such completion. One statement, so one snapshot: the completion, the cursor's message and the
 * page are read together. Read apart, another instance's delete falling between them turned a 404 into
 * a 400 on a valid cursor, or into an empty page of a completion that has messages.
 */
export async function listMessagePage(db: SqlSession, projectId: number, completionId: string, params: PageParams): Promise<Page<MessageRow> | undefined> {
  const afterIdx = params.after === undefined ? undefined : messageIndexOf(completionId, params.after);
  const direction = params.order === 'asc' ? 'ASC' : 'DESC';
  const comparison = params.order === 'asc' ? '>' : '<';
  // A cursor naming no message of this completion matches no idx (-1): the completion is still looked up, for its 404.
  const cursor = params.after === undefined ? undefined : (afterIdx ?? -1);
  const rows = await db.query<MessageRow & { cursorFound: boolean }>(
    `SELECT m.idx, m.body, ${cursor === undefined ? 'true' : 'EXISTS (SELECT 1 FROM input_messages a WHERE a.completion_seq = c.seq AND a.idx = $3)'} AS "cursorFound"
     FROM completions c
     LEFT JOIN LATERAL (SELECT idx, body FROM input_messages WHERE completion_seq = c.seq${cursor === undefined ? '' : ` AND idx ${comparison} $3`}
       ORDER BY idx ${direction} LIMIT ${limitLiteral(params.limit + 1)}) m ON true
     WHERE c.project_id = $1 AND c.id = $2
     ORDER BY m.idx ${direction}`,
    cursor === undefined ? [projectId, completionId] : [projectId, completionId, cursor],
  );
  if (rows.length === 0) return undefined;
  if (!rows[0]!.cursorFound) throw badMessageCursor(completionId, params.after!);
  const items = rows.filter((row) => row.idx !== null).map(({ idx, body }) => ({ idx, body }));
  const hasMore = items.length > params.limit;
  if (hasMore) items.pop();
  return { items, hasMore };
}
