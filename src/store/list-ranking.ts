import { ApiError } from '../errors.ts';
import type { SortOrder } from '../validation.ts';
import type { WalkedIndex } from './contract.ts';

/** Where a completion sits in list order. */
export interface Position {
  created: number;
  id: string;
}

/** A list page's SQL (in the backend's dialect), its arguments, and the index it walks. */
export interface ListQuery {
  sql: string;
  args: unknown[];
  walked: WalkedIndex;
}

/** The 400 for an `after` that names no completion ever stored in the project. */
export function badCursor(after: string): ApiError {
  return ApiError.badRequest(`Invalid 'after': no chat completion found with id '${after}'.`, 'after');
}

/**
 * The filters, rarest near the cursor first: the first is walked, the others
 * are checked per row. `reaches[i]` is where filter i's `limit + 1`-th entry
 * after the cursor lies (undefined when fewer are left): the filter whose entry
 * lies farthest is the rarest where the page is. Shared by both backends, so
 * they pick the same index for the same data. Empty `reaches` keeps the order.
 */
export function rankByReach<T>(filters: T[], reaches: (Position | undefined)[], order: SortOrder): T[] {
  if (filters.length < 2) return filters;
  const reachOf = new Map(filters.map((f, i) => [f, reaches[i]]));
  const sign = order === 'asc' ? -1 : 1;
  // Array.prototype.sort is stable: filters that tie keep the order the query named them in.
  return [...filters].sort((a, b) => {
    const ra = reachOf.get(a);
    const rb = reachOf.get(b);
    if (!ra || !rb) return ra ? 1 : rb ? -1 : 0;
    if (ra.created !== rb.created) return sign * (ra.created - rb.created);
    return ra.id === rb.id ? 0 : sign * (ra.id < rb.id ? -1 : 1);
  });
}
