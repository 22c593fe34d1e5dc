import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * Tenants. Every stored row carries the small integer `id` instead of the
 * project's name (a hash of a key in pass-through mode), which keeps the
 * list indexes narrow.
 */
export const projects = sqliteTable('projects', {
  id: integer().primaryKey({ autoIncrement: true }),
  name: text().notNull().unique(),
});

/** Per-database values that must outlive restarts (the secret that hashes keys into projects). */
export const settings = sqliteTable('settings', {
  key: text().primaryKey(),
  value: text().notNull(),
});

/**
 * One row per stored completion.
 *
 * Ordering contract: every read sorts by (`created`, `id`); `id` breaks ties
 * bytewise (SQLite's BINARY collation), so pages never skip or repeat a row
 * however many completions share one second.
 *
 * `body` is the stored `chat.completion` JSON without `choices` and `metadata`,
 * kept as text so that a list page is assembled by concatenation, not by
 * re-serializing objects. `metadata` is the current map as JSON text (update
 * rewrites it); the `metadata` table below holds the same pairs for filtering.
 * `choices` holds the choices' JSON texts joined by commas in `index` order
 * (the inside of the served array; empty for none): in the row, a page reads
 * each completion with one descent instead of a second one into a table of
 * choices (migration 0008 moved them here).
 */
export const completions = sqliteTable(
  'completions',
  {
    seq: integer().primaryKey({ autoIncrement: true }),
    projectId: integer().notNull(),
    id: text().notNull(),
    created: integer().notNull(),
    /** The model the upstream named in its response. */
    model: text().notNull(),
    /** The model the request asked for; the list's `model` filter matches either. */
    requestedModel: text().notNull(),
    metadata: text().notNull(),
    body: text().notNull(),
    // A default, so that the migration adds the column in place instead of rebuilding the table.
    choices: text().notNull().default(''),
    /**
     * Unix seconds when this service stored it: what RETENTION_DAYS ages by.
     * Not `created`, which is the provider's word and may be 0 or long past.
     */
    storedAt: integer().notNull().default(0),
    /**
     * The response's `usage` figures (0 when missing or not an integer), kept apart from `body`
     * so usage over a filtered walk reads three integers, not a JSON document, and a delete
     * knows what to take out of `usage_daily`.
     */
    promptTokens: integer().notNull().default(0),
    completionTokens: integer().notNull().default(0),
    totalTokens: integer().notNull().default(0),
  },
  (t) => [
    uniqueIndex('completions_project_id_idx').on(t.projectId, t.id),
    // Keyset pages without a filter walk this index in order.
    index('completions_project_created_idx').on(t.projectId, t.created, t.id),
    // Retention sweeps by the time a completion was stored, oldest first, across all projects;
    // the index above starts with project_id and cannot serve that.
    index('completions_stored_at_idx').on(t.storedAt),
  ],
);

/**
 * The request's input messages in request order; `body` is the message item
 * JSON without its `id` (which is derived: `<completion id>-<idx>`).
 */
export const inputMessages = sqliteTable(
  'input_messages',
  {
    completionSeq: integer()
      .notNull()
      .references(() => completions.seq, { onDelete: 'cascade' }),
    idx: integer().notNull(),
    body: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.completionSeq, t.idx] })],
);

/**
 * Metadata pairs, for filtering. The key is ordered by (project, key, value,
 * created, completion id) so a `metadata[k]=v` page walks it in list order and
 * touches about one page of entries, however rare the pair.
 * Rows are deleted explicitly with their completion (a foreign-key cascade
 * would need a second index on (project, completion id)).
 *
 * WITHOUT ROWID (migration 0006, which drizzle cannot express): every column is
 * in the key, so the table is its key's b-tree. As a rowid table with an index
 * on all its columns it stored each pair twice (~130 bytes a completion).
 */
export const metadata = sqliteTable(
  'metadata',
  {
    projectId: integer().notNull(),
    key: text().notNull(),
    value: text().notNull(),
    created: integer().notNull(),
    completionId: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.key, t.value, t.created, t.completionId] })],
);

/**
 * The models a completion answers to in the `model` filter: the requested one
 * and, when different, the one the upstream named. Ordered, and stored
 * WITHOUT ROWID, like `metadata`.
 */
export const completionModels = sqliteTable(
  'completion_models',
  {
    projectId: integer().notNull(),
    model: text().notNull(),
    created: integer().notNull(),
    completionId: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.model, t.created, t.completionId] })],
);

/**
 * Ids of deleted completions, with their position. An `after` cursor naming one
 * keeps working, and an upstream that hands out the same id again gets a fresh
 * one, so a cursor never changes meaning. `expired_at` (unix seconds) is when
 * retention expired the completion: that tombstone goes one window later, so a
 * steady window keeps the file from growing (the partial index finds them). 0 for
 * every other tombstone, kept for good: an explicit delete (a mirror or import must
 * never bring it back), and those an earlier version wrote.
 */
export const deletedCompletions = sqliteTable(
  'deleted_completions',
  {
    projectId: integer().notNull(),
    id: text().notNull(),
    created: integer().notNull(),
    expiredAt: integer().notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('deleted_completions_expired_at_idx').on(t.expiredAt).where(sql`${t.expiredAt} > 0`),
  ],
);

/**
 * Completions and tokens per project, UTC day (`floor(created / 86400)`), responded model and
 * requested model: the usage endpoint's unfiltered and model-filtered figures, read without
 * touching the completions. Kept in the same transaction as every write, delete and retention
 * sweep; a row whose count falls to 0 is deleted. The requested model is part of the key because
 * the `model` filter matches either model, while the figures are reported per responded model.
 */
export const usageDaily = sqliteTable(
  'usage_daily',
  {
    projectId: integer().notNull(),
    day: integer().notNull(),
    model: text().notNull(),
    requestedModel: text().notNull(),
    completions: integer().notNull(),
    promptTokens: integer().notNull(),
    completionTokens: integer().notNull(),
    totalTokens: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.day, t.model, t.requestedModel] })],
);
