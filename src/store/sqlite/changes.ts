import { parseStoredMetadata } from '../../key-order.ts';
import type { Metadata } from '../../validation.ts';
import type { CompletionRow, Store } from '../contract.ts';
import { applyMetadataChange, type MetadataChange, type MetadataChangeResult } from '../metadata-change.ts';
import type { SqliteParts } from './parts.ts';
import { completionRow } from './reads.ts';
import { LIMIT_PARAMETER } from './statements.ts';
import { POSITION_COLUMNS, type StoredPosition } from './writes.ts';

type Changes = Pick<Store, 'updateMetadata' | 'changeMetadata' | 'deleteCompletion' | 'deleteExpired' | 'purgeTombstones'>;

/** What changes a stored completion: its metadata, a delete, retention's sweeps. Each is one IMMEDIATE transaction. */
export function createCompletionChanges(parts: SqliteParts): Changes {
  const { db, prepare, immediate, projects, rows } = parts;

  const storedMetadata = (projectId: number, id: string) =>
    prepare('SELECT created, metadata FROM completions WHERE project_id = ? AND id = ?').get(projectId, id) as
      | { created: number; metadata: string }
      | undefined;

  const updateMetadata = immediate(db.transaction((project: string, id: string, metadata: Metadata): CompletionRow | undefined => {
    const projectId = projects.find(project);
    if (projectId === undefined) return undefined;
    const position = storedMetadata(projectId, id);
    if (!position) return undefined;
    rows.replaceMetadata(projectId, id, position, metadata);
    return completionRow(parts, project, id);
  }));

  // One IMMEDIATE transaction: each map is read under the write lock, so no other process writes between the read and the write.
  const changeMetadata = immediate(db.transaction((project: string, ids: string[], change: MetadataChange): MetadataChangeResult[] => {
    const projectId = projects.find(project);
    return ids.map((id): MetadataChangeResult => {
      const position = projectId === undefined ? undefined : storedMetadata(projectId, id);
      if (!position) return { id, outcome: 'not_found' };
      const previous = parseStoredMetadata(position.metadata);
      const { outcome, metadata } = applyMetadataChange(previous, change);
      if (outcome === 'updated') rows.replaceMetadata(projectId!, id, position, metadata);
      return { id, outcome, metadata, previous };
    });
  }));

  const deleteCompletion = immediate(db.transaction((project: string, id: string): boolean => {
    const projectId = projects.find(project);
    if (projectId === undefined) return false;
    const row = prepare(`SELECT ${POSITION_COLUMNS} FROM completions WHERE project_id = ? AND id = ?`).get(projectId, id) as
      | StoredPosition
      | undefined;
    if (!row) return false;
    rows.removeCompletion(row);
    // Kept for good (expired_at 0): a mirror or an import must never bring back what a user deleted.
    prepare('INSERT OR IGNORE INTO deleted_completions (project_id, id, created) VALUES (?, ?, ?)').run(projectId, id, row.created);
    return true;
  }));

  // Each expired completion leaves a tombstone, as a delete does: an `after` cursor naming it keeps
  // paging (an oldest-first walk meets the sweep at its very cursor) and a provider that reuses its id
  // gets a fresh one. A tombstone is its id and position, about 100 bytes against the kilobytes freed,
  // until purgeTombstones lets it go a window after it expired.
  const deleteExpired = immediate(db.transaction((storedBefore: number, batchSize: number, now: number): number => {
    const expired = prepare(`SELECT ${POSITION_COLUMNS} FROM completions WHERE stored_at < ? ORDER BY stored_at ${LIMIT_PARAMETER}`).all(
      storedBefore,
      batchSize,
    ) as StoredPosition[];
    const tombstone = prepare('INSERT OR IGNORE INTO deleted_completions (project_id, id, created, expired_at) VALUES (?, ?, ?, ?)');
    for (const row of expired) {
      rows.removeCompletion(row);
      tombstone.run(row.projectId, row.id, row.created, now);
    }
    return expired.length;
  }));

  // Only tombstones retention made (expired_at > 0, the partial index's own condition): every other is kept for good.
  const purgeTombstones = immediate(
    db.transaction(
      (expiredBefore: number, batchSize: number): number =>
        prepare(
          `DELETE FROM deleted_completions WHERE rowid IN
             (SELECT rowid FROM deleted_completions WHERE expired_at > 0 AND expired_at < ? ORDER BY expired_at ${LIMIT_PARAMETER})`,
        ).run(expiredBefore, batchSize).changes,
    ),
  );

  return { updateMetadata, changeMetadata, deleteCompletion, deleteExpired, purgeTombstones };
}
