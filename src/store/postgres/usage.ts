import type { SqlDatabase } from '../../db/sql-client.ts';
import type { ListFilters } from '../../validation.ts';
import type { UsageRow, UsageSummary } from '../contract.ts';
import { isDayBoundary, utcDayOf } from '../derived-fields.ts';
import { byDayThenModel, mergeUsageParts, splitAtWholeDays } from '../usage-parts.ts';
import { type createListQueries, runListQuery } from './list-query.ts';
import { filterText, fromFilterText } from './text.ts';
import { DAY_OF_CREATED } from './writes.ts';

/** As on SQLite (src/store/sqlite/usage.ts): most completions a filtered usage summary adds up; beyond them it says `truncated`. */
export const USAGE_WALK_LIMIT = 20_000;

const USAGE_COLUMNS = 'c.created, c.model, c.prompt_tokens AS p, c.completion_tokens AS ct, c.total_tokens AS t';

/** The figures' columns as the contract names them; sums of int8 are numeric in SQL, read back as numbers. */
const FIGURES = `sum(completions)::int8 AS completions, sum(prompt_tokens)::int8 AS "promptTokens",
  sum(completion_tokens)::int8 AS "completionTokens", sum(total_tokens)::int8 AS "totalTokens"`;

/**
 * Usage per UTC day and responded model, answered as SQLite answers it: unfiltered and
 * model-filtered figures, and the whole days of a created range, from the `usage_daily` rollup
 * (cost: days x models); the days a range cuts, metadata and search add up the completions
 * themselves through the list's own query, at most `walkLimit` of them per query: the newest by
 * `created`, or with a search the most recently stored matches.
 */
export function createUsageQueries(db: SqlDatabase, lists: ReturnType<typeof createListQueries>, walkLimit = USAGE_WALK_LIMIT) {
  /**
   * Rows as the contract has them: models decoded, ordered by day then model bytewise. The columns
   * compare as "C", but an encoded model (one with a NUL: `\u0001` + JSON) sorts by its encoding,
   * so rows holding one are put back in the decoded models' order.
   */
  const decoded = (rows: UsageRow[]) => {
    const encoded = rows.some((row) => row.model.startsWith('\u0001'));
    const models = rows.map((row) => ({ ...row, model: fromFilterText(row.model) }));
    return encoded ? models.sort(byDayThenModel) : models;
  };

  async function fromRollup(projectId: number, filters: ListFilters): Promise<UsageSummary> {
    const args: unknown[] = [projectId];
    let sql = `SELECT day, model, ${FIGURES} FROM usage_daily WHERE project_id = $1`;
    if (filters.model !== undefined) {
      // The list's model filter matches the requested or the responded model; the rollup keeps both.
      args.push(filterText(filters.model));
      sql += ` AND (model = $${args.length} OR requested_model = $${args.length})`;
    }
    // int8: a bound may be any integer up to 2^53 seconds, whose day an integer (the column's type) cannot hold.
    if (filters.createdAfter !== undefined) {
      args.push(utcDayOf(filters.createdAfter));
      sql += ` AND day >= $${args.length}::int8`;
    }
    if (filters.createdBefore !== undefined) {
      args.push(utcDayOf(filters.createdBefore));
      sql += ` AND day < $${args.length}::int8`;
    }
    sql += ' GROUP BY day, model ORDER BY day, model';
    return { rows: decoded(await db.query<UsageRow>(sql, args)), truncated: false };
  }

  async function fromCompletions(projectId: number, filters: ListFilters): Promise<UsageSummary> {
    // With a search, the matches newest stored first, as SQLite reads them from its full-text index.
    const query = await lists.buildListQuery(
      projectId,
      { ...filters, after: undefined, order: 'desc', limit: walkLimit },
      { columns: USAGE_COLUMNS, searchInStoredOrder: true },
    );
    if (!query) return { rows: [], truncated: false };
    // The walk yields up to walkLimit + 1 rows; the extra one only says there is more.
    const kept = `n <= ${walkLimit}`;
    const rows = await runListQuery<UsageRow & { lastRow: number }>(
      db,
      query,
      `SELECT ${DAY_OF_CREATED} AS day, model COLLATE "C" AS model, count(*) FILTER (WHERE ${kept})::int8 AS completions,
         coalesce(sum(p) FILTER (WHERE ${kept}), 0)::int8 AS "promptTokens",
         coalesce(sum(ct) FILTER (WHERE ${kept}), 0)::int8 AS "completionTokens",
         coalesce(sum(t) FILTER (WHERE ${kept}), 0)::int8 AS "totalTokens", max(n) AS "lastRow"
       FROM (SELECT *, row_number() OVER () AS n FROM (${query.sql}) AS walked) AS numbered
       GROUP BY 1, 2 ORDER BY 1, 2`,
      query.args,
    );
    return {
      rows: decoded(rows.filter((row) => row.completions > 0).map(({ lastRow: _, ...row }) => row)),
      truncated: rows.some((row) => row.lastRow > walkLimit),
    };
  }

  /** A range that cuts days: its whole days from the rollup, the cut days at its edges from the completions. */
  async function fromRollupAndEdges(projectId: number, filters: ListFilters): Promise<UsageSummary> {
    const split = splitAtWholeDays(filters);
    if (!split) return fromCompletions(projectId, filters);
    return mergeUsageParts(
      await Promise.all([fromRollup(projectId, split.whole), ...split.edges.map((edge) => fromCompletions(projectId, edge))]),
    );
  }

  return async function summarizeUsage(projectId: number | undefined, filters: ListFilters): Promise<UsageSummary> {
    if (projectId === undefined) return { rows: [], truncated: false };
    if (filters.metadata.length > 0 || filters.search !== undefined) return fromCompletions(projectId, filters);
    if (isDayBoundary(filters.createdAfter) && isDayBoundary(filters.createdBefore)) return fromRollup(projectId, filters);
    return fromRollupAndEdges(projectId, filters);
  };
}
