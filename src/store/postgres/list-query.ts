import type { SqlDatabase, SqlSession } from '../../db/sql-client.ts';
import type { ListParams } from '../../validation.ts';
import type { WalkedIndex } from '../contract.ts';
import { searchWords } from '../derived-fields.ts';
import { badCursor, type ListQuery as RankedQuery, rankByReach, type Position } from '../list-ranking.ts';
import { type SearchMatch, searchMatchOf } from './search-tokens.ts';
import { filterText, isStorableId, limitLiteral } from './text.ts';

/** A filter the list can walk in (created, id) order, or check for one row. */
interface ListFilter {
  table: 'metadata' | 'completion_models';
  columns: string[];
  args: string[];
}

/** An index the list walks: a filter's, or (no filter) the completions' own (created, id) index. */
type WalkSource = ListFilter | { table: 'completions'; columns: []; args: [] };

const COMPLETIONS_WALK: WalkSource = { table: 'completions', columns: [], args: [] };

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

export interface ListQueryOptions {
  /** What each row yields (the served completion by default). */
  columns?: string;
  /** A search reads its matches most recently stored first, with no page order: for adding up many rows (usage). */
  searchInStoredOrder?: boolean;
  /** A search sorts its matches however many there are (after a cut walk). */
  sortSearchMatches?: boolean;
}

/** Numbered placeholders: `add(value)` returns `$n` for it. */
function placeholders(args: unknown[]) {
  return (value: unknown): string => {
    args.push(value);
    return `$${args.length}`;
  };
}

/** `alias.column = $n AND ...` for a filter's columns. */
function matches(filter: WalkSource, alias: string, add: (value: unknown) => string): string {
  return filter.columns.map((column, i) => ` AND ${alias}.${column} = ${add(filter.args[i])}`).join('');
}

/**
 * The search as conditions on a completions row `alias`: every key in its keys, every phrase in
 * its token text. `indexed` lets the planner answer the keys from the GIN index; otherwise the
 * check is written so it cannot (`IS TRUE`), and stays a probe of each walked row.
 */
function searchConditions(match: SearchMatch, alias: string, add: (value: unknown) => string, indexed: boolean): string {
  const contains = `${alias}.search_keys @> ${add(match.keys)}::text[]`;
  let sql = indexed ? ` AND ${contains}` : ` AND (${contains}) IS TRUE`;
  for (const phrase of match.phrases) sql += ` AND strpos(${alias}.search_text, ${add(phrase)}) > 0`;
  return sql;
}

/**
 * The `created` of a stream's held id (index.ts, holdStreamId): a tombstone row at a position no completion
 * has, so that every instance refuses the id while the stream runs. It is no deleted completion: never a
 * cursor's position (`after` it is the 400 of an id never stored), never copied.
 */
export const HELD_POSITION = '-4611686018427387904';

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
   * The conditions on a walked index's (created, id) columns: the created range and the position
   * after the cursor (read in a subquery; NULL, so no row, for an unknown cursor).
   */
  function bounds(created: string, id: string, projectId: number, params: ListParams, add: (value: unknown) => string): string {
    let sql = '';
    if (params.createdAfter !== undefined) sql += ` AND ${created} >= ${add(params.createdAfter)}`;
    if (params.createdBefore !== undefined) sql += ` AND ${created} < ${add(params.createdBefore)}`;
    if (params.after !== undefined) {
      const project = add(projectId);
      const after = add(params.after);
      const position = `(SELECT created FROM (SELECT created FROM completions WHERE project_id = ${project} AND id = ${after}
        UNION ALL SELECT created FROM deleted_completions WHERE project_id = ${project} AND id = ${after} AND created <> ${HELD_POSITION})
        AS cursor LIMIT 1)`;
      sql += ` AND (${created}, ${id}) ${params.order === 'asc' ? '>' : '<'} (${position}, ${after})`;
    }
    return sql;
  }

  /** SQL of where the source's `reach`-th entry after the cursor lies in walk order (no row when fewer are left). */
  function reachSql(projectId: number, source: WalkSource, params: ListParams, reach: number, add: (value: unknown) => string): string {
    const direction = params.order === 'asc' ? 'ASC' : 'DESC';
    const id = source.table === 'completions' ? 'id' : 'completion_id';
    return `SELECT f.created, f.${id} AS id FROM ${source.table} f WHERE f.project_id = ${add(projectId)}${matches(source, 'f', add)}
      ${bounds('f.created', `f.${id}`, projectId, params, add)}
      ORDER BY f.created ${direction}, f.${id} ${direction} LIMIT 1 OFFSET ${limitLiteral(reach - 1)}`;
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
   * A CTE `walk_choice` whose one row names (0-based) the filter to walk: rankByReach's choice,
   * taken inside the page's statement so that a page with several filters is one round trip.
   * Each filter's reach is `limit + 1` index steps; the rarest where the page is has its reach
   * farthest along the walk (or none: fewer entries left), ties going to the one named first.
   */
  function walkChoiceSql(projectId: number, filters: ListFilter[], params: ListParams, add: (value: unknown) => string): string {
    const reaches = filters.map(
      (filter, i) => `SELECT ${i} AS i, r.created, r.id FROM (SELECT) AS one
        LEFT JOIN LATERAL (${reachSql(projectId, filter, params, params.limit + 1, add)}) AS r ON true`,
    );
    const farthest = params.order === 'asc' ? 'DESC' : 'ASC';
    return `WITH walk_choice AS MATERIALIZED (SELECT r.i FROM (${reaches.join(' UNION ALL ')}) AS r
      ORDER BY r.created IS NULL DESC, r.created ${farthest}, r.id ${farthest}, r.i LIMIT 1)`;
  }

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

    const filters: ListFilter[] = params.metadata.map(([k, v]) => ({
      table: 'metadata',
      columns: ['key', 'value'],
      args: [filterText(k), filterText(v)],
    }));
    if (params.model !== undefined) filters.push({ table: 'completion_models', columns: ['model'], args: [filterText(params.model)] });
    const direction = params.order === 'asc' ? 'ASC' : 'DESC';
    const args: unknown[] = [];
    const add = placeholders(args);
    /** Checks each row against filters it does not walk: a correlated point lookup each (an EXISTS may be planned as a hash semi-join). */
    const checks = (checked: ListFilter[], project: string, created: string, id: string) =>
      checked
        .map(
          (filter) => ` AND (SELECT true FROM ${filter.table} x WHERE x.project_id = ${project}${matches(filter, 'x', add)}
          AND x.created = ${created} AND x.completion_id = ${id} LIMIT 1)`,
        )
        .join('');

    const common = match !== undefined && !sortSearchMatches && (await walksForMatches(projectId, match, filters, params, searchInStoredOrder));
    if (match && searchInStoredOrder && common) {
      // Many matches, most recently stored first: the completions' primary key walked backwards, each row's
      // keys checked, until enough are found (a common word's matches are not all read, as the GIN index would).
      const sql = `SELECT ${columns} FROM completions c WHERE c.project_id = ${add(projectId)}${searchConditions(match, 'c', add, false)}
        ${checks(filters, 'c.project_id', 'c.created', 'c.id')}${bounds('c.created', 'c.id', projectId, params, add)}
        ORDER BY c.seq DESC LIMIT ${limitLiteral(params.limit + 1)}`;
      return { sql, args, walked: { table: 'completions', args: [] }, customPlan: true };
    }
    if (match && (searchInStoredOrder || !common)) {
      // Few matches: all of them from the GIN index (a materialized CTE: never an ordered walk that filters
      // row by row), their keys sorted, then the page's columns read for its rows only. The keys name the
      // project; a project_id condition beside them could only tempt the planner into ANDing its whole range.
      const found = `SELECT c.seq, c.created, c.id FROM completions c WHERE true${searchConditions(match, 'c', add, true)}
        ${checks(filters, 'c.project_id', 'c.created', 'c.id')}${bounds('c.created', 'c.id', projectId, params, add)}`;
      const walked: WalkedIndex = { table: 'completion_search', args: words! };
      if (searchInStoredOrder) {
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

    const order = (created: string, id: string) => ` ORDER BY ${created} ${direction}, ${id} ${direction}`;
    /**
     * The walked index's rows: with a search, at most searchWalkLimit of them (a subquery that the
     * page's LIMIT stops early), so a word rare where the walk goes never walks the whole index.
     */
    const walkedRows = (table: string, alias: string, where: string, created: string, id: string): [from: string, where: string] =>
      match
        ? [`(SELECT * FROM ${table} ${alias} WHERE ${where}${order(created, id)} LIMIT ${limitLiteral(searchWalkLimit)}) AS ${alias}`, 'true']
        : [`${table} ${alias}`, where];
    let sql: string;
    let walked: WalkedIndex;
    let source: WalkSource = COMPLETIONS_WALK;
    let position: [created: string, id: string];
    let branches: WalkedIndex[] | undefined;
    if (filters.length === 0) {
      walked = { table: 'completions', args: [] };
      position = ['c.created', 'c.id'];
      const [from, where] = walkedRows('completions', 'c', `c.project_id = ${add(projectId)}${bounds(...position, projectId, params, add)}`, ...position);
      sql = `SELECT ${columns} FROM ${from} WHERE ${where}`;
    } else if (filters.length > 1 && !match) {
      // Several filters, no search: one walk per filter, each a member of an ordered UNION ALL that only runs
      // when walk_choice names it (a one-time filter), so the rarest is walked and the page is one statement.
      const walks = filters.map((walkedFilter, i) => {
        const others = filters.filter((other) => other !== walkedFilter);
        return `(SELECT w.project_id, w.created, w.completion_id FROM ${walkedFilter.table} w
          WHERE w.project_id = ${add(projectId)}${matches(walkedFilter, 'w', add)}${bounds('w.created', 'w.completion_id', projectId, params, add)}
          AND (SELECT i FROM walk_choice) = ${i}${checks(others, 'w.project_id', 'w.created', 'w.completion_id')}
          ${order('w.created', 'w.completion_id')} LIMIT ${limitLiteral(params.limit + 1)})`;
      });
      walked = { table: filters[0]!.table, args: filters[0]!.args };
      branches = filters.map((filter) => ({ table: filter.table, args: filter.args }));
      position = ['w.created', 'w.completion_id'];
      sql = `${walkChoiceSql(projectId, filters, params, add)}
        SELECT ${columns} FROM (${walks.join(' UNION ALL ')}) AS w JOIN completions c ON c.project_id = w.project_id AND c.id = w.completion_id`;
    } else {
      const reaches = filters.length < 2 ? [] : await Promise.all(filters.map((f) => findReach(projectId, f, params, params.limit + 1)));
      const [first, ...checked] = rankByReach(filters, reaches, params.order) as [ListFilter, ...ListFilter[]];
      walked = { table: first.table, args: first.args };
      source = first;
      position = ['w.created', 'w.completion_id'];
      const walk = `w.project_id = ${add(projectId)}${matches(first, 'w', add)}${bounds(...position, projectId, params, add)}`;
      // The walked index is the outer loop of a nested loop, so rows come out in its order; each
      // completion is then one lookup in its unique (project_id, id) index.
      const [from, where] = walkedRows(first.table, 'w', walk, ...position);
      sql = `SELECT ${columns} FROM ${from} JOIN completions c ON c.project_id = w.project_id AND c.id = w.completion_id
        WHERE ${where}${checks(checked, 'w.project_id', 'w.created', 'w.completion_id')}`;
    }
    // Many matches: the walk goes in list order, each walked row's own keys checked.
    if (match) sql += searchConditions(match, 'c', add, false);
    sql += `${order(...position)} LIMIT ${limitLiteral(params.limit + 1)}`;
    const wasWalkCut = match ? async () => (await findReach(projectId, source, params, searchWalkLimit + 1)) !== undefined : undefined;
    return { sql, args, walked, ...(branches ? { branches } : {}), ...(wasWalkCut ? { wasWalkCut, customPlan: true } : {}) };
  }

  return { buildListQuery, findPosition, checkCursor };
}
