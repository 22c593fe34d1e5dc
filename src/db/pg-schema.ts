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
    /** Unix seconds when this service stored it: what RETENTION_DAYS ages by. */
    storedAt: int64().notNull().default(0),
  },
  (t) => [
    // Also what makes an id unique per project across instances: the database, not a check before the insert.
    uniqueIndex('completions_project_id_idx').on(t.projectId, t.id),
    index('completions_project_created_idx').on(t.projectId, t.created, t.id),
    index('completions_stored_at_idx').on(t.storedAt),
  ],
);

/** A completion's choices, each as its `chat.completion` choice JSON, in `index` order. */
export const choices = pgTable(
  'choices',
  {
    completionSeq: int64()
      .notNull()
      .references(() => completions.seq, { onDelete: 'cascade' }),
    idx: integer().notNull(),
    body: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.completionSeq, t.idx] })],
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

/** Ids of deleted completions, with their position: cursors naming them keep working, and they are never reused. */
export const deletedCompletions = pgTable(
  'deleted_completions',
  {
    projectId: integer().notNull(),
    id: bytewiseText().notNull(),
    created: int64().notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.id] })],
);
