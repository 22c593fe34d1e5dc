import type { SqlDatabase, SqlSession } from '../../db/sql-client.ts';
import { parseStoredMetadata } from '../../key-order.ts';
import type { ListParams, Metadata } from '../../validation.ts';
import { applyMetadataChange, type MetadataChange, type MetadataChangeResult } from '../metadata-change.ts';
import { type CompletionRecord, type CompletionRow, type MessageRow, type Page, type Store } from '../contract.ts';
import { createDump } from './dump.ts';
import { STORED_SIZE_SQL } from '../text-size.ts';
import { COMPLETION_COLUMNS, createListQueries, HELD_POSITION as HELD, planCacheModeOf, runListQuery } from './list-query.ts';
import { listMessagePage } from './messages.ts';
import { createProjectIds } from './projects.ts';
import { isStorableId, limitLiteral } from './text.ts';
import { toCompletionListJson } from '../../wire.ts';
import { createRowWrites, ID_TAKEN_SQLSTATE, POSITION_COLUMNS, type StoredPosition } from './writes.ts';
import { createUsageQueries } from './usage.ts';

/**
 * The PostgreSQL backend: the same contract, tables and keyset design as the
 * SQLite one, for several instances sharing one database. Each write is one
 * transaction; rows that must agree across instances (one id per completion, one
 * project per name, the settings) are decided by the database's constraints,
 * never by a check in one instance's memory.
 */
export interface PostgresStoreOptions {
  /** Tests lower it to drive both search strategies over a small database (see SEARCH_SORT_THRESHOLD). */
  searchSortThreshold?: number;
  /** Tests lower it to cut a search's walk over a small database (see SEARCH_WALK_LIMIT). */
  searchWalkLimit?: number;
  /**
   * Tests set it to 0 so that a page walks for every search over the sort threshold, however few matches
   * its cut walk may find (see SEARCH_WALK_FILL): with the threshold and the cut lowered, a small database
   * then reaches the walk, the cut walk and its sort.
   */
  searchWalkFill?: number;
  /** Tests lower it to reach a truncated usage summary (see USAGE_WALK_LIMIT). */
  usageWalkLimit?: number;
  /** See GROUP_COMMITS_IN_FLIGHT. */
  groupCommitsInFlight?: number;
}

/**
 * Group commits the write batcher keeps in flight. A commit waits for the WAL's fsync (synchronous_commit
 * stays on); with two, the next group's statement runs while the last one's flush is under way. Measured
 * side by side in bench/README.md ("PostgreSQL, fourth round"): 2 and 4 both above 1, 4 no better than 2
 * on two cores, and each one in flight holds a pool connection that lists would otherwise get.
 */
export const GROUP_COMMITS_IN_FLIGHT = 2;

export function createPostgresStore(db: SqlDatabase, options: PostgresStoreOptions = {}): Store {
  const projects = createProjectIds(db);
  const lists = createListQueries(db, options.searchSortThreshold, options.searchWalkLimit, options.searchWalkFill);
  const dumps = createDump(db, projects);

  /** The project's id when a completion `id` could be stored in it; undefined when nothing can match. */
  async function projectHolding(project: string, id: string): Promise<number | undefined> {
    return isStorableId(id) ? projects.find(project) : undefined;
  }

  async function getCompletion(session: SqlSession, projectId: number, id: string): Promise<CompletionRow | undefined> {
    const [row] = await session.query<CompletionRow>(`SELECT ${COMPLETION_COLUMNS} FROM completions c WHERE c.project_id = $1 AND c.id = $2`, [
      projectId,
      id,
    ]);
    return row;
  }

  /**
   * All the completions or none: one INSERT statement that commits on its own, and a CompletionIdTaken
   * when the database finds one id already stored or deleted in its project (another instance may have
   * stored it a moment ago): the caller retries under a fresh id.
   */
  async function saveMany(writes: [projectId: number, record: CompletionRecord][]): Promise<void> {
    if (writes.length === 0) return;
    await createRowWrites(db).insertAllOrNone(writes);
  }

  /**
   * A stream's id held against the other instances: a tombstone row at a position no completion has (`created`
   * is bounded far inside int8), which every instance's insert of that id already refuses (its own check and
   * migration 0005's trigger): a plain create elsewhere is stored under a fresh id its client learns, and another
   * stream is given a fresh id at its first chunk. Deleted with the insert that stores the stream, or on release;
   * one a crash leaves only keeps an id nothing was stored under from being used. (HELD_POSITION in list-query.ts.)
   */
  const deleteHold = (session: SqlSession, projectId: number, id: string) =>
    session.query(`DELETE FROM deleted_completions WHERE project_id = $1 AND id = $2 AND created = ${HELD}`, [projectId, id]);

  /**
   * Each map read and rewritten in one transaction holding the rows (FOR UPDATE): a change another instance makes to
   * one of them meanwhile waits for this one's commit, then reads the map as this one left it (read committed reads
   * a locked row again once its lock is free). Locked in id order, so two requests naming the same completions in any
   * order wait for each other rather than deadlock.
   */
  function changeMetadataOf(projectId: number, ids: string[], change: MetadataChange): Promise<Map<string, MetadataChangeResult>> {
    return db.transaction(async (tx) => {
      const stored = await tx.query<{ id: string; created: number; metadata: string }>(
        'SELECT id, created, metadata FROM completions WHERE project_id = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE',
        [projectId, ids],
      );
      const results = new Map<string, MetadataChangeResult>();
      const writes: { id: string; created: number; metadata: string; replacement: Metadata }[] = [];
      for (const row of stored) {
        const previous = parseStoredMetadata(row.metadata);
        const { outcome, metadata } = applyMetadataChange(previous, change);
        if (outcome === 'updated') writes.push({ ...row, replacement: metadata });
        results.set(row.id, { id: row.id, outcome, metadata, previous });
      }
      await createRowWrites(tx).replaceMetadata(projectId, writes);
      return results;
    });
  }

  /** Names the statements explainList prepares, each deallocated after its EXPLAIN. */
  let explained = 0;

  const summarizeUsage = createUsageQueries(db, lists, options.usageWalkLimit);

  /**
   * One statement a page (the cursor's position is read inside it), each row `columns`; an empty page with a
   * cursor also checks the cursor exists. One row more than the page's limit when there is more.
   */
  async function listRows<Row>(project: string, params: ListParams, columns?: string): Promise<Row[]> {
    const projectId = await projects.find(project);
    const query = await lists.buildListQuery(projectId, params, { columns });
    let rows = query ? await runListQuery<Row>(db, query, query.sql, query.args) : [];
    if (query?.wasWalkCut && rows.length <= params.limit && (await query.wasWalkCut())) {
      // The search's walk was cut before the page filled: the words are rare there after all, so sort their matches.
      const sorted = (await lists.buildListQuery(projectId, params, { columns, sortSearchMatches: true }))!;
      rows = await runListQuery<Row>(db, sorted, sorted.sql, sorted.args);
    }
    if (rows.length === 0) await lists.checkCursor(projectId, params.after);
    return rows;
  }

  async function listCompletions(project: string, params: ListParams): Promise<Page<CompletionRow>> {
    const items = await listRows<CompletionRow>(project, params);
    const hasMore = items.length > params.limit;
    if (hasMore) items.pop();
    return { items, hasMore };
  }

  /** The ids and sizes (a bigint's sum: a string from the driver) of the same page. */
  async function listCompletionSizes(project: string, params: ListParams): Promise<Page<{ id: string; size: number }>> {
    const sized = await listRows<{ id: string; size: string }>(project, params, `c.id, ${STORED_SIZE_SQL} AS size`);
    const hasMore = sized.length > params.limit;
    if (hasMore) sized.pop();
    return { items: sized.map(({ id, size }) => ({ id, size: Number(size) })), hasMore };
  }

  async function listCompletionsOf(project: string, ids: string[]): Promise<Map<string, CompletionRow>> {
    const projectId = await projects.find(project);
    const storable = ids.filter(isStorableId);
    if (projectId === undefined || storable.length === 0) return new Map();
    const rows = await db.query<CompletionRow>(`SELECT ${COMPLETION_COLUMNS} FROM completions c WHERE c.project_id = $1 AND c.id = ANY($2::text[])`, [
      projectId,
      storable,
    ]);
    return new Map(rows.map((row) => [row.id, row]));
  }

  /** The sizes (a bigint's sum: a string from the driver) of the named completions the project has. */
  async function completionSizesOf(project: string, ids: string[]): Promise<Map<string, number>> {
    const projectId = await projects.find(project);
    const storable = ids.filter(isStorableId);
    if (projectId === undefined || storable.length === 0) return new Map();
    const rows = await db.query<{ id: string; size: string }>(
      `SELECT c.id, ${STORED_SIZE_SQL} AS size FROM completions c WHERE c.project_id = $1 AND c.id = ANY($2::text[])`,
      [projectId, storable],
    );
    return new Map(rows.map(({ id, size }) => [id, Number(size)]));
  }

  /**
   * Writes the records in one transaction. An id another instance deleted while the insert waited for
   * it rolls the transaction back (migration 0005's trigger); written again, its tombstone is then in
   * the statement's snapshot and the id is skipped as taken. Deletes that keep racing are unlikely
   * past a few tries: after that, the error goes to the caller.
   */
  async function importOnce(projectId: number, records: CompletionRecord[], tries = 3): Promise<(string | undefined)[]> {
    try {
      return await db.transaction((tx) => createRowWrites(tx).insertCompletions(records.map((record) => [projectId, record])));
    } catch (err) {
      if ((err as { code?: unknown }).code !== ID_TAKEN_SQLSTATE || tries <= 1) throw err;
      return importOnce(projectId, records, tries - 1);
    }
  }

  /** Imports and copies (the command-line tool's import, mirror and copy). */
  const transfers: Pick<Store, 'importCompletions' | 'settleSearchIndex' | 'listMessagesOf' | 'dump' | 'restore' | 'isEmpty' | 'holdings'> = {
    // The search index is one GIN index (its pending list bounded by gin_pending_list_limit): no segments for a bulk write to leave.
    settleSearchIndex: async () => false,
    /** Writes the completions whose ids the project never had (stored, deleted, or earlier in `records`), in one transaction. */
    importCompletions: async (project: string, records: CompletionRecord[]): Promise<{ stored: number; skipped: string[] }> => {
      const projectId = await projects.ensure(project);
      const ids = await importOnce(projectId, records);
      const skipped = records.filter((_, i) => ids[i] === undefined).map((record) => record.id);
      return { stored: records.length - skipped.length, skipped };
    },
    /** Every input message of each named completion the project has, in order ([] for one without). */
    listMessagesOf: async (project: string, completionIds: string[]): Promise<Map<string, MessageRow[]>> => {
      const messages = new Map<string, MessageRow[]>();
      const projectId = await projects.find(project);
      const ids = completionIds.filter(isStorableId);
      if (projectId === undefined || ids.length === 0) return messages;
      const rows = await db.query<MessageRow & { completionId: string }>(
        `SELECT c.id AS "completionId", m.idx, m.body FROM completions c LEFT JOIN input_messages m ON m.completion_seq = c.seq
         WHERE c.project_id = $1 AND c.id = ANY($2::text[]) ORDER BY c.seq, m.idx`,
        [projectId, ids],
      );
      for (const { completionId, idx, body } of rows) {
        let list = messages.get(completionId);
        if (!list) messages.set(completionId, (list = []));
        if (idx !== null) list.push({ idx, body });
      }
      return messages;
    },
    dump: dumps.dump,
    restore: dumps.restore,
    isEmpty: dumps.isEmpty,
    holdings: dumps.holdings,
  };

  return {
    groupCommitsInFlight: options.groupCommitsInFlight ?? GROUP_COMMITS_IN_FLIGHT,
    ...(db.connectionUse ? { connectionUse: db.connectionUse } : {}),
    ...transfers,
    saveCompletion: async (project, record) => saveMany([[await projects.ensure(project), record]]),
    saveCompletions: async (project, records) => {
      const projectId = await projects.ensure(project);
      await saveMany(records.map((record) => [projectId, record]));
    },
    saveCompletionBatch: async (writes) => {
      const projectIds = await Promise.all(writes.map(([project]) => projects.ensure(project)));
      await saveMany(writes.map(([, record], i) => [projectIds[i]!, record]));
    },
    getCompletion: async (project, id) => {
      const projectId = await projectHolding(project, id);
      return projectId === undefined ? undefined : getCompletion(db, projectId, id);
    },
    listCompletions,
    listCompletionSizes,
    listCompletionsOf,
    completionSizesOf,
    // Rows come as JavaScript strings from node-postgres anyway: serialized here as the other endpoints serialize them.
    listCompletionsJson: async (project, params) => toCompletionListJson(await listCompletions(project, params)),
    summarizeUsage: async (project, filters) => summarizeUsage(await projects.find(project), filters),
    updateMetadata: async (project, id, metadata) => {
      const projectId = await projectHolding(project, id);
      if (projectId === undefined) return undefined;
      return db.transaction(async (tx) => {
        // FOR UPDATE: two instances updating one completion at once apply one map after the other, never a mix.
        const [position] = await tx.query<{ created: number; metadata: string }>(
          'SELECT created, metadata FROM completions WHERE project_id = $1 AND id = $2 FOR UPDATE',
          [projectId, id],
        );
        if (!position) return undefined;
        await createRowWrites(tx).replaceMetadata(projectId, [{ id, ...position, replacement: metadata }]);
        return getCompletion(tx, projectId, id);
      });
    },
    changeMetadata: async (project, ids, change) => {
      const projectId = await projects.find(project);
      const storable = ids.filter(isStorableId);
      const found = projectId === undefined || storable.length === 0 ? new Map<string, MetadataChangeResult>() : await changeMetadataOf(projectId, storable, change);
      return ids.map((id) => found.get(id) ?? { id, outcome: 'not_found' });
    },
    deleteCompletion: async (project, id) => {
      const projectId = await projectHolding(project, id);
      if (projectId === undefined) return false;
      return db.transaction(async (tx) => {
        const [row] = await tx.query<StoredPosition>(
          `SELECT ${POSITION_COLUMNS} FROM completions WHERE project_id = $1 AND id = $2 FOR UPDATE`,
          [projectId, id],
        );
        if (!row) return false;
        await createRowWrites(tx).removeCompletions([row]);
        // Kept for good (expired_at 0), as on SQLite. A stream's hold of the id (one that found it stored and is about
        // to let go) gives way to it: left as a hold, its release would take the tombstone with it.
        await tx.query(
          `INSERT INTO deleted_completions (project_id, id, created) VALUES ($1, $2, $3)
           ON CONFLICT (project_id, id) DO UPDATE SET created = excluded.created, expired_at = excluded.expired_at WHERE deleted_completions.created = ${HELD}`,
          [projectId, id, row.created],
        );
        return true;
      });
    },
    // Tombstones as a delete leaves them (SQLite's deleteExpired says why). SKIP LOCKED: instances
    // sweeping at the same time take different rows.
    deleteExpired: async (storedBefore, batchSize, now) =>
      db.transaction(async (tx) => {
        const expired = await tx.query<StoredPosition>(
          `SELECT ${POSITION_COLUMNS} FROM completions WHERE stored_at < $1 ORDER BY stored_at LIMIT ${limitLiteral(batchSize)} FOR UPDATE SKIP LOCKED`,
          [storedBefore],
        );
        if (expired.length === 0) return 0;
        await createRowWrites(tx).removeCompletions(expired);
        await tx.query(
          `INSERT INTO deleted_completions (project_id, id, created, expired_at) SELECT *, $4::int8 FROM unnest($1::int[], $2::text[], $3::int8[])
           ON CONFLICT (project_id, id) DO UPDATE SET created = excluded.created, expired_at = excluded.expired_at WHERE deleted_completions.created = ${HELD}`,
          [expired.map((row) => row.projectId), expired.map((row) => row.id), expired.map((row) => row.created), now],
        );
        return expired.length;
      }),
    // Only tombstones retention made (expired_at > 0, the partial index's condition), as on SQLite.
    purgeTombstones: async (expiredBefore, batchSize) =>
      (
        await db.query(
          `DELETE FROM deleted_completions d USING (SELECT project_id, id FROM deleted_completions WHERE expired_at > 0 AND expired_at < $1
             ORDER BY expired_at LIMIT ${limitLiteral(batchSize)} FOR UPDATE SKIP LOCKED) old
           WHERE d.project_id = old.project_id AND d.id = old.id RETURNING 1`,
          [expiredBefore],
        )
      ).length,
    listMessages: async (project, completionId, params) => {
      const projectId = await projectHolding(project, completionId);
      return projectId === undefined ? undefined : listMessagePage(db, projectId, completionId, params);
    },
    holdStreamId: async (project, id) => {
      if (!isStorableId(id)) return 'taken';
      const projectId = await projects.ensure(project);
      const held = await db.query(
        `INSERT INTO deleted_completions (project_id, id, created, expired_at)
         SELECT $1::int, $2::text, ${HELD}, $3::int8 WHERE NOT EXISTS (SELECT 1 FROM completions WHERE project_id = $1::int AND id = $2::text)
         ON CONFLICT DO NOTHING RETURNING 1 AS held`,
        // Its time as `expired_at`: with retention on, one a crash left behind goes a window later (no stream lasts that long).
        [projectId, id, Math.floor(Date.now() / 1000)],
      );
      if (held.length === 0) return 'taken';
      // Committed, the hold stops every insert of the id whose trigger runs from now on; one already past its trigger
      // (or a held stream being stored) is in the unique index, where the probe waits for it (migration 0009).
      let taken: boolean;
      try {
        [{ taken }] = (await db.query<{ taken: boolean }>('SELECT completion_id_stored_or_storing($1::int, $2::text) AS taken', [projectId, id])) as [
          { taken: boolean },
        ];
      } catch (err) {
        // Not known to be free (a statement timeout behind a lock on completions, the server gone): not held either.
        await deleteHold(db, projectId, id).catch(() => {});
        throw err;
      }
      if (!taken) return 'held';
      await deleteHold(db, projectId, id);
      return 'taken';
    },
    releaseStreamId: async (project, id) => {
      const projectId = await projects.find(project);
      if (projectId !== undefined && isStorableId(id)) await deleteHold(db, projectId, id);
    },
    saveHeldCompletion: async (project, record) => {
      const projectId = await projects.ensure(project);
      await db.transaction(async (tx) => {
        await deleteHold(tx, projectId, record.id);
        await createRowWrites(tx).insertAllOrNone([[projectId, record]]);
      });
    },
    isIdTaken: async (project, id) => {
      const projectId = await projectHolding(project, id);
      return projectId !== undefined && (await lists.findPosition(projectId, id)) !== undefined;
    },
    getOrCreateSetting: async (key, create) => {
      // The first instance to write wins; every instance then reads that one value.
      await db.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, create()]);
      const [row] = await db.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
      return row!.value;
    },
    getSetting: async (key) => (await db.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]))[0]?.value,
    setSetting: async (key, value) => {
      await db.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
    },
    deleteSetting: async (key) => {
      await db.query('DELETE FROM settings WHERE key = $1', [key]);
    },
    replaceSetting: async (key, expected, value) => {
      // Each is one statement, so the row's lock decides between instances racing for it: one of them sees it changed.
      if (expected === undefined && value === undefined) return (await db.query('SELECT 1 FROM settings WHERE key = $1', [key])).length === 0;
      if (expected === undefined) {
        return (await db.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING 1', [key, value])).length === 1;
      }
      if (value === undefined) return (await db.query('DELETE FROM settings WHERE key = $1 AND value = $2 RETURNING 1', [key, expected])).length === 1;
      return (await db.query('UPDATE settings SET value = $1 WHERE key = $2 AND value = $3 RETURNING 1', [value, key, expected])).length === 1;
    },
    // A committed one-row write: only that proves the database can take one (the row is shared by every instance).
    // On a connection of its own: a pool all busy under load is not a database that cannot take a write.
    checkWritable: async () => {
      const own = db.apart ?? db;
      await own.query(
        "INSERT INTO settings (key, value) VALUES ('health_checked_at', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [String(Date.now())],
      );
      // The table every create writes: held by a lock (LOCK TABLE, a VACUUM FULL, a rewrite, a CREATE INDEX without
      // CONCURRENTLY), creates wait for the statement timeout and 503 while the settings row above still takes its
      // write. The lock an insert takes, taken and let go at once: a read's would pass a lock that lets reads by.
      await own.transaction(async (tx) => {
        await tx.query('LOCK TABLE completions IN ROW EXCLUSIVE MODE');
      });
    },
    explainList: async (project, params) => {
      const query = await lists.buildListQuery(await projects.find(project), params);
      if (!query) return { walked: undefined, steps: [] };
      // The plan the page runs with (generic but for a search: runListQuery); a statement that picks its walk
      // among several is run (ANALYZE): the walks it did not take are left out.
      const row = await db.transaction(async (tx) => {
        const name = `explained_list_${++explained}`;
        await tx.query(`SET LOCAL plan_cache_mode = ${planCacheModeOf(query)}`);
        await tx.query(`PREPARE ${name} AS ${query.sql}`);
        try {
          // EXECUTE's arguments cannot be bound parameters of the EXPLAIN: they are written in as literals.
          const values = query.args.map(sqlLiteral).join(', ');
          const [plan] = await tx.query<{ 'QUERY PLAN': unknown }>(
            `EXPLAIN (${query.branches ? 'ANALYZE, ' : ''}FORMAT JSON) EXECUTE ${name}${values ? `(${values})` : ''}`,
          );
          return plan;
        } finally {
          await tx.query(`DEALLOCATE ${name}`);
        }
      });
      const root = ((typeof row!['QUERY PLAN'] === 'string' ? JSON.parse(row!['QUERY PLAN']) : row!['QUERY PLAN']) as { Plan: PlanNode }[])[0]!.Plan;
      const taken = query.branches && takenBranch(root);
      return { walked: taken === undefined ? query.walked : query.branches![taken]!, steps: planSteps(root) };
    },
    close: () => db.close(),
  };
}

/** A list statement's argument (a number, a text, an array of texts) as an SQL literal, for explainList's EXECUTE. */
function sqlLiteral(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  if (Array.isArray(value)) return `ARRAY[${value.map(sqlLiteral).join(', ')}]::text[]`;
  throw new Error(`explainList: no literal for ${typeof value}`);
}

interface PlanNode {
  'Node Type': string;
  'Parent Relationship'?: string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Scan Direction'?: string;
  'Subplan Name'?: string;
  /** EXPLAIN ANALYZE only: 0 for a node never executed. */
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

const ran = (node: PlanNode) => node['Actual Loops'] !== 0;

/** Which member of the page's ordered UNION ALL walked an index (EXPLAIN ANALYZE of a statement with `branches`). */
function takenBranch(root: PlanNode): number | undefined {
  const walks = (node: PlanNode): boolean =>
    ran(node) && (/Index (Only )?Scan/.test(node['Node Type']) || (node.Plans ?? []).some((child) => child['Parent Relationship'] !== 'InitPlan' && walks(child)));
  const find = (node: PlanNode): number | undefined => {
    if (node['Node Type'] === 'Merge Append' || node['Node Type'] === 'Append') {
      const taken = (node.Plans ?? []).findIndex(walks);
      return taken < 0 ? undefined : taken;
    }
    for (const child of node.Plans ?? []) {
      if (child['Parent Relationship'] === 'InitPlan') continue;
      const taken = find(child);
      if (taken !== undefined) return taken;
    }
    return undefined;
  };
  return find(root);
}

/**
 * The plan as lines `<node type> [on <table>] [using <index>] [<direction>]`, depth first, indented by depth;
 * a subquery run once before the rest (the cursor's position) is marked `InitPlan: `, a CTE `CTE <name>: `;
 * nodes EXPLAIN ANALYZE found never executed are left out.
 */
function planSteps(root: PlanNode): string[] {
  const steps: string[] = [];
  const visit = (node: PlanNode, depth: number) => {
    if (!ran(node)) return;
    const cte = node['Subplan Name']?.startsWith('CTE ') ? `${node['Subplan Name']}: ` : undefined;
    let step = (cte ?? (node['Parent Relationship'] === 'InitPlan' ? 'InitPlan: ' : '')) + node['Node Type'];
    if (node['Relation Name']) step += ` on ${node['Relation Name']}`;
    if (node['Index Name']) step += ` using ${node['Index Name']}`;
    if (node['Scan Direction'] && node['Scan Direction'] !== 'NoMovement') step += ` ${node['Scan Direction']}`;
    steps.push(`${'  '.repeat(depth)}${step}`);
    for (const child of node.Plans ?? []) visit(child, depth + 1);
  };
  visit(root, 0);
  return steps;
}
