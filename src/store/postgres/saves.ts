import type { SqlSession } from '../../db/sql-client.ts';
import type { CompletionRecord, Store } from '../contract.ts';
import { HELD_POSITION as HELD } from './list-sql.ts';
import type { PostgresParts } from './parts.ts';
import { isStorableId } from './text.ts';
import { createRowWrites } from './writes.ts';

type Saves = Pick<Store, 'saveCompletion' | 'saveCompletions' | 'saveCompletionBatch' | 'holdStreamId' | 'releaseStreamId' | 'saveHeldCompletion'>;

/**
 * A stream's id held against the other instances: a tombstone row at a position no completion has (`created`
 * is bounded far inside int8), which every instance's insert of that id already refuses (its own check and
 * migration 0005's trigger): a plain create elsewhere is stored under a fresh id its client learns, and another
 * stream is given a fresh id at its first chunk. Deleted with the insert that stores the stream, or on release;
 * one a crash leaves only keeps an id nothing was stored under from being used. (HELD_POSITION in list-query.ts.)
 */
const deleteHold = (session: SqlSession, projectId: number, id: string) =>
  session.query(`DELETE FROM deleted_completions WHERE project_id = $1 AND id = $2 AND created = ${HELD}`, [projectId, id]);

/** Stored creates, plain and streamed. */
export function createCompletionSaves({ db, projects }: PostgresParts): Saves {
  /**
   * All the completions or none: one INSERT statement that commits on its own, and a CompletionIdTaken
   * when the database finds one id already stored or deleted in its project (another instance may have
   * stored it a moment ago): the caller retries under a fresh id.
   */
  async function saveMany(writes: [projectId: number, record: CompletionRecord][]): Promise<void> {
    if (writes.length === 0) return;
    await createRowWrites(db).insertAllOrNone(writes);
  }

  return {
    saveCompletion: async (project, record) => saveMany([[await projects.ensure(project), record]]),
    saveCompletions: async (project, records) => {
      const projectId = await projects.ensure(project);
      await saveMany(records.map((record) => [projectId, record]));
    },
    saveCompletionBatch: async (writes) => {
      const projectIds = await Promise.all(writes.map(([project]) => projects.ensure(project)));
      await saveMany(writes.map(([, record], i) => [projectIds[i]!, record]));
    },
    holdStreamId: async (project, id) => {
      if (!isStorableId(id)) return 'taken';
      const projectId = await projects.ensure(project);
      const held = await db.query(
        `INSERT INTO deleted_completions (project_id, id, created, expired_at)
         SELECT $1::int, $2::text, ${HELD}, $3::int8 WHERE NOT EXISTS (SELECT 1 FROM completions WHERE project_id = $1::int AND id = $2::text)
         ON CONFLICT DO NOTHING RETURNING 1 AS held`,
        // Its time as `expired_at`: with retention on, one a crash left behind goes a window later (no stream lasts that long).
        [projectId, id, Math.floor(Date.now() / 1000)],
      );
      if (held.length === 0) return 'taken';
      // Committed, the hold stops every insert of the id whose trigger runs from now on; one already past its trigger
      // (or a held stream being stored) is in the unique index, where the probe waits for it (migration 0009).
      let taken: boolean;
      try {
        [{ taken }] = (await db.query<{ taken: boolean }>('SELECT completion_id_stored_or_storing($1::int, $2::text) AS taken', [projectId, id])) as [
          { taken: boolean },
        ];
      } catch (err) {
        // Not known to be free (a statement timeout behind a lock on completions, the server gone): not held either.
        await deleteHold(db, projectId, id).catch(() => {});
        throw err;
      }
      if (!taken) return 'held';
      await deleteHold(db, projectId, id);
      return 'taken';
    },
    releaseStreamId: async (project, id) => {
      const projectId = await projects.find(project);
      if (projectId !== undefined && isStorableId(id)) await deleteHold(db, projectId, id);
    },
    saveHeldCompletion: async (project, record) => {
      const projectId = await projects.ensure(project);
      await db.transaction(async (tx) => {
        await deleteHold(tx, projectId, record.id);
        await createRowWrites(tx).insertAllOrNone([[projectId, record]]);
      });
    },
  };
}
