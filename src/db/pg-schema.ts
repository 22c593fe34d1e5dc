import { sql } from 'drizzle-orm';
import { bigint, customType, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';

/**
 * The PostgreSQL twin of `schema.ts`: the same tables, columns and indexes, so
 * both backends walk the same keyset indexes and answer in the same order.
 *
 * Text that is ordered or compared in an index uses the "C" collation: ids
 * then compare bytewise, as SQLite's BINARY collation does, whatever locale
 * the database was created with. Two backends that broke ties differently
 * would hand out cursors that skip or repeat rows after a copy between them;
 * and a bytewise compare is also the cheapest one.
 */
const bytewiseText = customType<{ data: string; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
});

/** Unix seconds, or a row number: 64-bit like SQLite's integers, read back as JS numbers. */
const int64 = () => bigint({ mode: 'number' });

/** Tenants; rows carry the small integer `id` instead of the project's name. */
export const projects = pgTable('projects', {
  id: integer().primaryKey().generatedByDefaultAsIdentity(),
  name: bytewiseText().notNull().unique(),
});

/** Per-database values shared by every instance (the secret that hashes keys into projects). */
export const settings = pgTable('settings', {
  key: text().primaryKey(),
  value: text().notNull(),
});

/**
 * One row per stored completion. Ordering contract: every read sorts by
 * (`created`, `id`), `id` breaking ties bytewise. `body` and `metadata` are
 * JSON text (not jsonb), so a page is assembled by concatenation and served
 * byte for byte as stored.
 */
export const completions = pgTable(
  'completions',
  {
    seq: int64().primaryKey().generatedByDefaultAsIdentity(),
    projectId: integer().notNull(),
    id: bytewiseText().notNull(),
    created: int64().notNull(),
    /** The model the upstream named in its response. */
    model: text().notNull(),
    /** The model the request asked for; the list's `model` filter matches either. */
    requestedModel: text().notNull(),
    metadata: text().notNull(),
    body: text().notNull(),
    /**
     * The choices' JSON texts in `index` order, joined by commas: the inside of the array the API
     * serves (src/store/joined-choices.ts), '' for none. In the row, as on SQLite (migration 0008 there):
     * a listed completion is one row read, not one more index lookup for its choices.
     */
    choices: text().notNull().default(''),
    /** Unix seconds when this service stored it: what RETENTION_DAYS ages by. */
    storedAt: int64().notNull().default(0),
    /**
     * The response's `usage` figures (0 when missing or not an integer), as on SQLite: a filtered
     * usage walk reads three integers, not a JSON document, and a delete knows what to take out of `usage_daily`.
     */
    promptTokens: int64().notNull().default(0),
    completionTokens: int64().notNull().default(0),
    totalTokens: int64().notNull().default(0),
    /**
     * What `search` matches (src/store/postgres/search-tokens.ts): the distinct tokens of the
     * completion's searchable text, each as `<project id>:<token>` (so a word's GIN entry lists one
     * project's completions), cut to 100 characters. NULL until a completion stored before the
     * column existed is indexed at start-up.
     */
    searchKeys: text().array(),
    /** The same text's tokens in order, space-separated with a space at each end: checks words that punctuation splits. */
    searchText: text(),
  },
  (t) => [
    // Also what makes an id unique per project across instances: the database, not a check before the insert.
    uniqueIndex('completions_project_id_idx').on(t.projectId, t.id),
    index('completions_project_created_idx').on(t.projectId, t.created, t.id),
    index('completions_stored_at_idx').on(t.storedAt),
    index('completions_search_idx').using('gin', t.searchKeys),
    // The completions start-up still has to index for search (stored before the columns existed): empty
    // once they are, so finding that there are none costs nothing at every start.
    index('completions_search_backfill_idx').on(t.seq).where(sql`${t.searchKeys} IS NULL`),
  ],
);

/** The request's input messages in request order; `body` is the item JSON without its derived `id`. */
export const inputMessages = pgTable(
  'input_messages',
  {
    completionSeq: int64()
      .notNull()
      .references(() => completions.seq, { onDelete: 'cascade' }),
    idx: integer().notNull(),
    body: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.completionSeq, t.idx] })],
);

/** Metadata pairs for filtering, ordered by (project, key, value, created, completion id) like the list. */
export const metadata = pgTable(
  'metadata',
  {
    projectId: integer().notNull(),
    key: bytewiseText().notNull(),
    value: bytewiseText().notNull(),
    created: int64().notNull(),
    completionId: bytewiseText().notNull(),
  },
  (t) => [index('metadata_filter_idx').on(t.projectId, t.key, t.value, t.created, t.completionId)],
);

/** The models a completion answers to in the `model` filter, ordered like `metadata`. */
export const completionModels = pgTable(
  'completion_models',
  {
    projectId: integer().notNull(),
    model: bytewiseText().notNull(),
    created: int64().notNull(),
    completionId: bytewiseText().notNull(),
  },
  (t) => [index('completion_models_filter_idx').on(t.projectId, t.model, t.created, t.completionId)],
);

/**
 * Ids of deleted completions, with their position: cursors naming them keep working, and they are not reused.
 * `expired_at` as on SQLite: when retention expired the completion (its tombstone goes a window later), 0 for a
 * tombstone kept for good (an explicit delete, one an earlier version wrote). A stream's hold carries the time it
 * was taken, so that retention lets one a crash left behind go a window later too.
 */
export const deletedCompletions = pgTable(
  'deleted_completions',
  {
    projectId: integer().notNull(),
    id: bytewiseText().notNull(),
    created: int64().notNull(),
    expiredAt: int64().notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.id] }),
    index('deleted_completions_expired_at_idx').on(t.expiredAt).where(sql`${t.expiredAt} > 0`),
  ],
);

/**
 * Completions and tokens per project, UTC day (`floor(created / 86400)`), responded model and
 * requested model, as SQLite's `usage_daily`: the usage endpoint's unfiltered and model-filtered
 * figures without touching the completions. Kept in the same transaction as every write, delete
 * and retention sweep (`INSERT ... ON CONFLICT DO UPDATE`, so instances writing at once add up);
 * a row whose count falls to 0 is deleted.
 */
export const usageDaily = pgTable(
  'usage_daily',
  {
    projectId: integer().notNull(),
    day: integer().notNull(),
    model: bytewiseText().notNull(),
    requestedModel: bytewiseText().notNull(),
    completions: int64().notNull(),
    promptTokens: int64().notNull(),
    completionTokens: int64().notNull(),
    totalTokens: int64().notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.day, t.model, t.requestedModel] })],
);
