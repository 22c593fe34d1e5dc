import type Database from 'better-sqlite3';
import type { ListParams } from '../../validation.ts';
import type { CompletionListJson, CompletionRow, Store } from '../contract.ts';
import { pageOf } from '../page-of.ts';
import { STORED_SIZE_SQL } from '../text-size.ts';
import { COMPLETION_COLUMNS, PAGE_ITEM_COLUMNS, pageSql } from './list-query.ts';
import type { SqliteParts } from './parts.ts';

const EMPTY_ITEMS = Buffer.alloc(0);

type ListPages = Pick<Store, 'listCompletions' | 'listCompletionSizes' | 'listCompletionsJson' | 'explainList'>;

/** The list's pages: as rows, as sizes, and as the served JSON built by SQLite (the hot path, answered without a promise). */
export function createListPages({ db, prepare, projects, lists }: SqliteParts): ListPages {
  /**
   * Runs a page's list query (`read` turns its SQL into a result holding `count(result)` rows),
   * and once more with the search's matches sorted when the search's walk was cut before the page
   * filled (the words are rare there after all). Undefined when nothing can match.
   */
  function readList<T>(project: string, params: ListParams, columns: string, read: (sql: string, args: unknown[]) => T, count: (result: T) => number) {
    const projectId = projects.find(project);
    const query = lists.buildListQuery(projectId, params, { columns });
    if (!query) return undefined;
    const result = read(query.sql, query.args);
    if (!query.walkCut || count(result) > params.limit) return result;
    const sorted = lists.buildListQuery(projectId, params, { columns, sortSearchMatches: true })!;
    return read(sorted.sql, sorted.args);
  }

  /** Rows of `columns` for a page, one past its limit when there is more. */
  function listRows<Row>(project: string, params: ListParams, columns: string): Row[] {
    const read = (sql: string, args: unknown[]) => prepare(sql).all(...args) as Row[];
    return readList(project, params, columns, read, (rows) => rows.length) ?? [];
  }

  /**
   * Each list text's page statement, found by the list text itself: wrapping it in pageSql first
   * built, flattened and hashed a longer text at every request (about 3% of a served list's
   * instructions under callgrind) only to find the same statement.
   */
  const pageStatements = new Map<string, Database.Statement>();

  /** A page as one row (see pageSql): no row of it becomes a JavaScript object or string. */
  function readPage(sql: string, args: unknown[]) {
    let statement = pageStatements.get(sql);
    if (!statement) {
      statement = prepare(pageSql(sql));
      pageStatements.set(sql, statement);
    }
    const row = statement.get(...args) as { ids: string; items: Buffer | null; lengths: string | null };
    return { ids: JSON.parse(row.ids) as string[], items: row.items ?? EMPTY_ITEMS, lengths: row.lengths ?? '' };
  }

  function listCompletionsJson(project: string, params: ListParams): CompletionListJson {
    const page = readList(project, params, PAGE_ITEM_COLUMNS, readPage, (read) => read.ids.length);
    if (!page) return { items: EMPTY_ITEMS, count: 0, firstId: null, lastId: null, hasMore: false };
    const { ids, lengths } = page;
    let { items } = page;
    const hasMore = ids.length > params.limit;
    if (hasMore) {
      // The row read beyond the page tells there is more; it is not served: cut it and the comma before it.
      items = items.subarray(0, items.length - 1 - Number(lengths.slice(lengths.lastIndexOf(',') + 1)));
      ids.pop();
    }
    return { items, count: ids.length, firstId: ids[0] ?? null, lastId: ids.at(-1) ?? null, hasMore };
  }

  return {
    listCompletions: async (project, params) => pageOf(listRows<CompletionRow>(project, params, COMPLETION_COLUMNS), params.limit),
    listCompletionSizes: async (project, params) => pageOf(listRows<{ id: string; size: number }>(project, params, `c.id, ${STORED_SIZE_SQL} AS size`), params.limit),
    listCompletionsJson,
    explainList: async (project, params) => {
      const query = lists.buildListQuery(projects.find(project), params);
      if (!query) return { walked: undefined, steps: [] };
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...query.args) as { detail: string }[];
      return { walked: query.walked, steps: plan.map((r) => r.detail) };
    },
  };
}
