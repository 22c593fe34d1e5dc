import type { PageParams } from '../../validation.ts';
import type { CompletionRow, MessageRow, Page, Store } from '../contract.ts';
import { STORED_SIZE_SQL } from '../text-size.ts';
import { COMPLETION_COLUMNS } from './list-query.ts';
import { listMessagePage } from './messages.ts';
import { isIdTaken, type SqliteParts } from './parts.ts';
import { messageSql } from './stored-json.ts';
import { createUsageQueries } from './usage.ts';

type Reads = Pick<Store, 'getCompletion' | 'listCompletionsOf' | 'completionSizesOf' | 'listMessages' | 'listMessagesOf' | 'isIdTaken' | 'summarizeUsage'>;

/** One completion's row, read at once (no promise: the retrieve route answers in the turn it reads). */
export function completionRow({ prepare, projects }: Pick<SqliteParts, 'prepare' | 'projects'>, project: string, id: string): CompletionRow | undefined {
  const projectId = projects.find(project);
  if (projectId === undefined) return undefined;
  return prepare(`SELECT ${COMPLETION_COLUMNS} FROM completions c WHERE c.project_id = ? AND c.id = ?`).get(projectId, id) as CompletionRow | undefined;
}

/** The store's reads besides list pages: a completion (answered without a promise), the named completions, messages, usage. */
export function createCompletionReads(parts: SqliteParts, usageWalkLimit?: number): Reads {
  const { db, prepare, projects, lists } = parts;
  const usage = createUsageQueries(prepare, lists, usageWalkLimit);

  /** `columns` of each named completion the project has: one statement whatever the number of ids (one JSON array). */
  function rowsOf<Row>(project: string, ids: string[], columns: string): Row[] {
    const projectId = projects.find(project);
    if (projectId === undefined || ids.length === 0) return [];
    return prepare(`SELECT ${columns} FROM completions c WHERE c.project_id = ? AND c.id IN (SELECT value FROM json_each(?))`).all(
      projectId,
      JSON.stringify(ids),
    ) as Row[];
  }

  function listMessagesOf(project: string, completionIds: string[]): Map<string, MessageRow[]> {
    const messages = new Map<string, MessageRow[]>();
    const projectId = projects.find(project);
    if (projectId === undefined || completionIds.length === 0) return messages;
    // One statement whatever the number of ids: they arrive as one JSON array.
    const found = prepare(
      `SELECT c.id AS completionId, m.idx, ${messageSql('m.body')} AS body FROM completions c LEFT JOIN input_messages m ON m.completion_seq = c.seq
       WHERE c.project_id = ? AND c.id IN (SELECT value FROM json_each(?)) ORDER BY c.seq, m.idx`,
    ).all(projectId, JSON.stringify(completionIds)) as (MessageRow & { completionId: string })[];
    for (const { completionId, idx, body } of found) {
      let list = messages.get(completionId);
      if (!list) messages.set(completionId, (list = []));
      // A completion without input messages: its row, with none joined.
      if (idx !== null) list.push({ idx, body });
    }
    return messages;
  }

  /**
   * A messages page is up to three reads (the completion, the cursor's message, the page): one read
   * transaction makes them one snapshot, so another process deleting the completion between them
   * cannot turn a valid cursor into a 400 or the page into an empty one instead of the 404.
   */
  const listMessages = db.transaction((project: string, completionId: string, params: PageParams): Page<MessageRow> | undefined => {
    const projectId = projects.find(project);
    if (projectId === undefined) return undefined;
    const completion = prepare('SELECT seq FROM completions WHERE project_id = ? AND id = ?').get(projectId, completionId) as
      | { seq: number }
      | undefined;
    return completion && listMessagePage(prepare, completion.seq, completionId, params);
  });

  return {
    getCompletion: (project, id) => completionRow(parts, project, id),
    listCompletionsOf: async (project, ids) => new Map(rowsOf<CompletionRow>(project, ids, COMPLETION_COLUMNS).map((row) => [row.id, row])),
    completionSizesOf: async (project, ids) =>
      new Map(rowsOf<{ id: string; size: number }>(project, ids, `c.id, ${STORED_SIZE_SQL} AS size`).map(({ id, size }) => [id, size])),
    listMessages: async (project, completionId, params) => listMessages(project, completionId, params),
    listMessagesOf: async (project, completionIds) => listMessagesOf(project, completionIds),
    isIdTaken: async (project, id) => isIdTaken(parts, project, id),
    summarizeUsage: async (project, filters) => usage.summarize(projects.find(project), filters),
  };
}
