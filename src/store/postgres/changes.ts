import { parseStoredMetadata } from '../../key-order.ts';
import type { Metadata } from '../../validation.ts';
import type { Store } from '../contract.ts';
import { applyMetadataChange, type MetadataChange, type MetadataChangeResult } from '../metadata-change.ts';
import { HELD_POSITION as HELD } from './list-sql.ts';
import { type PostgresParts, projectHolding } from './parts.ts';
import { completionRow } from './reads.ts';
import { isStorableId, limitLiteral } from './text.ts';
import { createRowWrites, POSITION_COLUMNS, type StoredPosition } from './writes.ts';

type Changes = Pick<Store, 'updateMetadata' | 'changeMetadata' | 'deleteCompletion' | 'deleteExpired' | 'purgeTombstones'>;

/** What changes a stored completion: its metadata, a delete, retention's sweeps. Each is one transaction. */
export function createCompletionChanges({ db, projects }: PostgresParts): Changes {
  /**
   * Each map read and rewritten in one transaction holding the rows (FOR UPDATE): a change another instance makes to
   * one of them meanwhile waits for this one's commit, then reads the map as this one left it (read committed reads
   * a locked row again once its lock is free). Locked in id order, so two requests naming the same completions in any
   * order wait for each other rather than deadlock.
   */
  function changeMetadataOf(projectId: number, ids: string[], change: MetadataChange): Promise<Map<string, MetadataChangeResult>> {
    return db.transaction(async (tx) => {
      const stored = await tx.query<{ id: string; created: number; metadata: string }>(
        'SELECT id, created, metadata FROM completions WHERE project_id = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE',
        [projectId, ids],
      );
      const results = new Map<string, MetadataChangeResult>();
      const writes: { id: string; created: number; metadata: string; replacement: Metadata }[] = [];
      for (const row of stored) {
        const previous = parseStoredMetadata(row.metadata);
        const { outcome, metadata } = applyMetadataChange(previous, change);
        if (outcome === 'updated') writes.push({ ...row, replacement: metadata });
        results.set(row.id, { id: row.id, outcome, metadata, previous });
      }
      await createRowWrites(tx).replaceMetadata(projectId, writes);
      return results;
    });
  }

  return {
    updateMetadata: async (project, id, metadata) => {
      const projectId = await projectHolding(projects, project, id);
      if (projectId === undefined) return undefined;
      return db.transaction(async (tx) => {
        // FOR UPDATE: two instances updating one completion at once apply one map after the other, never a mix.
        const [position] = await tx.query<{ created: number; metadata: string }>(
          'SELECT created, metadata FROM completions WHERE project_id = $1 AND id = $2 FOR UPDATE',
          [projectId, id],
        );
        if (!position) return undefined;
        await createRowWrites(tx).replaceMetadata(projectId, [{ id, ...position, replacement: metadata }]);
        return completionRow(tx, projectId, id);
      });
    },
    changeMetadata: async (project, ids, change) => {
      const projectId = await projects.find(project);
      const storable = ids.filter(isStorableId);
      const found = projectId === undefined || storable.length === 0 ? new Map<string, MetadataChangeResult>() : await changeMetadataOf(projectId, storable, change);
      return ids.map((id) => found.get(id) ?? { id, outcome: 'not_found' });
    },
    deleteCompletion: async (project, id) => {
      const projectId = await projectHolding(projects, project, id);
      if (projectId === undefined) return false;
      return db.transaction(async (tx) => {
        const [row] = await tx.query<StoredPosition>(
          `SELECT ${POSITION_COLUMNS} FROM completions WHERE project_id = $1 AND id = $2 FOR UPDATE`,
          [projectId, id],
        );
        if (!row) return false;
        await createRowWrites(tx).removeCompletions([row]);
        // Kept for good (expired_at 0), as on SQLite. A stream's hold of the id (one that found it stored and is about
        // to let go) gives way to it: left as a hold, its release would take the tombstone with it.
        await tx.query(
          `INSERT INTO deleted_completions (project_id, id, created) VALUES ($1, $2, $3)
           ON CONFLICT (project_id, id) DO UPDATE SET created = excluded.created, expired_at = excluded.expired_at WHERE deleted_completions.created = ${HELD}`,
          [projectId, id, row.created],
        );
        return true;
      });
    },
    // Tombstones as a delete leaves them (SQLite's deleteExpired says why). SKIP LOCKED: instances
    // sweeping at the same time take different rows.
    deleteExpired: async (storedBefore, batchSize, now) =>
      db.transaction(async (tx) => {
        const expired = await tx.query<StoredPosition>(
          `SELECT ${POSITION_COLUMNS} FROM completions WHERE stored_at < $1 ORDER BY stored_at LIMIT ${limitLiteral(batchSize)} FOR UPDATE SKIP LOCKED`,
          [storedBefore],
        );
        if (expired.length === 0) return 0;
        await createRowWrites(tx).removeCompletions(expired);
        await tx.query(
          `INSERT INTO deleted_completions (project_id, id, created, expired_at) SELECT *, $4::int8 FROM unnest($1::int[], $2::text[], $3::int8[])
           ON CONFLICT (project_id, id) DO UPDATE SET created = excluded.created, expired_at = excluded.expired_at WHERE deleted_completions.created = ${HELD}`,
          [expired.map((row) => row.projectId), expired.map((row) => row.id), expired.map((row) => row.created), now],
        );
        return expired.length;
      }),
    // Only tombstones retention made (expired_at > 0, the partial index's condition), as on SQLite.
    purgeTombstones: async (expiredBefore, batchSize) =>
      (
        await db.query(
          `DELETE FROM deleted_completions d USING (SELECT project_id, id FROM deleted_completions WHERE expired_at > 0 AND expired_at < $1
             ORDER BY expired_at LIMIT ${limitLiteral(batchSize)} FOR UPDATE SKIP LOCKED) old
           WHERE d.project_id = old.project_id AND d.id = old.id RETURNING 1`,
          [expiredBefore],
        )
      ).length,
  };
}
