import type { ListParams, SortOrder } from '../../validation.ts';
import type { WalkedIndex } from '../contract.ts';
import { badCursor, type ListQuery, rankByReach, type Position } from '../list-ranking.ts';
import type { Prepare } from './statements.ts';

/** A filter the list can walk in (created, id) order, or check for one row. */
interface ListFilter {
  table: 'metadata' | 'completion_models';
  where: string;
  args: string[];
}

// The ordered subquery feeds group_concat in the choices' primary-key order; `group_concat(... ORDER BY idx)`
// would build and sort a temporary b-tree for every row of the page instead.
export const COMPLETION_COLUMNS = `c.id, c.body, c.metadata,
  (SELECT group_concat(body, ',') FROM (SELECT ch.body FROM choices ch WHERE ch.completion_seq = c.seq ORDER BY ch.idx)) AS choices`;

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
export function createListQueries(prepare: Prepare) {
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
    if (created === undefined) throw badCursor(after);
    return { created, id: after };
  }

  /**
   * Where the filter's `reach`-th entry after the cursor lies in walk order;
   * undefined when fewer entries are left. Of several filters, the one whose
   * entry lies farthest is the rarest where the page is, so walking it touches
   * the fewest entries. Costs `reach` index steps, whatever the table's size
   * (a count would have to be capped, and two capped counts tell nothing).
   */
  function findReach(projectId: number, filter: ListFilter, cursor: Position | undefined, order: SortOrder, reach: number) {
    const direction = order === 'asc' ? 'ASC' : 'DESC';
    const after = cursor ? ` AND (created, completion_id) ${order === 'asc' ? '>' : '<'} (?, ?)` : '';
    return prepare(
      `SELECT created, completion_id AS id FROM ${filter.table} WHERE project_id = ? AND ${filter.where}${after}
       ORDER BY created ${direction}, completion_id ${direction} LIMIT 1 OFFSET ?`,
    ).get(projectId, ...filter.args, ...(cursor ? [cursor.created, cursor.id] : []), reach - 1) as Position | undefined;
  }

  /** The SQL and arguments of a list page, and the index it walks; undefined when the project has stored nothing yet. */
  function buildListQuery(projectId: number | undefined, params: ListParams): ListQuery | undefined {
    const cursor = resolveCursor(projectId, params.after);
    if (projectId === undefined) return undefined;

    const filters: ListFilter[] = params.metadata.map(([k, v]) => metadataFilter(k, v));
    if (params.model !== undefined) filters.push(modelFilter(params.model));
    const direction = params.order === 'asc' ? 'ASC' : 'DESC';
    const comparison = params.order === 'asc' ? '>' : '<';
    const args: unknown[] = [];
    let sql: string;
    let walked: WalkedIndex;

    if (filters.length === 0) {
      walked = { table: 'completions', args: [] };
      sql = `SELECT ${COMPLETION_COLUMNS} FROM completions c WHERE c.project_id = ?`;
      args.push(projectId);
      if (cursor) {
        sql += ` AND (c.created, c.id) ${comparison} (?, ?)`;
        args.push(cursor.created, cursor.id);
      }
      sql += ` ORDER BY c.created ${direction}, c.id ${direction} LIMIT ?`;
    } else {
      const reaches = filters.length < 2 ? [] : filters.map((f) => findReach(projectId, f, cursor, params.order, params.limit + 1));
      const [first, ...checked] = rankByReach(filters, reaches, params.order) as [
        ListFilter,
        ...ListFilter[],
      ];
      walked = { table: first.table, args: first.args };
      // CROSS JOIN pins the walked index as the outer loop, so rows come out in its order.
      sql = `SELECT ${COMPLETION_COLUMNS} FROM ${first.table} w
        CROSS JOIN completions c ON c.project_id = w.project_id AND c.id = w.completion_id
        WHERE w.project_id = ? AND ${qualify(first.where, 'w')}`;
      args.push(projectId, ...first.args);
      for (const filter of checked) {
        sql += ` AND EXISTS (SELECT 1 FROM ${filter.table} x WHERE x.project_id = w.project_id AND ${qualify(filter.where, 'x')}
          AND x.created = w.created AND x.completion_id = w.completion_id)`;
        args.push(...filter.args);
      }
      if (cursor) {
        sql += ` AND (w.created, w.completion_id) ${comparison} (?, ?)`;
        args.push(cursor.created, cursor.id);
      }
      sql += ` ORDER BY w.created ${direction}, w.completion_id ${direction} LIMIT ?`;
    }
    args.push(params.limit + 1);
    return { sql, args, walked };
  }

  return { buildListQuery, findPosition };
}
