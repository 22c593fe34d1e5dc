import type { SqlDatabase, SqlSession } from '../../db/sql-client.ts';
import type { ListParams } from '../../validation.ts';
import type { WalkedIndex } from '../contract.ts';
import { searchWords } from '../derived-fields.ts';
import { badCursor, type ListQuery as RankedQuery, rankByReach, type Position } from '../list-ranking.ts';
import {
  bounds,
  COMPLETIONS_WALK,
  filterChecks,
  filtersOf,
  HELD_POSITION,
  type ListFilter,
  matches,
  placeholders,
  reachSql,
  searchConditions,
  type WalkSource,
  walkChoiceSql,
} from './list-sql.ts';
import { createSearchStrategy, SEARCH_SORT_THRESHOLD, SEARCH_WALK_FILL, SEARCH_WALK_LIMIT } from './search-strategy.ts';
import { type SearchMatch, searchMatchOf } from './search-tokens.ts';
import { isStorableId, limitLiteral } from './text.ts';

export interface ListQuery extends RankedQuery {
  /**
   * Set when a search walks at most the store's walk limit of entries: for a page with fewer rows
   * than asked, it says whether the walk was cut there (more entries lay beyond), so that matches
   * may lie past the cut and the page must be asked again with `sortSearchMatches`.
   */
  wasWalkCut?: () => Promise<boolean>;
  /**
   * Set when the statement itself picks the walk among several (one per filter, in order): `walked`
   * is then only the first, and the one the database ran shows in EXPLAIN ANALYZE.
   */
  branches?: WalkedIndex[];
  /**
   * Set for a search: the statement is planned for its values (runListQuery), not generically. Whether a
   * search's walk fills a page early depends on how common its words are, which a generic plan cannot know
   * (with a model filter and a cursor it sorted the walk's whole cut instead of walking in order).
   */
  customPlan?: boolean;
}

/** The plan_cache_mode a list statement runs under: generic (the sessions' setting) unless the query asks for custom. */
export const planCacheModeOf = (query: Pick<ListQuery, 'customPlan'>) => (query.customPlan ? 'force_custom_plan' : 'force_generic_plan');

/**
 * Runs a list statement (a page, or the walk of a usage summary) under its plan_cache_mode: a search in
 * a transaction of its own that sets it (two round trips more, on statements that take milliseconds).
 */
export async function runListQuery<Row>(db: SqlDatabase, query: Pick<ListQuery, 'customPlan'>, sql: string, args: unknown[]): Promise<Row[]> {
  if (!query.customPlan) return db.query<Row>(sql, args);
  return db.transaction(async (tx) => {
    await tx.query(`SET LOCAL plan_cache_mode = ${planCacheModeOf(query)}`);
    return tx.query<Row>(sql, args);
  });
}

export const COMPLETION_COLUMNS = 'c.id, c.body, c.metadata, c.choices';

export interface ListQueryOptions {
  /** What each row yields (the served completion by default). */
  columns?: string;
  /** A search reads its matches most recently stored first, with no page order: for adding up many rows (usage). */
  searchInStoredOrder?: boolean;
  /** A search sorts its matches however many there are (after a cut walk). */
  sortSearchMatches?: boolean;
}

/** What every page statement is written from: the page asked for, its filters, and the statement's arguments so far. */
interface PageParts {
  projectId: number;
  params: ListParams;
  columns: string;
  filters: ListFilter[];
  args: unknown[];
  add: (value: unknown) => string;
}

/**
 * A search's page from all its matches, read from the GIN index, or (`walkStored`: many matches, stored order) from
 * the completions' primary key walked backwards. Used for a usage summary's walk (`storedOrder`) and for a page whose
 * search has few matches.
 */
function searchMatchesQuery(page: PageParts, match: SearchMatch, words: string[], storedOrder: boolean, walkStored: boolean): ListQuery {
  const { projectId, params, columns, filters, args, add } = page;
  const direction = params.order === 'asc' ? 'ASC' : 'DESC';
  if (walkStored) {
    // Many matches, most recently stored first: the completions' primary key walked backwards, each row's
    // keys checked, until enough are found (a common word's matches are not all read, as the GIN index would).
    const sql = `SELECT ${columns} FROM completions c WHERE c.project_id = ${add(projectId)}${searchConditions(match, 'c', add, false)}
      ${filterChecks(filters, 'c.project_id', 'c.created', 'c.id', add)}${bounds('c.created', 'c.id', projectId, params, add)}
      ORDER BY c.seq DESC LIMIT ${limitLiteral(params.limit + 1)}`;
    return { sql, args, walked: { table: 'completions', args: [] }, customPlan: true };
  }
  // Few matches: all of them from the GIN index (a materialized CTE: never an ordered walk that filters
  // row by row), their keys sorted, then the page's columns read for its rows only. The keys name the
  // project; a project_id condition beside them could only tempt the planner into ANDing its whole range.
  const found = `SELECT c.seq, c.created, c.id FROM completions c WHERE true${searchConditions(match, 'c', add, true)}
    ${filterChecks(filters, 'c.project_id', 'c.created', 'c.id', add)}${bounds('c.created', 'c.id', projectId, params, add)}`;
  const walked: WalkedIndex = { table: 'completion_search', args: words };
  if (storedOrder) {
    const sql = `WITH matches AS MATERIALIZED (${found})
      SELECT ${columns} FROM (SELECT seq FROM matches ORDER BY seq DESC LIMIT ${limitLiteral(params.limit + 1)}) AS page
      JOIN completions c ON c.seq = page.seq ORDER BY c.seq DESC`;
    return { sql, args, walked, customPlan: true };
  }
  const sql = `WITH matches AS MATERIALIZED (${found})
    SELECT ${columns} FROM (SELECT seq, created, id FROM matches ORDER BY created ${direction}, id ${direction} LIMIT ${limitLiteral(params.limit + 1)}) AS page
    JOIN completions c ON c.seq = page.seq ORDER BY page.created ${direction}, page.id ${direction}`;
  return { sql, args, walked, customPlan: true };
}

/** A page walked in list order, before its search's conditions and its ORDER BY: its SQL, and what it walks. */
interface OrderedWalk {
  sql: string;
  walked: WalkedIndex;
  /** The index walked (for a search's `wasWalkCut`); the completions' own when the statement chooses among several. */
  source: WalkSource;
  /** The walked index's (created, id) columns, which the page is ordered by. */
  position: [created: string, id: string];
  branches?: WalkedIndex[];
}

/**
 * A page walked in list order through one index: the completions' own (no filter), the one filter's, the one
 * `ranked` first (a search with several filters, ranked by their reach), or, with several filters and no search,
 * whichever the statement's `walk_choice` names. With a search, the walk is cut at `searchWalkLimit` entries (a
 * subquery the page's LIMIT stops early), so a word rare where the walk goes never walks the whole index.
 */
function orderedWalk(page: PageParts, searched: boolean, ranked: ListFilter[] | undefined, searchWalkLimit: number): OrderedWalk {
  const { projectId, params, columns, filters, add } = page;
  const direction = params.order === 'asc' ? 'ASC' : 'DESC';
  const order = (created: string, id: string) => ` ORDER BY ${created} ${direction}, ${id} ${direction}`;
  const walkedRows = (table: string, alias: string, where: string, created: string, id: string): [from: string, where: string] =>
    searched
      ? [`(SELECT * FROM ${table} ${alias} WHERE ${where}${order(created, id)} LIMIT ${limitLiteral(searchWalkLimit)}) AS ${alias}`, 'true']
      : [`${table} ${alias}`, where];
  if (filters.length === 0) {
    const position: OrderedWalk['position'] = ['c.created', 'c.id'];
    const [from, where] = walkedRows('completions', 'c', `c.project_id = ${add(projectId)}${bounds(...position, projectId, params, add)}`, ...position);
    return { sql: `SELECT ${columns} FROM ${from} WHERE ${where}`, walked: { table: 'completions', args: [] }, source: COMPLETIONS_WALK, position };
  }
  const position: OrderedWalk['position'] = ['w.created', 'w.completion_id'];
  if (!ranked) {
    // Several filters, no search: one walk per filter, each a member of an ordered UNION ALL that only runs
    // when walk_choice names it (a one-time filter), so the rarest is walked and the page is one statement.
    const walks = filters.map((walkedFilter, i) => {
      const others = filters.filter((other) => other !== walkedFilter);
      return `(SELECT w.project_id, w.created, w.completion_id FROM ${walkedFilter.table} w
        WHERE w.project_id = ${add(projectId)}${matches(walkedFilter, 'w', add)}${bounds('w.created', 'w.completion_id', projectId, params, add)}
        AND (SELECT i FROM walk_choice) = ${i}${filterChecks(others, 'w.project_id', 'w.created', 'w.completion_id', add)}
        ${order('w.created', 'w.completion_id')} LIMIT ${limitLiteral(params.limit + 1)})`;
    });
    const sql = `${walkChoiceSql(projectId, filters, params, add)}
      SELECT ${columns} FROM (${walks.join(' UNION ALL ')}) AS w JOIN completions c ON c.project_id = w.project_id AND c.id = w.completion_id`;
    return {
      sql,
      walked: { table: filters[0]!.table, args: filters[0]!.args },
      branches: filters.map((filter) => ({ table: filter.table, args: filter.args })),
      source: COMPLETIONS_WALK,
      position,
    };
  }
  const [first, ...checked] = ranked as [ListFilter, ...ListFilter[]];
  const walk = `w.project_id = ${add(projectId)}${matches(first, 'w', add)}${bounds(...position, projectId, params, add)}`;
  // The walked index is the outer loop of a nested loop, so rows come out in its order; each
  // completion is then one lookup in its unique (project_id, id) index.
  const [from, where] = walkedRows(first.table, 'w', walk, ...position);
  const sql = `SELECT ${columns} FROM ${from} JOIN completions c ON c.project_id = w.project_id AND c.id = w.completion_id
    WHERE ${where}${filterChecks(checked, 'w.project_id', 'w.created', 'w.completion_id', add)}`;
  return { sql, walked: { table: first.table, args: first.args }, source: first, position };
}

/**
 * Keyset list queries for PostgreSQL, built as on SQLite: with filters, the rarest one's index is
 * walked in order and the others are checked per row by a point lookup, so the cost follows the
 * page size, not the table size. A search counts its matches in the project first: few are taken
 * from the GIN index and sorted; many are found by walking the list's index and probing each row.
 *
 * The `after` cursor's position is never a round trip of its own: the page's SQL reads it in a
 * subquery (a completion stored or deleted in the project), so a page is one statement. A cursor
 * the project never had makes that position NULL and the page empty; only an empty page asks
 * whether the cursor exists (`checkCursor`), to tell "no more" from a 400.
 */
export function createListQueries(
  db: SqlSession,
  searchSortThreshold = SEARCH_SORT_THRESHOLD,
  searchWalkLimit = SEARCH_WALK_LIMIT,
  searchWalkFill = SEARCH_WALK_FILL,
) {
  const { walksForMatches } = createSearchStrategy(db, searchSortThreshold, searchWalkLimit, searchWalkFill);

  /** The completion's position, whether it is stored or was deleted; undefined when never stored. */
  async function findPosition(projectId: number, id: string): Promise<number | undefined> {
    const [row] = await db.query<{ created: number }>(
      `SELECT created FROM completions WHERE project_id = $1 AND id = $2
       UNION ALL SELECT created FROM deleted_completions WHERE project_id = $1 AND id = $2 AND created <> ${HELD_POSITION} LIMIT 1`,
      [projectId, id],
    );
    return row?.created;
  }

  /** Throws the 400 for an `after` the project never had; for pages that came back empty. */
  async function checkCursor(projectId: number | undefined, after: string | undefined): Promise<void> {
    if (after === undefined) return;
    if (projectId === undefined || !isStorableId(after) || (await findPosition(projectId, after)) === undefined) throw badCursor(after);
  }

  /**
   * Where the source's `reach`-th entry after the cursor lies in walk order; undefined when fewer
   * are left. Costs `reach` index steps, whatever the table's size.
   */
  async function findReach(projectId: number, source: WalkSource, params: ListParams, reach: number): Promise<Position | undefined> {
    const args: unknown[] = [];
    const [row] = await db.query<Position>(reachSql(projectId, source, params, reach, placeholders(args)), args);
    return row;
  }

  /**
   * The SQL and arguments of a list page, and the index it walks; undefined when nothing can
   * match (the project has stored nothing yet, or the search has no word). Throws the 400 for
   * a cursor that cannot be an id of the project; one that could be but is not yields an empty page.
   */
  async function buildListQuery(
    projectId: number | undefined,
    params: ListParams,
    { columns = COMPLETION_COLUMNS, searchInStoredOrder = false, sortSearchMatches = false }: ListQueryOptions = {},
  ): Promise<ListQuery | undefined> {
    if (params.after !== undefined && (projectId === undefined || !isStorableId(params.after))) throw badCursor(params.after);
    if (projectId === undefined) return undefined;
    const words = params.search === undefined ? undefined : searchWords(params.search);
    if (words?.length === 0) return undefined;
    const match = words && searchMatchOf(projectId, words);
    if (words && !match) return undefined;
    const args: unknown[] = [];
    const page: PageParts = { projectId, params, columns, filters: filtersOf(params), args, add: placeholders(args) };

    const common = match !== undefined && !sortSearchMatches && (await walksForMatches(projectId, match, page.filters, params, searchInStoredOrder));
    if (match && (searchInStoredOrder || !common)) return searchMatchesQuery(page, match, words!, searchInStoredOrder, common);

    // One filter, or a search with several (ranked by their reach here, a round trip each): one index walked.
    // Several filters and no search: the statement chooses (walk_choice).
    let ranked: ListFilter[] | undefined;
    if (page.filters.length === 1) ranked = page.filters;
    else if (page.filters.length > 1 && match) {
      const reaches = await Promise.all(page.filters.map((f) => findReach(projectId, f, params, params.limit + 1)));
      ranked = rankByReach(page.filters, reaches, params.order);
    }
    const walk = orderedWalk(page, match !== undefined, ranked, searchWalkLimit);
    const direction = params.order === 'asc' ? 'ASC' : 'DESC';
    // Many matches: the walk goes in list order, each walked row's own keys checked.
    const sql = `${walk.sql}${match ? searchConditions(match, 'c', page.add, false) : ''} ORDER BY ${walk.position[0]} ${direction}, ${walk.position[1]} ${direction} LIMIT ${limitLiteral(params.limit + 1)}`;
    const wasWalkCut = match ? async () => (await findReach(projectId, walk.source, params, searchWalkLimit + 1)) !== undefined : undefined;
    return { sql, args, walked: walk.walked, ...(walk.branches ? { branches: walk.branches } : {}), ...(wasWalkCut ? { wasWalkCut, customPlan: true } : {}) };
  }

  return { buildListQuery, findPosition, checkCursor };
}
