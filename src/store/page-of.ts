import type { Page } from './contract.ts';

/** A page from its rows, read one past its limit: the extra row, when there is one, only tells there is more. */
export function pageOf<Row>(rows: Row[], limit: number): Page<Row> {
  const hasMore = rows.length > limit;
  if (hasMore) rows.pop();
  return { items: rows, hasMore };
}
