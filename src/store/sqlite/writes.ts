import { metadataJson } from '../../key-order.ts';
import type { Metadata } from '../../validation.ts';
import { CompletionIdTaken, type CompletionRecord } from '../contract.ts';
import { searchTextOf, tokenCountsOf, utcDayOf, type TokenCounts } from '../derived-fields.ts';
import { joinChoices } from '../joined-choices.ts';
import type { StoredPosition as IndexedPosition } from '../stored-position.ts';
import type { Prepare } from './statements.ts';
import { storedBody, storedChoices, storedMessage } from './stored-json.ts';

/** Where a completion's index rows are, and (for the usage rollup, which SQLite keeps) the tokens it counted. */
export interface StoredPosition extends IndexedPosition, TokenCounts {}

export const POSITION_COLUMNS = `seq, project_id AS projectId, id, created, model, requested_model AS requestedModel, metadata,
  prompt_tokens AS promptTokens, completion_tokens AS completionTokens, total_tokens AS totalTokens`;

/** A usage_daily row's key and what a write adds to its figures. */
interface UsageDelta extends TokenCounts {
  projectId: number;
  day: number;
  model: string;
  requestedModel: string;
  completions: number;
}

/** The search index's rows go in this many to a statement (3 parameters each, far below SQLite's limit). */
const SEARCH_ROWS_PER_STATEMENT = 64;

/**
 * The row-level writes of a completion: its row (choices included), input messages and
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

  /** Adds completions to a day's usage (or takes them out, negative); a row that falls to 0 completions goes. */
  function addUsage(delta: UsageDelta): void {
    const { projectId, day, model, requestedModel, completions } = delta;
    prepare(
      `INSERT INTO usage_daily (project_id, day, model, requested_model, completions, prompt_tokens, completion_tokens, total_tokens)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET completions = completions + excluded.completions,
         prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
         total_tokens = total_tokens + excluded.total_tokens`,
    ).run(projectId, day, model, requestedModel, completions, delta.promptTokens, delta.completionTokens, delta.totalTokens);
    if (completions < 0) {
      prepare('DELETE FROM usage_daily WHERE project_id = ? AND day = ? AND model = ? AND requested_model = ? AND completions <= 0').run(
        projectId,
        day,
        model,
        requestedModel,
      );
    }
  }

  /** Inserts the completion's row and returns its seq; CompletionIdTaken when the id is stored. */
  function insertRow(projectId: number, record: CompletionRecord, tokens: TokenCounts): number {
    try {
      // Not RETURNING seq: a RETURNING statement opens a statement savepoint, and at every savepoint FTS5 writes its
      // pending rows to disk as a new segment (5x the index's own cost when a search row followed each completion).
      const inserted = prepare(
        `INSERT INTO completions (project_id, id, created, model, requested_model, metadata, body, choices, stored_at,
           prompt_tokens, completion_tokens, total_tokens)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        projectId,
        record.id,
        record.created,
        record.model,
        record.requestedModel,
        metadataJson(record.metadata),
        storedBody(record),
        storedChoices(joinChoices(record.choices)),
        record.storedAt,
        tokens.promptTokens,
        tokens.completionTokens,
        tokens.totalTokens,
      );
      return Number(inserted.lastInsertRowid);
    } catch (err) {
      // The unique index on (project_id, id) is the final judge of an id stored a moment ago.
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new CompletionIdTaken(record.id);
      throw err;
    }
  }

  /**
   * Inserts completions and all their rows in the caller's transaction. Per completion: its row
   * (choices included), messages, metadata pairs and models. Per batch, in finish(): the usage rollup, one upsert
   * per (project, day, models) instead of one per completion, then the search index's rows, last and
   * many to a statement, so that FTS5 gathers the batch in memory and writes it as one segment at the
   * commit. A batch must not commit unfinished (its search rows and usage would be missing); an insert
   * that throws aborts the caller's transaction.
   */
  function startInserts() {
    const usage = new Map<string, UsageDelta>();
    const searchRows: (number | string)[] = [];
    const tombstonesIn = new Map<number, boolean>();

    /** Whether the project has deleted ids at all: an import into one that has none skips the check per id. */
    function hasTombstones(projectId: number): boolean {
      let has = tombstonesIn.get(projectId);
      if (has === undefined) {
        has = prepare('SELECT 1 FROM deleted_completions WHERE project_id = ? LIMIT 1').get(projectId) !== undefined;
        tombstonesIn.set(projectId, has);
      }
      return has;
    }

    /** CompletionIdTaken when the id is stored or tombstoned (by any process: the caller's transaction holds the write lock). */
    function insert(projectId: number, record: CompletionRecord): void {
      if (hasTombstones(projectId) && prepare('SELECT 1 FROM deleted_completions WHERE project_id = ? AND id = ?').get(projectId, record.id)) {
        throw new CompletionIdTaken(record.id);
      }
      const tokens = tokenCountsOf(record);
      const seq = insertRow(projectId, record, tokens);
      const insertMessage = prepare('INSERT INTO input_messages (completion_seq, idx, body) VALUES (?, ?, ?)');
      record.messages.forEach((body, idx) => insertMessage.run(seq, idx, storedMessage(body)));
      insertPairs(projectId, record.metadata, record.created, record.id);
      const insertModel = prepare('INSERT INTO completion_models (project_id, model, created, completion_id) VALUES (?, ?, ?, ?)');
      insertModel.run(projectId, record.requestedModel, record.created, record.id);
      if (record.model !== record.requestedModel) insertModel.run(projectId, record.model, record.created, record.id);
      searchRows.push(seq, projectId, searchTextOf(record));
      tallyUsage(projectId, record, tokens);
    }

    function tallyUsage(projectId: number, record: CompletionRecord, tokens: TokenCounts): void {
      const day = utcDayOf(record.created);
      const key = JSON.stringify([projectId, day, record.model, record.requestedModel]);
      const delta = usage.get(key);
      if (!delta) {
        usage.set(key, { projectId, day, model: record.model, requestedModel: record.requestedModel, completions: 1, ...tokens });
        return;
      }
      delta.completions++;
      delta.promptTokens += tokens.promptTokens;
      delta.completionTokens += tokens.completionTokens;
      delta.totalTokens += tokens.totalTokens;
    }

    function finish(): void {
      for (const delta of usage.values()) addUsage(delta);
      usage.clear();
      const width = SEARCH_ROWS_PER_STATEMENT * 3;
      let at = 0;
      if (searchRows.length >= width) {
        const many = prepare(`INSERT INTO completion_search (rowid, project, text) VALUES ${'(?, ?, ?), '.repeat(SEARCH_ROWS_PER_STATEMENT - 1)}(?, ?, ?)`);
        for (; at + width <= searchRows.length; at += width) many.run(searchRows.slice(at, at + width));
      }
      const one = prepare('INSERT INTO completion_search (rowid, project, text) VALUES (?, ?, ?)');
      for (; at < searchRows.length; at += 3) one.run(searchRows[at], searchRows[at + 1], searchRows[at + 2]);
      searchRows.length = 0;
    }

    /** A restored tombstone: its id is taken for the rest of the batch too. */
    function insertTombstone(projectId: number, { id, created, expiredAt }: { id: string; created: number; expiredAt: number }): void {
      prepare('INSERT INTO deleted_completions (project_id, id, created, expired_at) VALUES (?, ?, ?, ?)').run(projectId, id, created, expiredAt);
      tombstonesIn.set(projectId, true);
    }

    return { insert, insertTombstone, finish };
  }

  /** Rewrites the metadata map and its index rows. */
  function replaceMetadata(projectId: number, id: string, position: { created: number; metadata: string }, metadata: Metadata): void {
    deletePairs(projectId, position.metadata, position.created, id);
    insertPairs(projectId, metadata, position.created, id);
    prepare('UPDATE completions SET metadata = ? WHERE project_id = ? AND id = ?').run(metadataJson(metadata), projectId, id);
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
    addUsage({
      projectId: row.projectId,
      day: utcDayOf(row.created),
      model: row.model,
      requestedModel: row.requestedModel,
      completions: -1,
      promptTokens: -row.promptTokens,
      completionTokens: -row.completionTokens,
      totalTokens: -row.totalTokens,
    });
    // Input messages go with it through their foreign key's cascade.
    prepare('DELETE FROM completions WHERE seq = ?').run(row.seq);
  }

  return { startInserts, replaceMetadata, removeCompletion };
}
