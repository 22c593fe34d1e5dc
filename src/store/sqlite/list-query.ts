import { ApiError } from '../../errors.ts';
import type { ListFilters, ListParams, SortOrder } from '../../validation.ts';
import type { WalkedIndex } from '../contract.ts';
import { searchWords } from '../derived-fields.ts';
import type { Prepare } from './statements.ts';

/** A filter the list can walk in (created, id) order, or check for one row. */
interface ListFilter {
  table: 'metadata' | 'completion_models';
  where: string;
  args: string[];
}

type Position = { created: number; id: string };

export interface ListQuery {
  sql: string;
  args: unknown[];
  walked: WalkedIndex;
}

// The ordered subquery feeds group_concat in the choices' primary-key order; `group_concat(... ORDER BY idx)`
// would build and sort a temporary b-tree for every row of the page instead.
export const COMPLETION_COLUMNS = `c.id, c.body, c.metadata,
  (SELECT group_concat(body, ',') FROM (SELECT ch.body FROM choices ch WHERE ch.completion_seq = c.seq ORDER BY ch.idx)) AS choices`;

/**
 * Below this many matches in the project, a search takes its matches from the full-text index
 * and sorts them (cost: the matches); from it on, it walks the list's ordered index and asks the
 * full-text index about each row (cost: the rows walked until a page is full, few when the words
 * are common). Counting stops at the threshold, so the estimate itself costs at most that many
 * index entries. Set from `npm run bench` at 1M rows (see bench/README.md).
 */
export const SEARCH_SORT_THRESHOLD = 2000;

/** A search's words as an FTS5 query: each word one quoted phrase (quotes doubled), all of them required. */
export function toFtsQuery(words: string[]): string {
  return words.map((word) => `"${word.replaceAll('"', '""')}"`).join(' AND ');
}

/** The words within one project: its id is a token of the index's `project` column. */
function projectMatch(projectId: number, match: string): string {
  return `project : "${projectId}" AND text : (${match})`;
}

/**
 * The created range and the cursor as conditions on a walked index's (created, id) columns.
 * The cursor and one side of the range bound the same end of the walk: only the tighter is
 * kept, so the index range starts where the first row can be, never at the looser bound.
 */
function rangeConditions(
  created: string,
  id: string,
  cursor: Position | undefined,
  order: SortOrder,
  range: Pick<ListFilters, 'createdAfter' | 'createdBefore'>,
): { sql: string; args: unknown[] } {
  let after = range.createdAfter;
  let before = range.createdBefore;
  const parts: string[] = [];
  const args: unknown[] = [];
  if (cursor && order === 'asc' && (after === undefined || cursor.created >= after)) {
    parts.push(`(${created}, ${id}) > (?, ?)`);
    args.push(cursor.created, cursor.id);
    after = undefined;
  } else if (cursor && order === 'desc' && (before === undefined || cursor.created < before)) {
    parts.push(`(${created}, ${id}) < (?, ?)`);
    args.push(cursor.created, cursor.id);
    before = undefined;
  }
  if (after !== undefined) {
    parts.push(`${created} >= ?`);
    args.push(after);
  }
  if (before !== undefined) {
    parts.push(`${created} < ?`);
    args.push(before);
  }
  return { sql: parts.map((part) => ` AND ${part}`).join(''), args };
}

/** Prefixes a filter's column names with a table alias: `key = ?` -> `w.key = ?`. */
function qualify(where: string, alias: string): string {
  return where.replace(/(\w+) = \?/g, `${alias}.$1 = ?`);
}

function metadataFilter(key: string, value: string): ListFilter {
  return { table: 'metadata', where: 'key = ? AND value = ?', args: [key, value] };
}

function modelFilter(model: string): ListFilter {
  return { table: 'completion_models', where: 'model = ?', args: [model] };
}

/**
 * Builds keyset list queries. With filters, the rarest one's index is walked in
 * order and the others are checked per row by a point lookup, so the cost
 * follows the page size, not the table size.
 */
export function createListQueries(prepare: Prepare, searchSortThreshold = SEARCH_SORT_THRESHOLD) {
  /** The completion's position, whether it is stored or was deleted; undefined when never stored. */
  function findPosition(projectId: number, id: string): number | undefined {
    const row = prepare(
      `SELECT created FROM completions WHERE project_id = ? AND id = ?
       UNION ALL SELECT created FROM deleted_completions WHERE project_id = ? AND id = ? LIMIT 1`,
    ).get(projectId, id, projectId, id) as { created: number } | undefined;
    return row?.created;
  }

  /** The `after` cursor's position; a 400 when the id was never stored in this project. */
  function resolveCursor(projectId: number | undefined, after: string | undefined): Position | undefined {
    if (after === undefined) return undefined;
    const created = projectId === undefined ? undefined : findPosition(projectId, after);
    if (created === undefined) {
      throw ApiError.badRequest(`Invalid 'after': no chat completion found with id '${after}'.`, 'after');
    }
    return { created, id: after };
  }

  /**
   * Where the filter's `reach`-th entry after the cursor lies in walk order;
   * undefined when fewer entries are left. Of several filters, the one whose
   * entry lies farthest is the rarest where the page is, so walking it touches
   * the fewest entries. Costs `reach` index steps, whatever the table's size
   * (a count would have to be capped, and two capped counts tell nothing).
   */
  function findReach(projectId: number, filter: ListFilter, cursor: Position | undefined, params: ListParams, reach: number) {
    const direction = params.order === 'asc' ? 'ASC' : 'DESC';
    const bounds = rangeConditions('created', 'completion_id', cursor, params.order, params);
    return prepare(
      `SELECT created, completion_id AS id FROM ${filter.table} WHERE project_id = ? AND ${filter.where}${bounds.sql}
       ORDER BY created ${direction}, completion_id ${direction} LIMIT 1 OFFSET ?`,
    ).get(projectId, ...filter.args, ...bounds.args, reach - 1) as Position | undefined;
  }

  /** The filters, rarest near the cursor first: the first is walked, the others are checked per row. */
  function rankFilters(projectId: number, filters: ListFilter[], cursor: Position | undefined, params: ListParams, reach: number) {
    if (filters.length < 2) return filters;
    const reaches = new Map(filters.map((f) => [f, findReach(projectId, f, cursor, params, reach)]));
    const sign = params.order === 'asc' ? -1 : 1;
    // Array.prototype.sort is stable: filters that tie keep the order the query named them in.
    return [...filters].sort((a, b) => {
      const ra = reaches.get(a);
      const rb = reaches.get(b);
      if (!ra || !rb) return ra ? 1 : rb ? -1 : 0;
      if (ra.created !== rb.created) return sign * (ra.created - rb.created);
      return ra.id === rb.id ? 0 : sign * (ra.id < rb.id ? -1 : 1);
    });
  }

  /** How many completions of the project the search matches, counted up to `cap`. */
  function countMatches(projectId: number, match: string, cap: number): number {
    const row = prepare(
      'SELECT count(*) AS n FROM (SELECT rowid FROM completion_search WHERE completion_search MATCH ? LIMIT ?)',
    ).get(projectMatch(projectId, match), cap) as { n: number };
    return row.n;
  }

  /**
   * The SQL and arguments of a list page, and the index it walks; undefined when nothing can
   * match (the project has stored nothing yet, or the search has no word).
   * `columns` are what each row yields (the served completion by default). With
   * `searchInStoredOrder`, a search reads its matches newest stored first, in the full-text index's
   * own order, with no sort and no probes: for adding up many rows (usage), not for pages.
   */
  function buildListQuery(
    projectId: number | undefined,
    params: ListParams,
    { columns = COMPLETION_COLUMNS, searchInStoredOrder = false } = {},
  ): ListQuery | undefined {
    const cursor = resolveCursor(projectId, params.after);
    if (projectId === undefined) return undefined;
    const words = params.search === undefined ? undefined : searchWords(params.search);
    if (words?.length === 0) return undefined;
    const match = words && toFtsQuery(words);

    const filters: ListFilter[] = params.metadata.map(([k, v]) => metadataFilter(k, v));
    if (params.model !== undefined) filters.push(modelFilter(params.model));
    const direction = params.order === 'asc' ? 'ASC' : 'DESC';
    const args: unknown[] = [];
    let sql = '';
    let walked: WalkedIndex;
    /** Checks each walked row against the filters it does not walk: point lookups in their indexes. */
    const checkFilters = (checked: ListFilter[], project: string, created: string, id: string) => {
      for (const filter of checked) {
        sql += ` AND EXISTS (SELECT 1 FROM ${filter.table} x WHERE x.project_id = ${project} AND ${qualify(filter.where, 'x')}
          AND x.created = ${created} AND x.completion_id = ${id})`;
        args.push(...filter.args);
      }
    };
    /** The walked index's (created, id) columns: the range, the cursor and the order apply to them. */
    let position: [created: string, id: string];

    const fromSearchIndex =
      match !== undefined && (searchInStoredOrder || countMatches(projectId, match, searchSortThreshold) < searchSortThreshold);
    if (fromSearchIndex) {
      // Few matches: take them all from the full-text index (CROSS JOIN keeps it the outer loop) and sort
      // their keys; the page's columns are read after the sort, for its rows only (see the end).
      walked = { table: 'completion_search', args: words! };
      sql = `SELECT ${searchInStoredOrder ? columns : 'c.seq'} FROM completion_search s CROSS JOIN completions c ON c.seq = s.rowid
        WHERE s.completion_search MATCH ? AND c.project_id = ?`;
      args.push(projectMatch(projectId, match!), projectId);
      checkFilters(filters, 'c.project_id', 'c.created', 'c.id');
      position = ['c.created', 'c.id'];
    } else if (filters.length === 0) {
      walked = { table: 'completions', args: [] };
      sql = `SELECT ${columns} FROM completions c WHERE c.project_id = ?`;
      args.push(projectId);
      position = ['c.created', 'c.id'];
    } else {
      const [first, ...checked] = rankFilters(projectId, filters, cursor, params, params.limit + 1) as [ListFilter, ...ListFilter[]];
      walked = { table: first.table, args: first.args };
      // CROSS JOIN pins the walked index as the outer loop, so rows come out in its order.
      sql = `SELECT ${columns} FROM ${first.table} w
        CROSS JOIN completions c ON c.project_id = w.project_id AND c.id = w.completion_id
        WHERE w.project_id = ? AND ${qualify(first.where, 'w')}`;
      args.push(projectId, ...first.args);
      checkFilters(checked, 'w.project_id', 'w.created', 'w.completion_id');
      position = ['w.created', 'w.completion_id'];
    }
    if (match !== undefined && !fromSearchIndex) {
      // Many matches: the walk goes in list order, and each row is one lookup in the full-text index.
      sql += ' AND EXISTS (SELECT 1 FROM completion_search s WHERE s.completion_search MATCH ? AND s.rowid = c.seq)';
      args.push(`text : (${match})`);
    }
    const bounds = rangeConditions(...position, cursor, params.order, params);
    if (fromSearchIndex && searchInStoredOrder) {
      sql += `${bounds.sql} ORDER BY s.rowid DESC LIMIT ?`;
      args.push(...bounds.args, params.limit + 1);
      return { sql, args, walked };
    }
    const orderBy = ` ORDER BY ${position[0]} ${direction}, ${position[1]} ${direction}`;
    sql += `${bounds.sql}${orderBy} LIMIT ?`;
    args.push(...bounds.args);
    args.push(params.limit + 1);
    if (fromSearchIndex) {
      // A sort computes its rows' columns before sorting: the choices subquery and the body would be read
      // for every match. Sorting the keys first, then reading one page, costs a second sort of one page.
      sql = `SELECT ${columns} FROM (${sql}) AS page CROSS JOIN completions c ON c.seq = page.seq${orderBy}`;
    }
    return { sql, args, walked };
  }

  return { buildListQuery, findPosition };
}
