import type { ListFilters } from '../../validation.ts';
import type { UsageRow, UsageSummary } from '../contract.ts';
import { isDayBoundary, utcDayOf } from '../derived-fields.ts';
import { mergeUsageParts, splitAtWholeDays } from '../usage-parts.ts';
import type { createListQueries } from './list-query.ts';
import type { Prepare } from './statements.ts';

/**
 * Most completions a filtered usage summary adds up; beyond them the summary says `truncated`.
 * Each costs a few microseconds (a row read, a point lookup per filter): 20,000 keep a filtered
 * summary near a page load at any database size (bench/README.md has the figures).
 */
export const USAGE_WALK_LIMIT = 20_000;

/** The UTC day of `created` in SQL, rounding down before 1970 as `utcDayOf` does. */
const DAY_OF_CREATED = '(created - ((created % 86400) + 86400) % 86400) / 86400';

const USAGE_COLUMNS = 'c.created AS created, c.model AS model, c.prompt_tokens AS p, c.completion_tokens AS ct, c.total_tokens AS t';

/**
 * Usage per UTC day and responded model. Unfiltered and model-filtered figures read the
 * `usage_daily` rollup (cost: days x models), and so do the whole days of a created range; the
 * days a range cuts, metadata and search add up the completions themselves through the list's own
 * query, at most `walkLimit` of them per query: the newest by `created`, or with a search the most
 * recently stored matches.
 */
export function createUsageQueries(prepare: Prepare, lists: ReturnType<typeof createListQueries>, walkLimit = USAGE_WALK_LIMIT) {
  function fromRollup(projectId: number, filters: ListFilters): UsageSummary {
    let sql = `SELECT day, model, sum(completions) AS completions, sum(prompt_tokens) AS promptTokens,
      sum(completion_tokens) AS completionTokens, sum(total_tokens) AS totalTokens
      FROM usage_daily WHERE project_id = ?`;
    const args: unknown[] = [projectId];
    if (filters.model !== undefined) {
      // The list's model filter matches the requested or the responded model; the rollup keeps both.
      sql += ' AND (model = ? OR requested_model = ?)';
      args.push(filters.model, filters.model);
    }
    if (filters.createdAfter !== undefined) {
      sql += ' AND day >= ?';
      args.push(utcDayOf(filters.createdAfter));
    }
    if (filters.createdBefore !== undefined) {
      sql += ' AND day < ?';
      args.push(utcDayOf(filters.createdBefore));
    }
    sql += ' GROUP BY day, model ORDER BY day, model';
    return { rows: prepare(sql).all(...args) as UsageRow[], truncated: false };
  }

  function fromCompletions(projectId: number, filters: ListFilters): UsageSummary {
    // With a search, the matches come in the full-text index's order (newest stored first): walking the
    // list's order would cost a full-text probe per row, thousands of times over.
    const query = lists.buildListQuery(
      projectId,
      { ...filters, after: undefined, order: 'desc', limit: walkLimit },
      { columns: USAGE_COLUMNS, searchInStoredOrder: true },
    );
    if (!query) return { rows: [], truncated: false };
    // The walk yields up to walkLimit + 1 rows; the extra one only says there is more.
    const rows = prepare(
      `SELECT ${DAY_OF_CREATED} AS day, model, sum(n <= ${walkLimit}) AS completions,
         sum(CASE WHEN n <= ${walkLimit} THEN p ELSE 0 END) AS promptTokens,
         sum(CASE WHEN n <= ${walkLimit} THEN ct ELSE 0 END) AS completionTokens,
         sum(CASE WHEN n <= ${walkLimit} THEN t ELSE 0 END) AS totalTokens,
         max(n) AS lastRow
       FROM (SELECT *, row_number() OVER () AS n FROM (${query.sql}))
       GROUP BY day, model ORDER BY day, model`,
    ).all(...query.args) as (UsageRow & { lastRow: number })[];
    return {
      rows: rows.filter((row) => row.completions > 0).map(({ lastRow: _, ...row }) => row),
      truncated: rows.some((row) => row.lastRow > walkLimit),
    };
  }

  /**
   * A range that cuts days: its whole days from the rollup, the cut days at its edges (less than a
   * day each) from the completions. The parts hold different days, so they only need ordering.
   */
  function fromRollupAndEdges(projectId: number, filters: ListFilters): UsageSummary {
    const split = splitAtWholeDays(filters);
    if (!split) return fromCompletions(projectId, filters);
    return mergeUsageParts([fromRollup(projectId, split.whole), ...split.edges.map((edge) => fromCompletions(projectId, edge))]);
  }

  function summarize(projectId: number | undefined, filters: ListFilters): UsageSummary {
    if (projectId === undefined) return { rows: [], truncated: false };
    if (filters.metadata.length > 0 || filters.search !== undefined) return fromCompletions(projectId, filters);
    if (isDayBoundary(filters.createdAfter) && isDayBoundary(filters.createdBefore)) return fromRollup(projectId, filters);
    return fromRollupAndEdges(projectId, filters);
  }

  return { summarize };
}
