import type { ListFilters, ListParams, SortOrder } from '../../validation.ts';
import type { WalkedIndex } from '../contract.ts';
import { searchWords } from '../derived-fields.ts';
import { badCursor, type Position, rankByReach } from '../list-ranking.ts';
import { LIMIT_PARAMETER, type Prepare } from './statements.ts';
import { bodySql, choicesSql, openBodyParts } from './stored-json.ts';

/** A filter the list can walk in (created, id) order, or check for one row. */
interface ListFilter {
  table: 'metadata' | 'completion_models';
  where: string;
  args: string[];
}

/** An index the list walks: a filter's, or (no filter) the completions' own (created, id) index. */
type WalkSource = ListFilter | { table: 'completions'; where: undefined; args: [] };

const COMPLETIONS_WALK: WalkSource = { table: 'completions', where: undefined, args: [] };


export interface ListQuery {
  sql: string;
  args: unknown[];
  walked: WalkedIndex;
  /**
   * True when a search's walk was cut after the store's walk limit: a page with fewer rows than
   * asked may then miss matches beyond the cut, and must be asked again with `sortSearchMatches`.
   */
  walkCut: boolean;
}

/**
 * The choices of completions row `c`: their JSON texts joined by commas (an array's inside), kept in
 * the completion's row (migration 0008) and put back whole where stored compacted. The one place a read names them.
 */
const CHOICES_SQL = choicesSql('c.choices');

export const COMPLETION_COLUMNS = `c.id, ${bodySql('c')} AS body, c.metadata, ${CHOICES_SQL} AS choices`;

/**
 * What a served page reads per row: the id, and the completion's JSON as serializeCompletion
 * (src/wire.ts) writes it, built in SQL (`concat` allocates once; `||` would copy the text at each step).
 * Choices absent (NULL) give an empty array, as `row.choices ?? ''` does there.
 */
export const PAGE_ITEM_COLUMNS = `c.id, concat(${openBodyParts('c')}, ',"choices":[', ${CHOICES_SQL}, '],"metadata":', c.metadata, '}') AS item`;

/**
 * One page in one value: a list query run with PAGE_ITEM_COLUMNS, folded into the ids (a JSON array),
 * the items joined by commas as bytes, and each item's length in bytes (the last one is cut off when
 * the query read one row beyond the page). The list query, ordered and limited, runs as a co-routine,
 * so the rows reach the aggregates in its order, as the choices reach theirs above.
 */
export function pageSql(listSql: string): string {
  return `SELECT json_group_array(id) AS ids, CAST(group_concat(item, ',') AS BLOB) AS items,
    group_concat(octet_length(item)) AS lengths FROM (${listSql})`;
}

/**
 * Below this many matches in the project, a search takes its matches from the full-text index
 * and sorts them (cost: the matches); from it on, it walks the list's ordered index and asks the
 * full-text index about each row (cost: the rows walked until a page is full, few when the words
 * are common). Counting stops at the threshold, so the estimate itself costs at most that many
 * index entries. Set from `npm run bench` at 1M rows (see bench/README.md).
 */
export const SEARCH_SORT_THRESHOLD = 2000;

/**
 * Most index entries a search walks with a probe each (~0.05-0.1 ms) before giving up on the walk
 * and sorting the word's matches instead: a word common in the project may be rare where the walk
 * goes (with a filter it seldom meets), and an unbounded walk would then probe every entry.
 */
export const SEARCH_WALK_LIMIT = 2000;

/**
 * A search's words as an FTS5 query: each word one quoted phrase (quotes doubled), all of them required.
 * A NUL would end FTS5's query text inside the quotes ("unterminated string"); its tokenizer reads
 * one as a separator, so a space in its place asks for the same tokens side by side.
 */
export function toFtsQuery(words: string[]): string {
  return words.map((word) => `"${word.replaceAll('"', '""').replaceAll('\u0000', ' ')}"`).join(' AND ');
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
export function createListQueries(prepare: Prepare, searchSortThreshold = SEARCH_SORT_THRESHOLD, searchWalkLimit = SEARCH_WALK_LIMIT) {
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
      throw badCursor(after);
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
  function findReach(projectId: number, source: WalkSource, cursor: Position | undefined, params: ListParams, reach: number) {
    const direction = params.order === 'asc' ? 'ASC' : 'DESC';
    const id = source.table === 'completions' ? 'id' : 'completion_id';
    const bounds = rangeConditions('created', id, cursor, params.order, params);
    return prepare(
      `SELECT created, ${id} AS id FROM ${source.table} WHERE project_id = ?${source.where ? ` AND ${source.where}` : ''}${bounds.sql}
       ORDER BY created ${direction}, ${id} ${direction} LIMIT 1 OFFSET ?`,
    ).get(projectId, ...source.args, ...bounds.args, reach - 1) as Position | undefined;
  }

  /** The filters, rarest near the cursor first: the first is walked, the others are checked per row. */
  function rankFilters(projectId: number, filters: ListFilter[], cursor: Position | undefined, params: ListParams, reach: number) {
    if (filters.length < 2) return filters;
    return rankByReach(filters, filters.map((f) => findReach(projectId, f, cursor, params, reach)), params.order);
  }

  /** How many completions of the project the search matches, counted up to `cap`. */
  function countMatches(projectId: number, match: string, cap: number): number {
    const row = prepare(
      `SELECT count(*) AS n FROM (SELECT rowid FROM completion_search WHERE completion_search MATCH ? ${LIMIT_PARAMETER})`,
    ).get(projectMatch(projectId, match), cap) as { n: number };
    return row.n;
  }

  /**
   * The SQL and arguments of a list page, and the index it walks; undefined when nothing can
   * match (the project has stored nothing yet, or the search has no word).
   * `columns` are what each row yields (the served completion by default). With
   * `searchInStoredOrder`, a search reads its matches newest stored first, in the full-text index's
   * own order, with no sort and no probes: for adding up many rows (usage), not for pages. With
   * `sortSearchMatches`, a search sorts its matches however many there are (after a cut walk).
   */
  function buildListQuery(
    projectId: number | undefined,
    params: ListParams,
    { columns = COMPLETION_COLUMNS, searchInStoredOrder = false, sortSearchMatches = false } = {},
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
      match !== undefined &&
      (searchInStoredOrder || sortSearchMatches || countMatches(projectId, match, searchSortThreshold) < searchSortThreshold);
    let source: WalkSource = COMPLETIONS_WALK;
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
      source = first;
      // CROSS JOIN pins the walked index as the outer loop, so rows come out in its order.
      sql = `SELECT ${columns} FROM ${first.table} w
        CROSS JOIN completions c ON c.project_id = w.project_id AND c.id = w.completion_id
        WHERE w.project_id = ? AND ${qualify(first.where, 'w')}`;
      args.push(projectId, ...first.args);
      checkFilters(checked, 'w.project_id', 'w.created', 'w.completion_id');
      position = ['w.created', 'w.completion_id'];
    }
    let walkCut = false;
    if (match !== undefined && !fromSearchIndex) {
      // Many matches: the walk goes in list order, and each row is one lookup in the full-text index.
      sql += ' AND EXISTS (SELECT 1 FROM completion_search s WHERE s.completion_search MATCH ? AND s.rowid = c.seq)';
      args.push(`text : (${match})`);
      // ... for at most searchWalkLimit entries: the entry there ends the walk (found in that many index steps).
      const end = findReach(projectId, source, cursor, params, searchWalkLimit);
      if (end) {
        sql += ` AND (${position[0]}, ${position[1]}) ${params.order === 'asc' ? '<=' : '>='} (?, ?)`;
        args.push(end.created, end.id);
        walkCut = true;
      }
    }
    const bounds = rangeConditions(...position, cursor, params.order, params);
    if (fromSearchIndex && searchInStoredOrder) {
      sql += `${bounds.sql} ORDER BY s.rowid DESC ${LIMIT_PARAMETER}`;
      args.push(...bounds.args, params.limit + 1);
      return { sql, args, walked, walkCut };
    }
    const orderBy = ` ORDER BY ${position[0]} ${direction}, ${position[1]} ${direction}`;
    sql += `${bounds.sql}${orderBy} ${LIMIT_PARAMETER}`;
    args.push(...bounds.args);
    args.push(params.limit + 1);
    if (fromSearchIndex) {
      // A sort computes its rows' columns before sorting: the body and choices would be read and
      // rebuilt for every match. Sorting the keys first, then reading one page, costs a second sort of one page.
      sql = `SELECT ${columns} FROM (${sql}) AS page CROSS JOIN completions c ON c.seq = page.seq${orderBy}`;
    }
    return { sql, args, walked, walkCut };
  }

  return { buildListQuery, findPosition };
}
