import type { ListParams } from '../../validation.ts';
import type { SearchMatch } from './search-tokens.ts';
import { filterText, limitLiteral } from './text.ts';

/**
 * The pieces of SQL a PostgreSQL list statement is written from (list-query.ts puts them together): the filters'
 * conditions, the created range and cursor, and where an index's walk would reach. None touches the database.
 */

/** A filter the list can walk in (created, id) order, or check for one row. */
export interface ListFilter {
  table: 'metadata' | 'completion_models';
  columns: string[];
  args: string[];
}

/** An index the list walks: a filter's, or (no filter) the completions' own (created, id) index. */
export type WalkSource = ListFilter | { table: 'completions'; columns: []; args: [] };

export const COMPLETIONS_WALK: WalkSource = { table: 'completions', columns: [], args: [] };

/** Numbered placeholders: `add(value)` returns `$n` for it. */
export function placeholders(args: unknown[]) {
  return (value: unknown): string => {
    args.push(value);
    return `$${args.length}`;
  };
}

/** `alias.column = $n AND ...` for a filter's columns. */
export function matches(filter: WalkSource, alias: string, add: (value: unknown) => string): string {
  return filter.columns.map((column, i) => ` AND ${alias}.${column} = ${add(filter.args[i])}`).join('');
}

/**
 * The search as conditions on a completions row `alias`: every key in its keys, every phrase in
 * its token text. `indexed` lets the planner answer the keys from the GIN index; otherwise the
 * check is written so it cannot (`IS TRUE`), and stays a probe of each walked row.
 */
export function searchConditions(match: SearchMatch, alias: string, add: (value: unknown) => string, indexed: boolean): string {
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
 * The conditions on a walked index's (created, id) columns: the created range and the position
 * after the cursor (read in a subquery; NULL, so no row, for an unknown cursor).
 */
export function bounds(created: string, id: string, projectId: number, params: ListParams, add: (value: unknown) => string): string {
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
export function reachSql(projectId: number, source: WalkSource, params: ListParams, reach: number, add: (value: unknown) => string): string {
  const direction = params.order === 'asc' ? 'ASC' : 'DESC';
  const id = source.table === 'completions' ? 'id' : 'completion_id';
  return `SELECT f.created, f.${id} AS id FROM ${source.table} f WHERE f.project_id = ${add(projectId)}${matches(source, 'f', add)}
    ${bounds('f.created', `f.${id}`, projectId, params, add)}
    ORDER BY f.created ${direction}, f.${id} ${direction} LIMIT 1 OFFSET ${limitLiteral(reach - 1)}`;
}

/**
 * A CTE `walk_choice` whose one row names (0-based) the filter to walk: rankByReach's choice,
 * taken inside the page's statement so that a page with several filters is one round trip.
 * Each filter's reach is `limit + 1` index steps; the rarest where the page is has its reach
 * farthest along the walk (or none: fewer entries left), ties going to the one named first.
 */
export function walkChoiceSql(projectId: number, filters: ListFilter[], params: ListParams, add: (value: unknown) => string): string {
  const reaches = filters.map(
    (filter, i) => `SELECT ${i} AS i, r.created, r.id FROM (SELECT) AS one
      LEFT JOIN LATERAL (${reachSql(projectId, filter, params, params.limit + 1, add)}) AS r ON true`,
  );
  const farthest = params.order === 'asc' ? 'DESC' : 'ASC';
  return `WITH walk_choice AS MATERIALIZED (SELECT r.i FROM (${reaches.join(' UNION ALL ')}) AS r
    ORDER BY r.created IS NULL DESC, r.created ${farthest}, r.id ${farthest}, r.i LIMIT 1)`;
}

/** The list's filters, each walkable by its index: the metadata pairs (AND), then the model. */
export function filtersOf(params: Pick<ListParams, 'metadata' | 'model'>): ListFilter[] {
  const filters: ListFilter[] = params.metadata.map(([k, v]) => ({ table: 'metadata', columns: ['key', 'value'], args: [filterText(k), filterText(v)] }));
  if (params.model !== undefined) filters.push({ table: 'completion_models', columns: ['model'], args: [filterText(params.model)] });
  return filters;
}

/** Checks each row against filters it does not walk: a correlated point lookup each (an EXISTS may be planned as a hash semi-join). */
export function filterChecks(checked: ListFilter[], project: string, created: string, id: string, add: (value: unknown) => string): string {
  return checked
    .map(
      (filter) => ` AND (SELECT true FROM ${filter.table} x WHERE x.project_id = ${project}${matches(filter, 'x', add)}
      AND x.created = ${created} AND x.completion_id = ${id} LIMIT 1)`,
    )
    .join('');
}
