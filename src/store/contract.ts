import type { ListFilters, ListParams, Metadata, PageParams } from '../validation.ts';
import type { ConnectionUse } from '../db/sql-client.ts';
import type { TokenCounts } from './derived-fields.ts';
import type { MetadataChange, MetadataChangeResult } from './metadata-change.ts';

/**
 * The store's contract: everything the service keeps, behind one backend-neutral
 * interface. Handlers, the write batcher, retention and the CLI see only this;
 * `sqlite/` and (when present) `postgres/` implement it, and every backend must
 * pass the same contract tests.
 *
 * Every method is async: a PostgreSQL query is I/O. The SQLite backend answers
 * synchronously inside (better-sqlite3), which keeps its transactions atomic.
 *
 * Ordering contract: every list reads in (`created`, `id`) order, `id` compared
 * bytewise, so pages never skip or repeat an item and both backends agree on ties.
 */

/**
 * A save refused because the project has (or had: deleted ids stay taken) a
 * completion with that id. Another process on the same database may have
 * stored it a moment ago, whatever any check before the write said: the
 * database is the final judge, and the caller retries under a fresh id.
 */
export class CompletionIdTaken extends Error {
  override name = 'CompletionIdTaken';

  constructor(readonly id: string) {
    super(`A completion with id '${id}' is already stored in this project.`);
  }
}

/** A completion ready to be written: JSON text for everything the API serves back. */
export interface CompletionRecord {
  id: string;
  created: number;
  /** Unix seconds when it is stored: what retention ages by. */
  storedAt: number;
  model: string;
  requestedModel: string;
  metadata: Metadata;
  /** The stored `chat.completion` JSON object without `choices` and `metadata`. */
  body: string;
  /** Each choice's JSON, in `index` order. */
  choices: string[];
  /** Each input message item's JSON without `id`, in request order. */
  messages: string[];
  /**
   * The figures of `body`'s `usage` (tokenCountsOfUsage), when whoever built the record had the
   * response parsed anyway: a store would otherwise parse the whole body again to read them.
   */
  tokens?: TokenCounts;
}

/** A stored completion as read back: its id and the three JSON texts it is served from. */
export interface CompletionRow {
  id: string;
  body: string;
  metadata: string;
  /** The choices' JSON texts joined by commas (an array's inside). */
  choices: string;
}

export interface Page<T> {
  items: T[];
  hasMore: boolean;
}

/**
 * A page of completions as the list endpoint serves them: the items' JSON (serializeCompletion's
 * text, joined by commas) as UTF-8 bytes, written to the socket as they are, and what the page's
 * envelope names.
 */
export interface CompletionListJson {
  items: Uint8Array;
  /** How many items `items` holds. */
  count: number;
  firstId: string | null;
  lastId: string | null;
  hasMore: boolean;
}

export interface MessageRow {
  idx: number;
  body: string;
}

/** The index a list query walks in order, and the filter values it walks (none for `completions`). */
export interface WalkedIndex {
  table: 'completions' | 'metadata' | 'completion_models' | 'completion_search';
  args: string[];
}

export interface ListPlan {
  /** Undefined when the project has stored nothing (no query runs). */
  walked: WalkedIndex | undefined;
  /** The backend's plan, one line per step (`EXPLAIN QUERY PLAN` details on SQLite). */
  steps: string[];
}

/** One thing a database holds, as `copy` moves it between databases (and backends). */
export type DumpItem =
  | { kind: 'setting'; key: string; value: string }
  | { kind: 'completion'; project: string; record: CompletionRecord }
  /**
   * A deleted completion's id and position: it stays taken, and cursors naming it keep working. `expiredAt`: when
   * retention expired it (unix seconds), 0 for a tombstone kept for good.
   */
  | { kind: 'tombstone'; project: string; id: string; created: number; expiredAt: number };

/** Completions and tokens of one UTC day and one responded model. */
export interface UsageRow {
  /** Days since 1970-01-01 UTC: `floor(created / 86400)`. */
  day: number;
  /** The model the response named. */
  model: string;
  completions: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface UsageSummary {
  /** Ordered by day, then model bytewise. */
  rows: UsageRow[];
  /** True when more completions matched than a filtered summary adds up: the rows cover the newest ones. */
  truncated: boolean;
}

/**
 * A read's answer: the value itself from a backend that reads synchronously (SQLite), a promise of it
 * from one that waits on the network (PostgreSQL). For the two reads every client repeats most (a
 * list page, a retrieve): answered at once, the route answers at once, and the HTTP adapter writes
 * the response in the same turn instead of through its promise path (a promise turn per layer, and the
 * adapter's close listener). A synchronous backend may also throw instead of rejecting: await the
 * answer, or check for a promise and catch both.
 */
export type Answered<T> = T | Promise<T>;

export interface Store {
  /**
   * How many group commits (saveCompletionBatch) the write batcher may have in flight at once; 1 when
   * unset. SQLite has one writer; on PostgreSQL each commit mostly waits for the WAL's fsync, and
   * several connections can wait at once.
   */
  readonly groupCommitsInFlight?: number;
  /** Writes one completion and all its rows in one transaction; rejects with CompletionIdTaken when its id is taken. */
  saveCompletion(project: string, record: CompletionRecord): Promise<void>;
  /** Writes many completions of one project in one transaction (seeding, imports). */
  saveCompletions(project: string, records: CompletionRecord[]): Promise<void>;
  /** Writes completions of any projects in one transaction: one commit for many creates (group commit); nothing when one id is taken. */
  saveCompletionBatch(writes: [project: string, record: CompletionRecord][]): Promise<void>;
  /**
   * Writes the completions whose ids the project has never had (neither stored
   * nor deleted, nor earlier in `records`), all in one transaction, and reports
   * the ids it left out: import and mirror are idempotent through it.
   */
  importCompletions(project: string, records: CompletionRecord[]): Promise<{ stored: number; skipped: string[] }>;
  /**
   * After a bulk write of `written` completions (import, mirror, copy): folds what the writes left
   * scattered in the search index, when they were a large share of the database (SQLite's FTS5
   * segments: src/store/sqlite/search-merge.ts). Returns whether it did anything.
   */
  settleSearchIndex(written: number): Promise<boolean>;
  /** Answered at once (no promise) by a backend that reads synchronously: see `Answered`. */
  getCompletion(project: string, id: string): Answered<CompletionRow | undefined>;
  /** One keyset page; an `after` never stored in this project is a 400 (`ApiError`). */
  listCompletions(project: string, params: ListParams): Promise<Page<CompletionRow>>;
  /**
   * The same page's ids, in its order, each with what it weighs: bytes of its stored texts (text-size.ts), none
   * of them read; `hasMore` as the page's. An export reads as many of a page as BATCH_TEXT_CHARACTERS holds, whatever
   * the page before held, by their ids (listCompletionsOf): the page's filters and search run once, and the texts
   * read are those of the completions sized.
   */
  listCompletionSizes(project: string, params: ListParams): Promise<Page<{ id: string; size: number }>>;
  /** The named completions the project has, by id; one it does not have (or no longer has: deleted since) is absent. */
  listCompletionsOf(project: string, ids: string[]): Promise<Map<string, CompletionRow>>;
  /**
   * What each named completion the project has weighs, as listCompletionSizes says it (no text read), by id; one it
   * does not have is absent. An export of chosen completions checks them all and reads them in fitting pages.
   */
  completionSizesOf(project: string, ids: string[]): Promise<Map<string, number>>;
  /** The same page, serialized for the list endpoint (SQLite builds it in SQL: no row becomes a JavaScript string). */
  listCompletionsJson(project: string, params: ListParams): Answered<CompletionListJson>;
  /**
   * Completions and tokens per (UTC day of `created`, responded model) of the completions the
   * list's filters select (missing usage counts 0). Exact from a rollup when filtered at most by
   * model and a day-aligned range; otherwise added up over at most a bounded number of the newest
   * matches, `truncated` when more matched.
   */
  summarizeUsage(project: string, filters: ListFilters): Promise<UsageSummary>;
  /** Replaces the whole metadata map; undefined when the completion does not exist. */
  updateMetadata(project: string, id: string, metadata: Metadata): Promise<CompletionRow | undefined>;
  /**
   * Applies `change` to each named completion's map as it is stored at that moment, all in one transaction holding
   * each completion's row against every other writer (any instance, any process): two changes of one completion at
   * once apply one after the other, neither lost. One answer per id, in the ids' order; a completion the change
   * would take past 16 pairs is left whole (`too_many_pairs`). Ids come unique, at most a hundred.
   */
  changeMetadata(project: string, ids: string[], change: MetadataChange): Promise<MetadataChangeResult[]>;
  /** Deletes and tombstones; false when the completion does not exist. */
  deleteCompletion(project: string, id: string): Promise<boolean>;
  /**
   * Deletes up to `batchSize` completions stored before `storedBefore` (unix seconds), oldest first, each leaving
   * a tombstone that records it expired at `now` (unix seconds: the sweep's clock); returns how many.
   */
  deleteExpired(storedBefore: number, batchSize: number, now: number): Promise<number>;
  /**
   * Deletes up to `batchSize` tombstones of completions that expired before `expiredBefore` (unix seconds), oldest
   * first; returns how many. Never an explicit delete's: that id stays taken for good.
   */
  purgeTombstones(expiredBefore: number, batchSize: number): Promise<number>;
  /** A completion's input messages, or undefined when the completion does not exist (for this project). */
  listMessages(project: string, completionId: string, params: PageParams): Promise<Page<MessageRow> | undefined>;
  /**
   * Every input message of each named completion (all pages at once), for
   * exports that read completions a page at a time; a completion the project
   * does not have (or no longer has: deleted since its page was read) is absent
   * from the map, one without input messages maps to [].
   */
  listMessagesOf(project: string, completionIds: string[]): Promise<Map<string, MessageRow[]>>;
  /** True when the id is stored or was stored (deleted ids stay taken so old cursors keep their meaning). */
  isIdTaken(project: string, id: string): Promise<boolean>;
  /**
   * For a stream, whose client learns its id at the first chunk but which is stored at its end: 'taken' when the
   * project has the id (stored or deleted). Otherwise the id is free, and 'held' says it is now held against every
   * other instance on the database until `saveHeldCompletion` stores it or `releaseStreamId` lets it go
   * (PostgreSQL, where instances share the database); 'free' says nothing was written (SQLite: the one service
   * on a file holds its ids in memory).
   */
  holdStreamId(project: string, id: string): Promise<'held' | 'free' | 'taken'>;
  /** Lets go of an id `holdStreamId` held and nothing was stored under; no effect on a stored or deleted id. */
  releaseStreamId(project: string, id: string): Promise<void>;
  /** Stores a completion under an id `holdStreamId` held, letting the hold go in the same transaction; CompletionIdTaken as `saveCompletion`. */
  saveHeldCompletion(project: string, record: CompletionRecord): Promise<void>;
  /** A per-database value created on first use and kept from then on (shared by every instance on the database). */
  getOrCreateSetting(key: string, create: () => string): Promise<string>;
  /** A per-database value that changes (a mirror's position); undefined when never set. */
  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;
  /** Removes a value set with `setSetting`; nothing when there is none. */
  deleteSetting(key: string): Promise<void>;
  /**
   * Compare and set, atomic across every instance and process on the database: the value becomes `value`
   * (undefined: removed) only if it is `expected` now (undefined: not set). True when it was replaced.
   */
  replaceSetting(key: string, expected: string | undefined, value: string | undefined): Promise<boolean>;
  /**
   * For health checks: commits a one-row write and fails when the database
   * cannot take one (disk full, read-only, locked past the busy timeout). A
   * rolled-back write or an empty write transaction would not do: neither
   * reaches the disk, so both succeed on a full one. Call it at most every few seconds.
   */
  checkWritable(): Promise<void>;
  /** PostgreSQL only: the pool's connections now (a pool all in use, requests waiting, is busy, not down). */
  connectionUse?(): ConnectionUse;
  /** For tests and benchmarks: the plan the backend picks for a list query, and which index it walks. */
  explainList(project: string, params: ListParams): Promise<ListPlan>;
  /**
   * Everything the database holds (settings, every project's completions with
   * their storage times, tombstones), in batches of about `batchSize`, read by
   * keyset so memory stays flat: the source side of `copy`. A batch of completions
   * also stops before it holds more than BATCH_TEXT_CHARACTERS of text (at least one).
   */
  dump(batchSize: number): AsyncGenerator<DumpItem[]>;
  /** Writes dumped items in one transaction: the target side of `copy`. */
  restore(items: DumpItem[]): Promise<void>;
  /** True when nothing was stored (no project; no setting but those of unstored-settings.ts): `copy` only writes into such a database. */
  isEmpty(): Promise<boolean>;
  /** How many completions and deleted ids every project holds in all: `copy` checks that its target holds what it wrote, and only that. */
  holdings(): Promise<{ completions: number; deletedIds: number }>;
  /** Releases the database (connections, file handles). */
  close(): Promise<void>;
}
