import type { SqlSession } from '../../db/sql-client.ts';
import type { ListParams } from '../../validation.ts';
import { toCompletionListJson } from '../../wire.ts';
import type { CompletionRow, Store } from '../contract.ts';
import { pageOf } from '../page-of.ts';
import { STORED_SIZE_SQL } from '../text-size.ts';
import { COMPLETION_COLUMNS, runListQuery } from './list-query.ts';
import { listMessagePage } from './messages.ts';
import { type PostgresParts, projectHolding } from './parts.ts';
import { isStorableId } from './text.ts';
import { createUsageQueries } from './usage.ts';

type Reads = Pick<
  Store,
  | 'getCompletion'
  | 'listCompletions'
  | 'listCompletionSizes'
  | 'listCompletionsOf'
  | 'completionSizesOf'
  | 'listCompletionsJson'
  | 'summarizeUsage'
  | 'listMessages'
  | 'isIdTaken'
>;

/** One completion's row, read in `session` (a transaction's, to read what it just wrote). */
export async function completionRow(session: SqlSession, projectId: number, id: string): Promise<CompletionRow | undefined> {
  const [row] = await session.query<CompletionRow>(`SELECT ${COMPLETION_COLUMNS} FROM completions c WHERE c.project_id = $1 AND c.id = $2`, [
    projectId,
    id,
  ]);
  return row;
}

/** The store's reads: a completion, list pages, the named completions, messages, usage. */
export function createCompletionReads({ db, projects, lists }: PostgresParts, usageWalkLimit?: number): Reads {
  const summarizeUsage = createUsageQueries(db, lists, usageWalkLimit);

  /**
   * One statement a page (the cursor's position is read inside it), each row `columns`; an empty page with a
   * cursor also checks the cursor exists. One row more than the page's limit when there is more.
   */
  async function listRows<Row>(project: string, params: ListParams, columns?: string): Promise<Row[]> {
    const projectId = await projects.find(project);
    const query = await lists.buildListQuery(projectId, params, { columns });
    let rows = query ? await runListQuery<Row>(db, query, query.sql, query.args) : [];
    if (query?.wasWalkCut && rows.length <= params.limit && (await query.wasWalkCut())) {
      // The search's walk was cut before the page filled: the words are rare there after all, so sort their matches.
      const sorted = (await lists.buildListQuery(projectId, params, { columns, sortSearchMatches: true }))!;
      rows = await runListQuery<Row>(db, sorted, sorted.sql, sorted.args);
    }
    if (rows.length === 0) await lists.checkCursor(projectId, params.after);
    return rows;
  }

  const listCompletions = async (project: string, params: ListParams) => pageOf(await listRows<CompletionRow>(project, params), params.limit);

  /** `columns` of each named completion the project has. */
  async function rowsOf<Row>(project: string, ids: string[], columns: string): Promise<Row[]> {
    const projectId = await projects.find(project);
    const storable = ids.filter(isStorableId);
    if (projectId === undefined || storable.length === 0) return [];
    return db.query<Row>(`SELECT ${columns} FROM completions c WHERE c.project_id = $1 AND c.id = ANY($2::text[])`, [projectId, storable]);
  }

  // Sizes are a bigint's sum: a string from the driver.
  const SIZED_COLUMNS = `c.id, ${STORED_SIZE_SQL} AS size`;

  return {
    getCompletion: async (project, id) => {
      const projectId = await projectHolding(projects, project, id);
      return projectId === undefined ? undefined : completionRow(db, projectId, id);
    },
    listCompletions,
    listCompletionSizes: async (project, params) => {
      const { items, hasMore } = pageOf(await listRows<{ id: string; size: string }>(project, params, SIZED_COLUMNS), params.limit);
      return { items: items.map(({ id, size }) => ({ id, size: Number(size) })), hasMore };
    },
    listCompletionsOf: async (project, ids) => new Map((await rowsOf<CompletionRow>(project, ids, COMPLETION_COLUMNS)).map((row) => [row.id, row])),
    completionSizesOf: async (project, ids) =>
      new Map((await rowsOf<{ id: string; size: string }>(project, ids, SIZED_COLUMNS)).map(({ id, size }) => [id, Number(size)])),
    // Rows come as JavaScript strings from node-postgres anyway: serialized here as the other endpoints serialize them.
    listCompletionsJson: async (project, params) => toCompletionListJson(await listCompletions(project, params)),
    summarizeUsage: async (project, filters) => summarizeUsage(await projects.find(project), filters),
    listMessages: async (project, completionId, params) => {
      const projectId = await projectHolding(projects, project, completionId);
      return projectId === undefined ? undefined : listMessagePage(db, projectId, completionId, params);
    },
    isIdTaken: async (project, id) => {
      const projectId = await projectHolding(projects, project, id);
      return projectId !== undefined && (await lists.findPosition(projectId, id)) !== undefined;
    },
  };
}
