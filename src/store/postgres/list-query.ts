import type { SqlSession } from '../../db/sql-client.ts';
import { ApiError } from '../../errors.ts';
import type { ListParams, SortOrder } from '../../validation.ts';
import type { WalkedIndex } from '../contract.ts';
import { badCursor, type ListQuery, rankByReach, type Position } from '../list-ranking.ts';
import { filterText, isStorableId } from './text.ts';

/** A filter the list can walk in (created, id) order, or check for one row. */
interface ListFilter {
  table: 'metadata' | 'completion_models';
  columns: string[];
  args: string[];
}

// ARRAY(subquery) keeps the order the primary-key index hands the choices in; an aggregate's own
// ORDER BY would sort inside every row of the page instead (PostgreSQL 15 does not skip that sort).
export const COMPLETION_COLUMNS = `c.id, c.body, c.metadata,
  array_to_string(ARRAY(SELECT ch.body FROM choices ch WHERE ch.completion_seq = c.seq ORDER BY ch.idx), ',') AS choices`;

/** `search` on PostgreSQL: full-text search is SQLite's (FTS5) for now, so it is refused, never half-answered. */
export function searchUnavailable(): ApiError {
  return ApiError.badRequest(
    "Invalid 'search': full-text search is not available when the service stores completions in PostgreSQL yet (it is with SQLite).",
    'search',
    'unsupported_parameter',
  );
}

/** Numbered placeholders: `add(value)` returns `$n` for it. */
function placeholders(args: unknown[]) {
  return (value: unknown): string => {
    args.push(value);
    return `$${args.length}`;
  };
}

/** `alias.column = $n AND ...` for a filter's columns. */
function matches(filter: ListFilter, alias: string, add: (value: unknown) => string): string {
  return filter.columns.map((column, i) => `${alias}.${column} = ${add(filter.args[i])}`).join(' AND ');
}

/**
 * Keyset list queries for PostgreSQL, built as on SQLite: with filters, the
 * rarest one's index is walked in order and the others are checked per row by
 * a point lookup, so the cost follows the page size, not the table size.
 */
export function createListQueries(db: SqlSession) {
  /** The completion's position, whether it is stored or was deleted; undefined when never stored. */
  async function findPosition(projectId: number, id: string): Promise<number | undefined> {
    const [row] = await db.query<{ created: number }>(
      `SELECT created FROM completions WHERE project_id = $1 AND id = $2
       UNION ALL SELECT created FROM deleted_completions WHERE project_id = $1 AND id = $2 LIMIT 1`,
      [projectId, id],
    );
    return row?.created;
  }

  async function resolveCursor(projectId: number | undefined, after: string | undefined): Promise<Position | undefined> {
    if (after === undefined) return undefined;
    const created = projectId === undefined || !isStorableId(after) ? undefined : await findPosition(projectId, after);
    if (created === undefined) throw badCursor(after);
    return { created, id: after };
  }

  /** Where the filter's `reach`-th entry after the cursor lies in walk order; undefined when fewer are left. */
  async function findReach(projectId: number, filter: ListFilter, cursor: Position | undefined, order: SortOrder, reach: number) {
    const direction = order === 'asc' ? 'ASC' : 'DESC';
    const args: unknown[] = [];
    const add = placeholders(args);
    let sql = `SELECT created, completion_id AS id FROM ${filter.table} f WHERE f.project_id = ${add(projectId)} AND ${matches(filter, 'f', add)}`;
    if (cursor) sql += ` AND (f.created, f.completion_id) ${order === 'asc' ? '>' : '<'} (${add(cursor.created)}, ${add(cursor.id)})`;
    sql += ` ORDER BY f.created ${direction}, f.completion_id ${direction} LIMIT 1 OFFSET ${add(reach - 1)}`;
    const [row] = await db.query<Position>(sql, args);
    return row;
  }

  /**
   * `columns` are what each row yields (the served completion by default).
   * `created_after`/`created_before` bound the walked index's own `created`, so a range is still one ordered walk.
   */
  async function buildListQuery(
    projectId: number | undefined,
    params: ListParams,
    columns = COMPLETION_COLUMNS,
  ): Promise<ListQuery | undefined> {
    if (params.search !== undefined) throw searchUnavailable();
    const cursor = await resolveCursor(projectId, params.after);
    if (projectId === undefined) return undefined;

    const filters: ListFilter[] = params.metadata.map(([k, v]) => ({
      table: 'metadata',
      columns: ['key', 'value'],
      args: [filterText(k), filterText(v)],
    }));
    if (params.model !== undefined) filters.push({ table: 'completion_models', columns: ['model'], args: [filterText(params.model)] });
    const direction = params.order === 'asc' ? 'ASC' : 'DESC';
    const comparison = params.order === 'asc' ? '>' : '<';
    const args: unknown[] = [];
    const add = placeholders(args);
    let sql: string;
    let walked: WalkedIndex;
    const range = (alias: string, add: (value: unknown) => string) =>
      (params.createdAfter === undefined ? '' : ` AND ${alias}.created >= ${add(params.createdAfter)}`) +
      (params.createdBefore === undefined ? '' : ` AND ${alias}.created < ${add(params.createdBefore)}`);

    if (filters.length === 0) {
      walked = { table: 'completions', args: [] };
      sql = `SELECT ${columns} FROM completions c WHERE c.project_id = ${add(projectId)}`;
      sql += range('c', add);
      if (cursor) sql += ` AND (c.created, c.id) ${comparison} (${add(cursor.created)}, ${add(cursor.id)})`;
      sql += ` ORDER BY c.created ${direction}, c.id ${direction}`;
    } else {
      const reaches = filters.length < 2 ? [] : await Promise.all(filters.map((f) => findReach(projectId, f, cursor, params.order, params.limit + 1)));
      const [first, ...checked] = rankByReach(filters, reaches, params.order) as [ListFilter, ...ListFilter[]];
      walked = { table: first.table, args: first.args };
      // The walked index is the outer loop of a nested loop, so rows come out in its order; each
      // completion is then one lookup in its unique (project_id, id) index.
      sql = `SELECT ${columns} FROM ${first.table} w
        JOIN completions c ON c.project_id = w.project_id AND c.id = w.completion_id
        WHERE w.project_id = ${add(projectId)} AND ${matches(first, 'w', add)}`;
      // A correlated scalar subquery stays a per-row point lookup; an EXISTS would be planned as a
      // semi-join, which may hash the other filter's every entry and then sort the page.
      for (const filter of checked) {
        sql += ` AND (SELECT true FROM ${filter.table} x WHERE x.project_id = w.project_id AND ${matches(filter, 'x', add)}
          AND x.created = w.created AND x.completion_id = w.completion_id LIMIT 1)`;
      }
      sql += range('w', add);
      if (cursor) sql += ` AND (w.created, w.completion_id) ${comparison} (${add(cursor.created)}, ${add(cursor.id)})`;
      sql += ` ORDER BY w.created ${direction}, w.completion_id ${direction}`;
    }
    sql += ` LIMIT ${add(params.limit + 1)}`;
    return { sql, args, walked };
  }

  return { buildListQuery, findPosition };
}
