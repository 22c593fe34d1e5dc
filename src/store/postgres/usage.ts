import type { SqlSession } from '../../db/sql-client.ts';
import type { ListFilters } from '../../validation.ts';
import type { UsageRow, UsageSummary } from '../contract.ts';
import { tokenCountsOfUsage, utcDayOf } from '../derived-fields.ts';
import { type createListQueries, searchUnavailable } from './list-query.ts';

/** At most this many completions are added up per summary, the newest first (as on SQLite's counted path). */
export const USAGE_COUNT_LIMIT = 20_000;

/**
 * Usage summaries on PostgreSQL: counted from the completions the list's own
 * ordered walk yields, newest first, at most USAGE_COUNT_LIMIT of them
 * (`truncated` beyond). SQLite also keeps a per-day rollup that answers
 * unfiltered and model-filtered summaries exactly at any size; PostgreSQL has
 * no rollup yet, so every summary here is the counted kind.
 */
export function createUsageQueries(db: SqlSession, lists: ReturnType<typeof createListQueries>) {
  return async function summarizeUsage(projectId: number | undefined, filters: ListFilters): Promise<UsageSummary> {
    if (filters.search !== undefined) throw searchUnavailable();
    const query = await lists.buildListQuery(
      projectId,
      { ...filters, after: undefined, limit: USAGE_COUNT_LIMIT, order: 'desc' },
      `c.created, c.model, c.body::jsonb -> 'usage' AS usage`,
    );
    if (!query) return { rows: [], truncated: false };
    const found = await db.query<{ created: number; model: string; usage: unknown }>(query.sql, query.args);
    const truncated = found.length > USAGE_COUNT_LIMIT;
    if (truncated) found.pop();

    const buckets = new Map<string, UsageRow>();
    for (const { created, model, usage } of found) {
      const day = utcDayOf(created);
      const key = `${day}\0${model}`;
      let row = buckets.get(key);
      if (!row) {
        row = { day, model, completions: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0 };
        buckets.set(key, row);
      }
      const tokens = tokenCountsOfUsage(usage);
      row.completions += 1;
      row.promptTokens += tokens.promptTokens;
      row.completionTokens += tokens.completionTokens;
      row.totalTokens += tokens.totalTokens;
    }
    const rows = [...buckets.values()].sort((a, b) => a.day - b.day || Buffer.compare(Buffer.from(a.model), Buffer.from(b.model)));
    return { rows, truncated };
  };
}
