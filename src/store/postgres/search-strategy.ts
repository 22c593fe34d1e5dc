import type { SqlSession } from '../../db/sql-client.ts';
import type { ListParams } from '../../validation.ts';
import { type ListFilter, matches, placeholders } from './list-sql.ts';
import type { SearchMatch } from './search-tokens.ts';

/**
 * How a PostgreSQL search finds its matches: by walking the list's index and probing each row, or by reading every
 * match from the GIN index and sorting them. The choice is taken from the planner's estimates (one EXPLAIN), since a
 * GIN index cannot count a common word's matches cheaply.
 */

/** As on SQLite (src/store/sqlite/list-query.ts): below this many matches in the project, a search sorts its matches; from it on, it walks. */
export const SEARCH_SORT_THRESHOLD = 2000;

/** As on SQLite: most entries a search walks with a probe each before sorting the matches instead. */
export const SEARCH_WALK_LIMIT = 2000;

/**
 * What reading one of a search's many matches costs, in completions walked: the bitmap heap scan
 * rechecks each row's keys and the matches are sorted, and from a quarter of the table on the planner
 * scans it whole (at 300,000 rows, a word in 1 of 4: 2.2 s for its 74,775 matches through the index,
 * 0.48 s walking 40,000 rows for the newest 20,000).
 */
const INDEX_READ_COST = 4;

/**
 * Whether walking a project's completions in stored order for the `wanted` newest of `expected`
 * matches among its `projectRows` costs less than reading every match from the index: the walk
 * reads about wanted·projectRows/expected rows, the index `expected` matches at INDEX_READ_COST each.
 */
export function storedOrderWalkPays(expected: number, wanted: number, projectRows: number): boolean {
  return INDEX_READ_COST * expected * expected >= wanted * projectRows;
}

/**
 * How many pages' worth of matches a page's cut walk must be expected to find before a search walks
 * for it rather than sorting its matches. For a word the column's statistics do not list (a rare word,
 * a typo, a word in no completion), the planner guesses 0.5% of the table: over SEARCH_SORT_THRESHOLD
 * from about 400,000 rows on, but about 1% of a project of two, so a cut walk of 2,000 entries expects
 * 20 matches where a page wants 21. The walk then found fewer, was cut, and the page was asked again
 * from the index (at 1M, rare word + a 1-in-2 pair: p50 28 ms, p99 49 ms; the index alone a few ms).
 * Twice over leaves room for the guess being high and the matches lying unevenly along the walk; a
 * word in half the project expects 50 pages' worth.
 */
export const SEARCH_WALK_FILL = 2;

/**
 * Whether a page's walk, cut at `walkLimit` entries, is expected to find the `wanted` rows of a page
 * `fill` times over: the `expected` matches (the search's, and the walk's checks of other filters)
 * spread evenly over the project's `projectRows`, of which the walk reads `walkLimit`.
 */
export function cutWalkFills(expected: number, projectRows: number, wanted: number, walkLimit: number, fill = SEARCH_WALK_FILL): boolean {
  return expected * walkLimit >= fill * wanted * projectRows;
}

/**
 * `walksForMatches` for a session, with the bounds tests lower to drive both strategies over a small database.
 */
export function createSearchStrategy(
  db: SqlSession,
  searchSortThreshold = SEARCH_SORT_THRESHOLD,
  searchWalkLimit = SEARCH_WALK_LIMIT,
  searchWalkFill = SEARCH_WALK_FILL,
) {
  /**
   * The rows the planner expects each of `selects` to return, from the statistics, in one round trip
   * (their UNION ALL explained: an Append with one plan per select, in order).
   */
  async function estimateEach(selects: string[], args: unknown[]): Promise<number[]> {
    const [row] = await db.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${selects.join(' UNION ALL ')}`, args);
    const raw = row!['QUERY PLAN'];
    type Plan = { 'Plan Rows': number; Plans?: Plan[] };
    const plan = ((typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan: Plan }[])[0]!.Plan;
    return selects.length === 1 ? [plan['Plan Rows']] : plan.Plans!.map((member) => member['Plan Rows']);
  }

  /**
   * Whether a search finds its matches by walking the completions rather than reading them all from
   * the GIN index, from the planner's estimates: how many completions the search's keys match (they
   * name the project), and how many the project holds. The matches are never counted: a GIN index
   * cannot stop counting at a cap, and counting a common word's matches would read its whole entry.
   *
   * A walk needs `searchSortThreshold` expected matches. A page's walk is cut at `searchWalkLimit`
   * entries (a wrong guess costs one more statement: wasWalkCut), and must also be expected to fill
   * the page within the cut (cutWalkFills), counting the share of the walked entries that the other
   * filters keep: the walk goes through the rarest filter's index and checks the others row by row.
   * A walk in stored order (usage, `wanted` matches) is not cut, so it must cost less than reading
   * every match (storedOrderWalkPays). Without these, a word the statistics do not list (a rare word,
   * a typo, a word in no completion) was walked for: the planner guesses 0.5% of the table for it,
   * over the threshold from 400,000 rows on. A usage summary read the whole project to count a few
   * matches or none (1.4 s at 300,000 rows, 3-5 s at 1M; 3 ms from the index); a page walked its cut
   * in vain before asking the index (bench/README.md, "PostgreSQL search pages with a rare word").
   */
  async function walksForMatches(projectId: number, match: SearchMatch, filters: ListFilter[], params: ListParams, storedOrder: boolean): Promise<boolean> {
    const args: unknown[] = [];
    const add = placeholders(args);
    const selects = [
      `SELECT 1 FROM completions c WHERE c.search_keys @> ${add(match.keys)}::text[]`,
      `SELECT 1 FROM completions c WHERE c.project_id = ${add(projectId)}`,
    ];
    // Only a page with several filters checks some of them along its walk (with one, it walks that one's index).
    if (!storedOrder && filters.length > 1) {
      for (const filter of filters) selects.push(`SELECT 1 FROM ${filter.table} x WHERE x.project_id = ${add(projectId)}${matches(filter, 'x', add)}`);
    }
    const [expected, projectRows, ...filterRows] = await estimateEach(selects, args);
    if (expected! < searchSortThreshold) return false;
    if (storedOrder) return storedOrderWalkPays(expected!, params.limit + 1, projectRows!);
    const shares = filterRows.map((rows) => Math.min(1, rows / Math.max(1, projectRows!)));
    // The rarest filter is walked (rankByReach picks it where the page is); the others are checked.
    const rarest = shares.indexOf(Math.min(...shares));
    const checked = shares.reduce((product, share, i) => (i === rarest ? product : product * share), 1);
    return cutWalkFills(expected! * checked, projectRows!, params.limit + 1, searchWalkLimit, searchWalkFill);
  }

  return { walksForMatches };
}
