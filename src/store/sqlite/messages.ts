import { ApiError } from '../../errors.ts';
import type { PageParams } from '../../validation.ts';
import type { MessageRow, Page } from '../contract.ts';
import { LIMIT_PARAMETER, type Prepare } from './statements.ts';
import { messageSql } from './stored-json.ts';

/** The index a message id `<completion id>-<idx>` names, or undefined when it names none of this completion's. */
export function messageIndexOf(completionId: string, messageId: string): number | undefined {
  const prefix = `${completionId}-`;
  const suffix = messageId.startsWith(prefix) ? messageId.slice(prefix.length) : '';
  return /^(0|[1-9]\d{0,8})$/.test(suffix) ? Number(suffix) : undefined;
}

export function badMessageCursor(completionId: string, after: string): ApiError {
  return ApiError.badRequest(`Invalid 'after': no message found with id '${after}' in chat completion '${completionId}'.`, 'after');
}

/** One keyset page of a stored completion's input messages, in `idx` order. */
export function listMessagePage(prepare: Prepare, seq: number, completionId: string, params: PageParams): Page<MessageRow> {
  let afterIdx: number | undefined;
  if (params.after !== undefined) {
    afterIdx = messageIndexOf(completionId, params.after);
    const exists = afterIdx !== undefined && prepare('SELECT 1 FROM input_messages WHERE completion_seq = ? AND idx = ?').get(seq, afterIdx);
    if (!exists) throw badMessageCursor(completionId, params.after);
  }
  const direction = params.order === 'asc' ? 'ASC' : 'DESC';
  const comparison = params.order === 'asc' ? '>' : '<';
  const rows = prepare(
    `SELECT idx, ${messageSql('body')} AS body FROM input_messages WHERE completion_seq = ?${afterIdx === undefined ? '' : ` AND idx ${comparison} ?`}
     ORDER BY idx ${direction} ${LIMIT_PARAMETER}`,
  ).all(...(afterIdx === undefined ? [seq] : [seq, afterIdx]), params.limit + 1) as MessageRow[];
  const hasMore = rows.length > params.limit;
  if (hasMore) rows.pop();
  return { items: rows, hasMore };
}
