import type { CompletionRecord, Store } from '../contract.ts';
import { isIdTaken, type SqliteParts } from './parts.ts';
import { mergeSearchIndexAfter } from './search-merge.ts';

type Saves = Pick<
  Store,
  | 'saveCompletion'
  | 'saveCompletions'
  | 'saveCompletionBatch'
  | 'importCompletions'
  | 'settleSearchIndex'
  | 'holdStreamId'
  | 'releaseStreamId'
  | 'saveHeldCompletion'
>;

/** Stored creates (plain, batched and streamed) and imports: each call one IMMEDIATE transaction. */
export function createCompletionSaves(parts: SqliteParts): Saves {
  const { db, prepare, immediate, projects, rows, lists, checkpoints } = parts;

  // Calls the unwrapped inserts: a nested transaction would cost a SAVEPOINT and RELEASE per completion.
  const saveMany = immediate(
    db.transaction((writes: [projectId: number, record: CompletionRecord][]) => {
      const inserts = rows.startInserts();
      for (const [projectId, record] of writes) inserts.insert(projectId, record);
      inserts.finish();
    }),
  );

  // IMMEDIATE like every write here: the check of taken ids and the inserts happen under the write lock.
  const importMany = immediate(db.transaction((projectId: number, records: CompletionRecord[]): { stored: number; skipped: string[] } => {
    const skipped: string[] = [];
    const seen = new Set<string>();
    const inserts = rows.startInserts();
    for (const record of records) {
      if (seen.has(record.id) || lists.findPosition(projectId, record.id) !== undefined) {
        skipped.push(record.id);
        continue;
      }
      seen.add(record.id);
      inserts.insert(projectId, record);
    }
    inserts.finish();
    return { stored: records.length - skipped.length, skipped };
  }));

  async function saveCompletion(project: string, record: CompletionRecord): Promise<void> {
    await checkpoints?.beforeWrite();
    await saveMany([[await projects.ensure(project), record]]);
  }

  /** Each write's project as its id, new projects committed first (createProjectIds). */
  async function withProjectIds(writes: readonly (readonly [string, CompletionRecord])[]): Promise<[number, CompletionRecord][]> {
    const ids: [number, CompletionRecord][] = [];
    for (const [project, record] of writes) ids.push([await projects.ensure(project), record]);
    return ids;
  }

  return {
    saveCompletion,
    saveCompletions: async (project, records) => {
      const projectId = await projects.ensure(project);
      await saveMany(records.map((record) => [projectId, record]));
    },
    saveCompletionBatch: async (writes) => {
      await checkpoints?.beforeWrite();
      await saveMany(await withProjectIds(writes));
    },
    importCompletions: async (project, records) => importMany(await projects.ensure(project), records),
    settleSearchIndex: (written) => mergeSearchIndexAfter(db, prepare, written),
    // One service serves a SQLite file: the allocator's own memory holds a stream's id (completion-ids.ts).
    holdStreamId: async (project, id) => (isIdTaken(parts, project, id) ? 'taken' : 'free'),
    releaseStreamId: async () => {},
    saveHeldCompletion: async (project, record) => saveCompletion(project, record),
  };
}
