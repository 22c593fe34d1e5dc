import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './db/client.ts';
import { ApiError } from './errors.ts';
import type { ListParams, Metadata, PageParams, SortOrder } from './validation.ts';

/**
 * All SQL lives here. The store speaks in rows of pre-serialized JSON text; the
 * wire module turns them into OpenAI's objects. better-sqlite3 is synchronous,
 * so each method below runs start to end without yielding, and the write
 * methods wrap their statements in one transaction: a completion and all its
 * rows commit together or not at all.
 */

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

export interface MessageRow {
  idx: number;
  body: string;
}

/** A filter the list can walk in (created, id) order, or check for one row. */
interface ListFilter {
  table: 'metadata' | 'completion_models';
  where: string;
  args: string[];
}


/** The table whose index a list query walks in order, and the filter values it walks (none for `completions`). */
export interface WalkedIndex {
  table: 'completions' | ListFilter['table'];
  args: string[];
}

export interface ListPlan {
  /** Undefined when the project has stored nothing (no query runs). */
  walked: WalkedIndex | undefined;
  /** The `detail` column of `EXPLAIN QUERY PLAN`, one line per step. */
  steps: string[];
}

/** Prefixes a filter's column names with a table alias: `key = ?` -> `w.key = ?`. */
function qualify(where: string, alias: string): string {
  return where.replace(/(\w+) = \?/g, `${alias}.$1 = ?`);
}

// The ordered subquery feeds group_concat in the choices' primary-key order; `group_concat(... ORDER BY idx)`
// would build and sort a temporary b-tree for every row of the page instead.
const COMPLETION_COLUMNS = `c.id, c.body, c.metadata,
  (SELECT group_concat(body, ',') FROM (SELECT ch.body FROM choices ch WHERE ch.completion_seq = c.seq ORDER BY ch.idx)) AS choices`;

export type Store = ReturnType<typeof createStore>;

export function createStore(db: SqliteDatabase) {
  const statements = new Map<string, Statement>();
  /** Prepares each distinct SQL text once; list queries come in a few dozen shapes. */
  const prepare = (sql: string): Statement => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };

  const projectIds = new Map<string, number>();

  function findProjectId(name: string): number | undefined {
    const cached = projectIds.get(name);
    if (cached !== undefined) return cached;
    const row = prepare('SELECT id FROM projects WHERE name = ?').get(name) as { id: number } | undefined;
    if (row) projectIds.set(name, row.id);
    return row?.id;
  }

  function ensureProjectId(name: string): number {
    const existing = findProjectId(name);
    if (existing !== undefined) return existing;
    const row = prepare('INSERT INTO projects (name) VALUES (?) RETURNING id').get(name) as { id: number };
    projectIds.set(name, row.id);
    return row.id;
  }

  /** The completion's position, whether it is stored or was deleted; undefined when never stored. */
  function findPosition(projectId: number, id: string): number | undefined {
    const row = prepare(
      `SELECT created FROM completions WHERE project_id = ? AND id = ?
       UNION ALL SELECT created FROM deleted_completions WHERE project_id = ? AND id = ? LIMIT 1`,
    ).get(projectId, id, projectId, id) as { created: number } | undefined;
    return row?.created;
  }

  function metadataFilter(key: string, value: string): ListFilter {
    return { table: 'metadata', where: 'key = ? AND value = ?', args: [key, value] };
  }

  function modelFilter(model: string): ListFilter {
    return { table: 'completion_models', where: 'model = ?', args: [model] };
  }

  /**
   * Where the filter's `reach`-th entry after the cursor lies in walk order;
   * undefined when fewer entries are left. Of several filters, the one whose
   * entry lies farthest is the rarest where the page is, so walking it touches
   * the fewest entries. Costs `reach` index steps, whatever the table's size
   * (a count would have to be capped, and two capped counts tell nothing).
   */
  function findReach(
    projectId: number,
    filter: ListFilter,
    cursor: { created: number; id: string } | undefined,
    order: SortOrder,
    reach: number,
  ): { created: number; id: string } | undefined {
    const direction = order === 'asc' ? 'ASC' : 'DESC';
    const after = cursor ? ` AND (created, completion_id) ${order === 'asc' ? '>' : '<'} (?, ?)` : '';
    return prepare(
      `SELECT created, completion_id AS id FROM ${filter.table} WHERE project_id = ? AND ${filter.where}${after}
       ORDER BY created ${direction}, completion_id ${direction} LIMIT 1 OFFSET ?`,
    ).get(projectId, ...filter.args, ...(cursor ? [cursor.created, cursor.id] : []), reach - 1) as
      | { created: number; id: string }
      | undefined;
  }

  /** The filters, rarest near the cursor first: the first is walked, the others are checked per row. */
  function rankFilters(
    projectId: number,
    filters: ListFilter[],
    cursor: { created: number; id: string } | undefined,
    order: SortOrder,
    reach: number,
  ): ListFilter[] {
    if (filters.length < 2) return filters;
    const reaches = new Map(filters.map((f) => [f, findReach(projectId, f, cursor, order, reach)]));
    const sign = order === 'asc' ? -1 : 1;
    // Array.prototype.sort is stable: filters that tie keep the order the query named them in.
    return [...filters].sort((a, b) => {
      const ra = reaches.get(a);
      const rb = reaches.get(b);
      if (!ra || !rb) return ra ? 1 : rb ? -1 : 0;
      if (ra.created !== rb.created) return sign * (ra.created - rb.created);
      return ra.id === rb.id ? 0 : sign * (ra.id < rb.id ? -1 : 1);
    });
  }

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

  function insertCompletion(projectId: number, record: CompletionRecord): void {
    const { seq } = prepare(
      `INSERT INTO completions (project_id, id, created, model, requested_model, metadata, body, stored_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
    ).get(
      projectId,
      record.id,
      record.created,
      record.model,
      record.requestedModel,
      JSON.stringify(record.metadata),
      record.body,
      record.storedAt,
    ) as { seq: number };
    const insertChoice = prepare('INSERT INTO choices (completion_seq, idx, body) VALUES (?, ?, ?)');
    record.choices.forEach((body, idx) => insertChoice.run(seq, idx, body));
    const insertMessage = prepare('INSERT INTO input_messages (completion_seq, idx, body) VALUES (?, ?, ?)');
    record.messages.forEach((body, idx) => insertMessage.run(seq, idx, body));
    insertPairs(projectId, record.metadata, record.created, record.id);
    const insertModel = prepare('INSERT INTO completion_models (project_id, model, created, completion_id) VALUES (?, ?, ?, ?)');
    insertModel.run(projectId, record.requestedModel, record.created, record.id);
    if (record.model !== record.requestedModel) insertModel.run(projectId, record.model, record.created, record.id);
  }

  // Project ids are resolved (and a new project committed) before a write's transaction opens:
  // an id cached from a transaction that then rolled back could later be handed to another project.
  const save = db.transaction(insertCompletion);

  // Calls the unwrapped insert: a nested transaction would cost a SAVEPOINT and RELEASE per completion.
  const saveMany = db.transaction((writes: [projectId: number, record: CompletionRecord][]) => {
    for (const [projectId, record] of writes) insertCompletion(projectId, record);
  });

  const updateMetadata = db.transaction((projectName: string, id: string, metadata: Metadata): CompletionRow | undefined => {
    const projectId = findProjectId(projectName);
    if (projectId === undefined) return undefined;
    const row = prepare('SELECT created, metadata FROM completions WHERE project_id = ? AND id = ?').get(projectId, id) as
      | { created: number; metadata: string }
      | undefined;
    if (!row) return undefined;
    deletePairs(projectId, row.metadata, row.created, id);
    insertPairs(projectId, metadata, row.created, id);
    prepare('UPDATE completions SET metadata = ? WHERE project_id = ? AND id = ?').run(JSON.stringify(metadata), projectId, id);
    return getCompletion(projectName, id);
  });

  /** What removing a completion needs to know: where its index rows are. */
  interface StoredPosition {
    seq: number;
    projectId: number;
    id: string;
    created: number;
    model: string;
    requestedModel: string;
    metadata: string;
  }

  const POSITION_COLUMNS = 'seq, project_id AS projectId, id, created, model, requested_model AS requestedModel, metadata';

  /** Removes a completion and every row that points at it; the one place that knows them all. */
  function removeCompletion(row: StoredPosition): void {
    deletePairs(row.projectId, row.metadata, row.created, row.id);
    const removeModel = prepare(
      'DELETE FROM completion_models WHERE project_id = ? AND model = ? AND created = ? AND completion_id = ?',
    );
    removeModel.run(row.projectId, row.requestedModel, row.created, row.id);
    removeModel.run(row.projectId, row.model, row.created, row.id);
    // Choices and input messages go with it through their foreign keys' cascade.
    prepare('DELETE FROM completions WHERE seq = ?').run(row.seq);
  }

  const deleteCompletion = db.transaction((projectName: string, id: string): boolean => {
    const projectId = findProjectId(projectName);
    if (projectId === undefined) return false;
    const row = prepare(`SELECT ${POSITION_COLUMNS} FROM completions WHERE project_id = ? AND id = ?`).get(projectId, id) as
      | StoredPosition
      | undefined;
    if (!row) return false;
    removeCompletion(row);
    prepare('INSERT OR IGNORE INTO deleted_completions (project_id, id, created) VALUES (?, ?, ?)').run(projectId, id, row.created);
    return true;
  });

  /**
   * Removes up to `batchSize` completions stored before `storedBefore` (unix
   * seconds), oldest first, in one transaction, and returns how many. No tombstones: expired
   * data is meant to free space, and an `after` cursor naming an expired
   * completion is as unknown as one never stored.
   */
  const deleteExpired = db.transaction((storedBefore: number, batchSize: number): number => {
    const rows = prepare(`SELECT ${POSITION_COLUMNS} FROM completions WHERE stored_at < ? ORDER BY stored_at LIMIT ?`).all(
      storedBefore,
      batchSize,
    ) as StoredPosition[];
    for (const row of rows) removeCompletion(row);
    return rows.length;
  });

  function getCompletion(projectName: string, id: string): CompletionRow | undefined {
    const projectId = findProjectId(projectName);
    if (projectId === undefined) return undefined;
    return prepare(`SELECT ${COMPLETION_COLUMNS} FROM completions c WHERE c.project_id = ? AND c.id = ?`).get(projectId, id) as
      | CompletionRow
      | undefined;
  }

  /**
   * One keyset page in (created, id) order. With filters, the rarest one's
   * index is walked in order and the others are checked per row by a point
   * lookup, so the cost follows the page size, not the table size.
   */
  function listCompletions(projectName: string, params: ListParams): Page<CompletionRow> {
    const query = buildListQuery(projectName, params);
    if (!query) return { items: [], hasMore: false };
    const rows = prepare(query.sql).all(...query.args) as CompletionRow[];
    const hasMore = rows.length > params.limit;
    if (hasMore) rows.pop();
    return { items: rows, hasMore };
  }

  /** The SQL and arguments of a list page, and the index it walks; undefined when the project has stored nothing yet. */
  function buildListQuery(projectName: string, params: ListParams): { sql: string; args: unknown[]; walked: WalkedIndex } | undefined {
    const projectId = findProjectId(projectName);
    const cursor = resolveCursor(projectId, params.after);
    if (projectId === undefined) return undefined;

    const filters: ListFilter[] = params.metadata.map(([k, v]) => metadataFilter(k, v));
    if (params.model !== undefined) filters.push(modelFilter(params.model));
    const direction = params.order === 'asc' ? 'ASC' : 'DESC';
    const comparison = params.order === 'asc' ? '>' : '<';
    const args: unknown[] = [];
    let sql: string;
    let walked: WalkedIndex;

    if (filters.length === 0) {
      walked = { table: 'completions', args: [] };
      sql = `SELECT ${COMPLETION_COLUMNS} FROM completions c WHERE c.project_id = ?`;
      args.push(projectId);
      if (cursor) {
        sql += ` AND (c.created, c.id) ${comparison} (?, ?)`;
        args.push(cursor.created, cursor.id);
      }
      sql += ` ORDER BY c.created ${direction}, c.id ${direction} LIMIT ?`;
    } else {
      const [first, ...checked] = rankFilters(projectId, filters, cursor, params.order, params.limit + 1) as [
        ListFilter,
        ...ListFilter[],
      ];
      walked = { table: first.table, args: first.args };
      // CROSS JOIN pins the walked index as the outer loop, so rows come out in its order.
      sql = `SELECT ${COMPLETION_COLUMNS} FROM ${first.table} w
        CROSS JOIN completions c ON c.project_id = w.project_id AND c.id = w.completion_id
        WHERE w.project_id = ? AND ${qualify(first.where, 'w')}`;
      args.push(projectId, ...first.args);
      for (const filter of checked) {
        sql += ` AND EXISTS (SELECT 1 FROM ${filter.table} x WHERE x.project_id = w.project_id AND ${qualify(filter.where, 'x')}
          AND x.created = w.created AND x.completion_id = w.completion_id)`;
        args.push(...filter.args);
      }
      if (cursor) {
        sql += ` AND (w.created, w.completion_id) ${comparison} (?, ?)`;
        args.push(cursor.created, cursor.id);
      }
      sql += ` ORDER BY w.created ${direction}, w.completion_id ${direction} LIMIT ?`;
    }
    args.push(params.limit + 1);
    return { sql, args, walked };
  }

  /**
   * `EXPLAIN QUERY PLAN` of a list page's query, and which filter's index it
   * walks: lets tests check that it walks one index in order, the rarest.
   */
  function explainList(projectName: string, params: ListParams): ListPlan {
    const query = buildListQuery(projectName, params);
    if (!query) return { walked: undefined, steps: [] };
    const rows = db.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...query.args) as { detail: string }[];
    return { walked: query.walked, steps: rows.map((r) => r.detail) };
  }

  /** The `after` cursor's position; a 400 when the id was never stored in this project. */
  function resolveCursor(projectId: number | undefined, after: string | undefined): { created: number; id: string } | undefined {
    if (after === undefined) return undefined;
    const created = projectId === undefined ? undefined : findPosition(projectId, after);
    if (created === undefined) {
      throw ApiError.badRequest(`Invalid 'after': no chat completion found with id '${after}'.`, 'after');
    }
    return { created, id: after };
  }

  /** A completion's input messages, or undefined when the completion does not exist (for this project). */
  function listMessages(projectName: string, completionId: string, params: PageParams): Page<MessageRow> | undefined {
    const projectId = findProjectId(projectName);
    if (projectId === undefined) return undefined;
    const completion = prepare('SELECT seq FROM completions WHERE project_id = ? AND id = ?').get(projectId, completionId) as
      | { seq: number }
      | undefined;
    if (!completion) return undefined;

    let afterIdx: number | undefined;
    if (params.after !== undefined) {
      const prefix = `${completionId}-`;
      const suffix = params.after.startsWith(prefix) ? params.after.slice(prefix.length) : '';
      afterIdx = /^(0|[1-9]\d{0,8})$/.test(suffix) ? Number(suffix) : undefined;
      const exists =
        afterIdx !== undefined &&
        prepare('SELECT 1 FROM input_messages WHERE completion_seq = ? AND idx = ?').get(completion.seq, afterIdx);
      if (!exists) {
        throw ApiError.badRequest(
          `Invalid 'after': no message found with id '${params.after}' in chat completion '${completionId}'.`,
          'after',
        );
      }
    }
    const direction = params.order === 'asc' ? 'ASC' : 'DESC';
    const comparison = params.order === 'asc' ? '>' : '<';
    const rows = prepare(
      `SELECT idx, body FROM input_messages WHERE completion_seq = ?${afterIdx === undefined ? '' : ` AND idx ${comparison} ?`}
       ORDER BY idx ${direction} LIMIT ?`,
    ).all(...(afterIdx === undefined ? [completion.seq] : [completion.seq, afterIdx]), params.limit + 1) as MessageRow[];
    const hasMore = rows.length > params.limit;
    if (hasMore) rows.pop();
    return { items: rows, hasMore };
  }

  /** True when the id is stored or was stored (deleted ids stay taken so old cursors keep their meaning). */
  function isIdTaken(projectName: string, id: string): boolean {
    const projectId = findProjectId(projectName);
    return projectId !== undefined && findPosition(projectId, id) !== undefined;
  }

  /** A per-database value created on first use and kept from then on. */
  function getOrCreateSetting(key: string, create: () => string): string {
    prepare('INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)').run(key, create());
    return (prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string }).value;
  }

  return {
    saveCompletion: (projectName: string, record: CompletionRecord): void => save(ensureProjectId(projectName), record),
    /** Writes many completions of one project in one transaction (seeding, imports). */
    saveCompletions: (projectName: string, records: CompletionRecord[]): void => {
      const projectId = ensureProjectId(projectName);
      saveMany(records.map((record) => [projectId, record]));
    },
    /** Writes completions of any projects in one transaction: one commit for many creates (group commit). */
    saveCompletionBatch: (writes: [projectName: string, record: CompletionRecord][]): void =>
      saveMany(writes.map(([projectName, record]) => [ensureProjectId(projectName), record])),
    getCompletion,
    listCompletions,
    updateMetadata: (projectName: string, id: string, metadata: Metadata): CompletionRow | undefined =>
      updateMetadata(projectName, id, metadata),
    deleteCompletion: (projectName: string, id: string): boolean => deleteCompletion(projectName, id),
    /** Deletes up to `batchSize` completions stored before `storedBefore` (unix seconds); returns how many. */
    deleteExpired: (storedBefore: number, batchSize: number): number => deleteExpired(storedBefore, batchSize),
    listMessages,
    isIdTaken,
    getOrCreateSetting,
    /** For health checks: a trivial query that fails when the database does. */
    ping: (): void => {
      prepare('SELECT 1').get();
    },
    /** For tests and benchmarks: the plan SQLite picks for a list query. */
    explainList,
  };

}
