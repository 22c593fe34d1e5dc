import type { SqlSession } from '../../db/sql-client.ts';
import { metadataJson } from '../../key-order.ts';
import type { Metadata } from '../../validation.ts';
import { type CompletionRecord, CompletionIdTaken } from '../contract.ts';
import { type TokenCounts, tokenCountsOf } from '../derived-fields.ts';
import { joinChoices } from '../joined-choices.ts';
import type { StoredPosition as IndexedPosition } from '../stored-position.ts';
import { int4Array, int8Array, textArray } from './binary-arrays.ts';
import { searchColumnsOf } from './search-tokens.ts';
import { filterText } from './text.ts';

/** Where a completion's index rows are, and the tokens it counted in the usage rollup. */
export interface StoredPosition extends IndexedPosition, TokenCounts {}

export const POSITION_COLUMNS = `seq, project_id AS "projectId", id, created, model, requested_model AS "requestedModel", metadata,
  prompt_tokens AS "promptTokens", completion_tokens AS "completionTokens", total_tokens AS "totalTokens"`;

/** The UTC day of `created` in SQL, rounding down before 1970 as `utcDayOf` does. */
export const DAY_OF_CREATED = '((created - ((created % 86400) + 86400) % 86400) / 86400)::int';

/**
 * Adds completions to their days' usage rows (`INSERT ... ON CONFLICT DO UPDATE`: instances writing
 * at once add up, one after the other). `source` yields (project_id, created, model, requested_model,
 * prompt_tokens, completion_tokens, total_tokens, sign): sign 1 adds a completion, -1 takes it out.
 * Rows are written in key order, so two transactions lock the rows they share in the same order.
 */
function addUsageSql(source: string): string {
  return `INSERT INTO usage_daily AS d (project_id, day, model, requested_model, completions, prompt_tokens, completion_tokens, total_tokens)
    SELECT project_id, ${DAY_OF_CREATED}, model, requested_model, sum(sign), sum(sign * prompt_tokens), sum(sign * completion_tokens), sum(sign * total_tokens)
    FROM (${source}) AS changed GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (project_id, day, model, requested_model) DO UPDATE SET completions = d.completions + excluded.completions,
      prompt_tokens = d.prompt_tokens + excluded.prompt_tokens, completion_tokens = d.completion_tokens + excluded.completion_tokens,
      total_tokens = d.total_tokens + excluded.total_tokens`;
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

/**
 * What `completion_id_taken()` (migration 0003) raises, and the trigger of migration 0005 when an insert
 * stored an id another instance deleted while the insert waited for it.
 */
export const ID_TAKEN_SQLSTATE = 'SC409';

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
   * Inserts the completions and all their rows, except those whose id the
   * project has (stored or deleted, or earlier in `writes`): the database's
   * uniqueness check decides, never a check before it. Returns, in order, the
   * id each was stored under, undefined for those left out.
   *
   * Each attempt is one statement: the completions rows and, through
   * data-modifying CTEs, the rows of every table that points at them, for the
   * completions the insert kept only. A second write of one id in the same
   * call waits for a second attempt, where the first one's row turns it away.
   */
  async function insertCompletions(writes: [projectId: number, record: CompletionRecord][]): Promise<(string | undefined)[]> {
    const ids: (string | undefined)[] = writes.map(() => undefined);
    let pending = writes.map(([projectId, record], position) => ({ position, projectId, record }));
    while (pending.length > 0) {
      // One id twice in one statement would give both the one row it inserts: the second waits for the next attempt.
      const seen = new Set<string>();
      const attempt: typeof pending = [];
      const later: typeof pending = [];
      for (const write of pending) {
        const key = keyOf(write.projectId, write.record.id);
        (seen.has(key) ? later : attempt).push(write);
        seen.add(key);
      }
      const stored = new Set((await insertAttempt(attempt)).map((row) => row.pos));
      for (const write of attempt) if (stored.has(write.position)) ids[write.position] = write.record.id;
      pending = later;
    }
    return ids;
  }

  /**
   * Inserts all the completions or none, in one statement that commits on its own (no transaction around
   * it, so no BEGIN and COMMIT round trips): an id the project has (stored, deleted, or twice in `writes`)
   * is a CompletionIdTaken and nothing is written. For group commit, where every create waits for the
   * round trips of its group.
   */
  async function insertAllOrNone(writes: [projectId: number, record: CompletionRecord][]): Promise<void> {
    const seen = new Set<string>();
    for (const [projectId, record] of writes) {
      const key = keyOf(projectId, record.id);
      if (seen.has(key)) throw new CompletionIdTaken(record.id);
      seen.add(key);
    }
    try {
      await insertAttempt(writes.map(([projectId, record], position) => ({ position, projectId, record })), true);
    } catch (err) {
      // Raised by the statement (migration 0003), which then wrote nothing.
      if ((err as { code?: unknown }).code === ID_TAKEN_SQLSTATE) throw new CompletionIdTaken((err as { detail: string }).detail);
      throw err;
    }
  }

  /**
   * `allOrNone`: the statement raises ID_TAKEN_SQLSTATE, with the first id it left out, unless it kept them all.
   * A group commit inserts in key order (project, id): two instances storing the same provider ids at once (a
   * provider that reuses them) then wait for each other's index entries in one order, never in a circle. In
   * arrival order they deadlocked, and a whole group's creates got a 503. An import keeps its own order (its
   * transaction is retried after a deadlock).
   */
  async function insertAttempt(writes: { position: number; projectId: number; record: CompletionRecord }[], allOrNone = false): Promise<{ pos: number }[]> {
    const messages: [number[], number[], string[]] = [[], [], []];
    const models: [number[], string[]] = [[], []];
    const pairs: [number[], string[], string[]] = [[], [], []];
    for (const { position, record } of writes) {
      record.messages.forEach((body, idx) => {
        messages[0].push(position);
        messages[1].push(idx);
        messages[2].push(body);
      });
      for (const model of record.model === record.requestedModel ? [record.model] : [record.requestedModel, record.model]) {
        models[0].push(position);
        models[1].push(filterText(model));
      }
      for (const [key, value] of Object.entries(record.metadata)) {
        pairs[0].push(position);
        pairs[1].push(filterText(key));
        pairs[2].push(filterText(value));
      }
    }
    const tokens = writes.map((w) => tokenCountsOf(w.record));
    const search = writes.map((w) => searchColumnsOf(w.projectId, w.record));
    return db.query<{ pos: number }>(
      `WITH input AS (
         SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
             $10::int8[], $19::int8[], $20::int8[], $21::int8[], $22::text[], $23::text[])
           AS u(pos, project_id, id, created, model, requested_model, metadata, body, choices, stored_at,
             prompt_tokens, completion_tokens, total_tokens, search_keys, search_text)
       ), inserted AS (
         INSERT INTO completions (project_id, id, created, model, requested_model, metadata, body, choices, stored_at,
           prompt_tokens, completion_tokens, total_tokens, search_keys, search_text)
         SELECT project_id, id, created, model, requested_model, metadata, body, choices, stored_at,
           prompt_tokens, completion_tokens, total_tokens, string_to_array(search_keys, ' '), search_text FROM input u
         WHERE NOT EXISTS (SELECT 1 FROM deleted_completions d WHERE d.project_id = u.project_id AND d.id = u.id)
         ${allOrNone ? 'ORDER BY project_id, id' : 'ORDER BY pos'}
         ON CONFLICT (project_id, id) DO NOTHING
         RETURNING seq, project_id, id
       ), kept AS (
         SELECT i.seq, u.pos, u.project_id, u.id, u.created, u.model, u.requested_model, u.prompt_tokens, u.completion_tokens, u.total_tokens
         FROM inserted i JOIN input u ON u.project_id = i.project_id AND u.id = i.id
       ), usage_rows AS (
         ${addUsageSql('SELECT project_id, created, model, requested_model, prompt_tokens, completion_tokens, total_tokens, 1 AS sign FROM kept')}
       ), message_rows AS (
         INSERT INTO input_messages (completion_seq, idx, body)
         SELECT k.seq, r.idx, r.body FROM unnest($11::int[], $12::int[], $13::text[]) AS r(pos, idx, body) JOIN kept k ON k.pos = r.pos
       ), model_rows AS (
         INSERT INTO completion_models (project_id, model, created, completion_id)
         SELECT k.project_id, r.model, k.created, k.id FROM unnest($14::int[], $15::text[]) AS r(pos, model) JOIN kept k ON k.pos = r.pos
       ), pair_rows AS (
         INSERT INTO metadata (project_id, key, value, created, completion_id)
         SELECT k.project_id, r.key, r.value, k.created, k.id FROM unnest($16::int[], $17::text[], $18::text[]) AS r(pos, key, value)
         JOIN kept k ON k.pos = r.pos
       )
       ${
         allOrNone
           ? `SELECT completion_id_taken(u.id) AS pos FROM input u WHERE u.pos NOT IN (SELECT pos FROM kept)
              ORDER BY u.pos LIMIT 1`
           : 'SELECT pos FROM kept'
       }`,
      // In binary (binary-arrays.ts): no quoting and escaping here, no literal to parse on the server.
      [
        int4Array(writes.map((w) => w.position)),
        int4Array(writes.map((w) => w.projectId)),
        textArray(writes.map((w) => w.record.id)),
        int8Array(writes.map((w) => w.record.created)),
        textArray(writes.map((w) => filterText(w.record.model))),
        textArray(writes.map((w) => filterText(w.record.requestedModel))),
        textArray(writes.map((w) => metadataJson(w.record.metadata))),
        textArray(writes.map((w) => w.record.body)),
        textArray(writes.map((w) => joinChoices(w.record.choices))),
        int8Array(writes.map((w) => w.record.storedAt)),
        int4Array(messages[0]),
        int4Array(messages[1]),
        textArray(messages[2]),
        int4Array(models[0]),
        textArray(models[1]),
        int4Array(pairs[0]),
        textArray(pairs[1]),
        textArray(pairs[2]),
        int8Array(tokens.map((t) => t.promptTokens)),
        int8Array(tokens.map((t) => t.completionTokens)),
        int8Array(tokens.map((t) => t.totalTokens)),
        textArray(search.map((columns) => columns.keys)),
        textArray(search.map((columns) => columns.text)),
      ],
    );
  }

  /**
   * Rewrites the metadata maps of some completions of one project (each `metadata` the stored JSON, `replacement` the
   * new map) and their index rows: three statements whatever their number.
   */
  async function replaceMetadata(projectId: number, changes: { id: string; created: number; metadata: string; replacement: Metadata }[]) {
    if (changes.length === 0) return;
    await deletePairs(changes.map(({ id, created, metadata }) => ({ projectId, id, created, metadata })));
    await insertPairs(changes.map(({ id, created, replacement }) => ({ projectId, id, created, metadata: replacement })));
    await db.query(
      `UPDATE completions c SET metadata = u.metadata FROM unnest($2::text[], $3::text[]) AS u(id, metadata)
       WHERE c.project_id = $1 AND c.id = u.id`,
      [projectId, changes.map(({ id }) => id), changes.map(({ replacement }) => metadataJson(replacement))],
    );
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
    // Input messages go with them through their foreign key's cascade; the usage rollup takes them out.
    await db.query(
      `WITH gone AS (DELETE FROM completions WHERE seq = ANY($1::int8[])
         RETURNING project_id, created, model, requested_model, prompt_tokens, completion_tokens, total_tokens)
       ${addUsageSql('SELECT *, -1 AS sign FROM gone')}`,
      [rows.map((row) => row.seq)],
    );
    // A day and model whose last completion went is no row at all, as on SQLite.
    await db.query(
      `DELETE FROM usage_daily d USING unnest($1::int[], $2::int8[], $3::text[], $4::text[]) AS u(p, created, model, requested_model)
       WHERE d.project_id = u.p AND d.day = ${DAY_OF_CREATED}
         AND d.model = u.model AND d.requested_model = u.requested_model AND d.completions <= 0`,
      [rows.map((row) => row.projectId), rows.map((row) => row.created), rows.map((row) => row.model), rows.map((row) => row.requestedModel)],
    );
  }

  return { insertCompletions, insertAllOrNone, replaceMetadata, removeCompletions };
}
