import type { CompletionRecord, MessageRow, Store } from '../contract.ts';
import { createDump } from './dump.ts';
import type { PostgresParts } from './parts.ts';
import { isStorableId } from './text.ts';
import { createRowWrites, ID_TAKEN_SQLSTATE } from './writes.ts';

type Transfers = Pick<Store, 'importCompletions' | 'settleSearchIndex' | 'listMessagesOf' | 'dump' | 'restore' | 'isEmpty' | 'holdings'>;

/** Imports and copies (the command-line tool's import, mirror and copy). */
export function createTransfers({ db, projects }: PostgresParts): Transfers {
  const dumps = createDump(db, projects);

  /**
   * Writes the records in one transaction. An id another instance deleted while the insert waited for
   * it rolls the transaction back (migration 0005's trigger); written again, its tombstone is then in
   * the statement's snapshot and the id is skipped as taken. Deletes that keep racing are unlikely
   * past a few tries: after that, the error goes to the caller.
   */
  async function importOnce(projectId: number, records: CompletionRecord[], tries = 3): Promise<(string | undefined)[]> {
    try {
      return await db.transaction((tx) => createRowWrites(tx).insertCompletions(records.map((record) => [projectId, record])));
    } catch (err) {
      if ((err as { code?: unknown }).code !== ID_TAKEN_SQLSTATE || tries <= 1) throw err;
      return importOnce(projectId, records, tries - 1);
    }
  }

  return {
    // The search index is one GIN index (its pending list bounded by gin_pending_list_limit): no segments for a bulk write to leave.
    settleSearchIndex: async () => false,
    /** Writes the completions whose ids the project never had (stored, deleted, or earlier in `records`), in one transaction. */
    importCompletions: async (project, records) => {
      const projectId = await projects.ensure(project);
      const ids = await importOnce(projectId, records);
      const skipped = records.filter((_, i) => ids[i] === undefined).map((record) => record.id);
      return { stored: records.length - skipped.length, skipped };
    },
    /** Every input message of each named completion the project has, in order ([] for one without). */
    listMessagesOf: async (project, completionIds) => {
      const messages = new Map<string, MessageRow[]>();
      const projectId = await projects.find(project);
      const ids = completionIds.filter(isStorableId);
      if (projectId === undefined || ids.length === 0) return messages;
      const rows = await db.query<MessageRow & { completionId: string }>(
        `SELECT c.id AS "completionId", m.idx, m.body FROM completions c LEFT JOIN input_messages m ON m.completion_seq = c.seq
         WHERE c.project_id = $1 AND c.id = ANY($2::text[]) ORDER BY c.seq, m.idx`,
        [projectId, ids],
      );
      for (const { completionId, idx, body } of rows) {
        let list = messages.get(completionId);
        if (!list) messages.set(completionId, (list = []));
        if (idx !== null) list.push({ idx, body });
      }
      return messages;
    },
    dump: dumps.dump,
    restore: dumps.restore,
    isEmpty: dumps.isEmpty,
    holdings: dumps.holdings,
  };
}
