import type { Metadata } from '../../validation.ts';
import { CompletionIdTaken, type CompletionRecord } from '../contract.ts';
import { searchTextOf, tokenCountsOf, utcDayOf, type TokenCounts } from '../derived-fields.ts';
import type { StoredPosition as IndexedPosition } from '../stored-position.ts';
import type { Prepare } from './statements.ts';

/** Where a completion's index rows are, and (for the usage rollup, which SQLite keeps) the tokens it counted. */
export interface StoredPosition extends IndexedPosition, TokenCounts {}

export const POSITION_COLUMNS = `seq, project_id AS projectId, id, created, model, requested_model AS requestedModel, metadata,
  prompt_tokens AS promptTokens, completion_tokens AS completionTokens, total_tokens AS totalTokens`;

/**
 * The row-level writes of a completion: its row, choices, input messages and
 * the index rows the list walks (metadata pairs, models). Callers wrap them in
 * a transaction; none of them opens one.
 */
export function createRowWrites(prepare: Prepare) {
  function insertPairs(projectId: number, metadata: Metadata, created: number, id: string): void {
    const insert = prepare('INSERT INTO metadata (project_id, key, value, created, completion_id) VALUES (?, ?, ?, ?, ?)');
    for (const [key, value] of Object.entries(metadata)) insert.run(projectId, key, value, created, id);
  }

  function deletePairs(projectId: number, metadataJson: string, created: number, id: string): void {
    const remove = prepare(
      'DELETE FROM metadata WHERE project_id = ? AND key = ? AND value = ? AND created = ? AND completion_id = ?',
    );
    for (const [key, value] of Object.entries(JSON.parse(metadataJson) as Metadata)) {
      remove.run(projectId, key, value, created, id);
    }
  }

  /** Adds one completion (sign 1) to its day's usage, or takes one out (sign -1); a row that falls to 0 completions goes. */
  function addUsage(projectId: number, created: number, model: string, requestedModel: string, tokens: TokenCounts, sign: 1 | -1): void {
    const day = utcDayOf(created);
    prepare(
      `INSERT INTO usage_daily (project_id, day, model, requested_model, completions, prompt_tokens, completion_tokens, total_tokens)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET completions = completions + excluded.completions,
         prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
         total_tokens = total_tokens + excluded.total_tokens`,
    ).run(projectId, day, model, requestedModel, sign, sign * tokens.promptTokens, sign * tokens.completionTokens, sign * tokens.totalTokens);
    if (sign < 0) {
      prepare('DELETE FROM usage_daily WHERE project_id = ? AND day = ? AND model = ? AND requested_model = ? AND completions <= 0').run(
        projectId,
        day,
        model,
        requestedModel,
      );
    }
  }

  /** Inserts a completion and its rows; CompletionIdTaken when its id is stored or tombstoned (by any process: the caller's transaction holds the write lock). */
  function insertCompletion(projectId: number, record: CompletionRecord): void {
    const tokens = tokenCountsOf(record);
    if (prepare('SELECT 1 FROM deleted_completions WHERE project_id = ? AND id = ?').get(projectId, record.id)) {
      throw new CompletionIdTaken(record.id);
    }
    let seq: number;
    try {
      // Not RETURNING seq: a RETURNING statement opens a statement savepoint, and every savepoint makes FTS5 write its
      // pending rows to disk as a new segment, so interleaved with the search index's inserts it cost a segment (and its
      // merges) per completion: 5x the index's own cost. The rowid of the insert is the same number.
      seq = Number(prepare(
        `INSERT INTO completions (project_id, id, created, model, requested_model, metadata, body, stored_at,
           prompt_tokens, completion_tokens, total_tokens)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        projectId,
        record.id,
        record.created,
        record.model,
        record.requestedModel,
        JSON.stringify(record.metadata),
        record.body,
        record.storedAt,
        tokens.promptTokens,
        tokens.completionTokens,
        tokens.totalTokens,
      ).lastInsertRowid);
    } catch (err) {
      // The unique index on (project_id, id) is the final judge of an id stored a moment ago.
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new CompletionIdTaken(record.id);
      throw err;
    }
    const insertChoice = prepare('INSERT INTO choices (completion_seq, idx, body) VALUES (?, ?, ?)');
    record.choices.forEach((body, idx) => insertChoice.run(seq, idx, body));
    const insertMessage = prepare('INSERT INTO input_messages (completion_seq, idx, body) VALUES (?, ?, ?)');
    record.messages.forEach((body, idx) => insertMessage.run(seq, idx, body));
    insertPairs(projectId, record.metadata, record.created, record.id);
    const insertModel = prepare('INSERT INTO completion_models (project_id, model, created, completion_id) VALUES (?, ?, ?, ?)');
    insertModel.run(projectId, record.requestedModel, record.created, record.id);
    if (record.model !== record.requestedModel) insertModel.run(projectId, record.model, record.created, record.id);
    prepare('INSERT INTO completion_search (rowid, project, text) VALUES (?, ?, ?)').run(seq, projectId, searchTextOf(record));
    addUsage(projectId, record.created, record.model, record.requestedModel, tokens, 1);
  }

  /** Rewrites the metadata map and its index rows. */
  function replaceMetadata(projectId: number, id: string, position: { created: number; metadata: string }, metadata: Metadata): void {
    deletePairs(projectId, position.metadata, position.created, id);
    insertPairs(projectId, metadata, position.created, id);
    prepare('UPDATE completions SET metadata = ? WHERE project_id = ? AND id = ?').run(JSON.stringify(metadata), projectId, id);
  }

  /** Removes a completion and every row that points at it; the one place that knows them all. */
  function removeCompletion(row: StoredPosition): void {
    deletePairs(row.projectId, row.metadata, row.created, row.id);
    const removeModel = prepare(
      'DELETE FROM completion_models WHERE project_id = ? AND model = ? AND created = ? AND completion_id = ?',
    );
    removeModel.run(row.projectId, row.requestedModel, row.created, row.id);
    removeModel.run(row.projectId, row.model, row.created, row.id);
    prepare('DELETE FROM completion_search WHERE rowid = ?').run(row.seq);
    addUsage(row.projectId, row.created, row.model, row.requestedModel, row, -1);
    // Choices and input messages go with it through their foreign keys' cascade.
    prepare('DELETE FROM completions WHERE seq = ?').run(row.seq);
  }

  return { insertCompletion, replaceMetadata, removeCompletion };
}
