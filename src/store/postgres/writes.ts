import type { SqlSession } from '../../db/sql-client.ts';
import type { Metadata } from '../../validation.ts';
import { newCompletionId } from '../../wire.ts';
import type { CompletionRecord } from '../contract.ts';
import { filterText } from './text.ts';
import type { StoredPosition } from '../stored-position.ts';

export type { StoredPosition };

export const POSITION_COLUMNS = 'seq, project_id AS "projectId", id, created, model, requested_model AS "requestedModel", metadata';

/** The record under a fresh id, its body saying so too (the key keeps its place in the JSON). */
function withFreshId(record: CompletionRecord): CompletionRecord {
  const id = newCompletionId();
  return { ...record, id, body: JSON.stringify({ ...(JSON.parse(record.body) as object), id }) };
}

/** The metadata rows of some completions as columns (project, key, value, created, completion id), for `unnest`. */
function pairColumns(rows: { projectId: number; metadata: Metadata; created: number; id: string }[]) {
  const columns: [number[], string[], string[], number[], string[]] = [[], [], [], [], []];
  for (const row of rows) {
    for (const [key, value] of Object.entries(row.metadata)) {
      columns[0].push(row.projectId);
      columns[1].push(filterText(key));
      columns[2].push(filterText(value));
      columns[3].push(row.created);
      columns[4].push(row.id);
    }
  }
  return columns;
}

/** `(project_id, id)` as one string key. */
const keyOf = (projectId: number, id: string) => `${projectId}\0${id}`;

/**
 * The row-level writes, each a few statements whatever the number of
 * completions: rows go in as arrays through `unnest`, so a group commit of 200
 * completions costs five INSERTs, not a thousand round trips. Callers wrap them
 * in a transaction; none of them opens one.
 */
export function createRowWrites(db: SqlSession) {
  async function insertPairs(rows: { projectId: number; metadata: Metadata; created: number; id: string }[]): Promise<void> {
    const columns = pairColumns(rows);
    if (columns[0].length === 0) return;
    await db.query(
      `INSERT INTO metadata (project_id, key, value, created, completion_id)
       SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::int8[], $5::text[])`,
      columns,
    );
  }

  async function deletePairs(rows: { projectId: number; metadata: string; created: number; id: string }[]): Promise<void> {
    const columns = pairColumns(rows.map((row) => ({ ...row, metadata: JSON.parse(row.metadata) as Metadata })));
    if (columns[0].length === 0) return;
    // Each pair is found through the filter index by its whole key.
    await db.query(
      `DELETE FROM metadata m USING unnest($1::int[], $2::text[], $3::text[], $4::int8[], $5::text[]) AS u(p, k, v, c, i)
       WHERE m.project_id = u.p AND m.key = u.k AND m.value = u.v AND m.created = u.c AND m.completion_id = u.i`,
      columns,
    );
  }

  /**
   * Inserts the completions and all their rows; returns the ids they were
   * stored under, in order. An id already stored or tombstoned in its project
   * (another instance took it since it was checked) is never overwritten: that
   * completion gets a fresh id, decided here inside the database's uniqueness
   * check, so no unique violation ever reaches a client. With `taken: 'skip'`
   * (imports, which must stay idempotent) it is left out instead, its id undefined.
   */
  async function insertCompletions(
    writes: [projectId: number, record: CompletionRecord][],
    taken: 'fresh-id' | 'skip' = 'fresh-id',
  ): Promise<(string | undefined)[]> {
    let pending = writes.map(([projectId, record], position) => ({ position, projectId, record }));
    const stored: { position: number; projectId: number; record: CompletionRecord; seq: number }[] = [];
    while (pending.length > 0) {
      const inserted = await db.query<{ seq: number; project_id: number; id: string }>(
        `INSERT INTO completions (project_id, id, created, model, requested_model, metadata, body, stored_at)
         SELECT u.* FROM unnest($1::int[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[])
           AS u(project_id, id, created, model, requested_model, metadata, body, stored_at)
         WHERE NOT EXISTS (SELECT 1 FROM deleted_completions d WHERE d.project_id = u.project_id AND d.id = u.id)
         ON CONFLICT (project_id, id) DO NOTHING
         RETURNING seq, project_id, id`,
        [
          pending.map((w) => w.projectId),
          pending.map((w) => w.record.id),
          pending.map((w) => w.record.created),
          pending.map((w) => filterText(w.record.model)),
          pending.map((w) => filterText(w.record.requestedModel)),
          pending.map((w) => JSON.stringify(w.record.metadata)),
          pending.map((w) => w.record.body),
          pending.map((w) => w.record.storedAt),
        ],
      );
      const seqs = new Map(inserted.map((row) => [keyOf(row.project_id, row.id), row.seq]));
      const retry: typeof pending = [];
      for (const write of pending) {
        const key = keyOf(write.projectId, write.record.id);
        const seq = seqs.get(key);
        if (seq === undefined) {
          if (taken === 'fresh-id') retry.push({ ...write, record: withFreshId(write.record) });
        } else {
          // A second write of one id in the same batch finds the key used up: it is retried under a fresh id.
          seqs.delete(key);
          stored.push({ ...write, seq });
        }
      }
      pending = retry;
    }

    const choices: [number[], number[], string[]] = [[], [], []];
    const messages: [number[], number[], string[]] = [[], [], []];
    const models: [number[], string[], number[], string[]] = [[], [], [], []];
    for (const { projectId, record, seq } of stored) {
      record.choices.forEach((body, idx) => {
        choices[0].push(seq);
        choices[1].push(idx);
        choices[2].push(body);
      });
      record.messages.forEach((body, idx) => {
        messages[0].push(seq);
        messages[1].push(idx);
        messages[2].push(body);
      });
      for (const model of record.model === record.requestedModel ? [record.model] : [record.requestedModel, record.model]) {
        models[0].push(projectId);
        models[1].push(filterText(model));
        models[2].push(record.created);
        models[3].push(record.id);
      }
    }
    if (choices[0].length > 0) {
      await db.query('INSERT INTO choices (completion_seq, idx, body) SELECT * FROM unnest($1::int8[], $2::int[], $3::text[])', choices);
    }
    if (messages[0].length > 0) {
      await db.query(
        'INSERT INTO input_messages (completion_seq, idx, body) SELECT * FROM unnest($1::int8[], $2::int[], $3::text[])',
        messages,
      );
    }
    await db.query(
      `INSERT INTO completion_models (project_id, model, created, completion_id)
       SELECT * FROM unnest($1::int[], $2::text[], $3::int8[], $4::text[])`,
      models,
    );
    await insertPairs(stored.map(({ projectId, record }) => ({ projectId, metadata: record.metadata, created: record.created, id: record.id })));
    const ids: (string | undefined)[] = writes.map(() => undefined);
    for (const { position, record } of stored) ids[position] = record.id;
    return ids;
  }

  async function replaceMetadata(projectId: number, id: string, position: { created: number; metadata: string }, metadata: Metadata) {
    await deletePairs([{ projectId, id, ...position }]);
    await insertPairs([{ projectId, id, created: position.created, metadata }]);
    await db.query('UPDATE completions SET metadata = $1 WHERE project_id = $2 AND id = $3', [JSON.stringify(metadata), projectId, id]);
  }

  /** Removes completions and every row that points at them; the one place that knows them all. */
  async function removeCompletions(rows: StoredPosition[]): Promise<void> {
    if (rows.length === 0) return;
    await deletePairs(rows);
    const models: [number[], string[], number[], string[]] = [[], [], [], []];
    for (const row of rows) {
      for (const model of [row.requestedModel, row.model]) {
        models[0].push(row.projectId);
        models[1].push(model);
        models[2].push(row.created);
        models[3].push(row.id);
      }
    }
    await db.query(
      `DELETE FROM completion_models m USING unnest($1::int[], $2::text[], $3::int8[], $4::text[]) AS u(p, model, c, i)
       WHERE m.project_id = u.p AND m.model = u.model AND m.created = u.c AND m.completion_id = u.i`,
      models,
    );
    // Choices and input messages go with them through their foreign keys' cascade.
    await db.query('DELETE FROM completions WHERE seq = ANY($1::int8[])', [rows.map((row) => row.seq)]);
  }

  return { insertCompletions, replaceMetadata, removeCompletions };
}
