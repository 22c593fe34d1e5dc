import type { SqlDatabase } from '../../db/sql-client.ts';
import type { Store } from '../contract.ts';
import { createCompletionChanges } from './changes.ts';
import { createListExplainer } from './explain.ts';
import { createListQueries } from './list-query.ts';
import type { PostgresParts } from './parts.ts';
import { createProjectIds } from './projects.ts';
import { createCompletionReads } from './reads.ts';
import { createCompletionSaves } from './saves.ts';
import { createSettings } from './settings.ts';
import { createTransfers } from './transfers.ts';

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

/** The store, put together from its parts: each module holds one kind of work, all on the one pool. */
export function createPostgresStore(db: SqlDatabase, options: PostgresStoreOptions = {}): Store {
  const parts: PostgresParts = {
    db,
    projects: createProjectIds(db),
    lists: createListQueries(db, options.searchSortThreshold, options.searchWalkLimit, options.searchWalkFill),
  };
  return {
    groupCommitsInFlight: options.groupCommitsInFlight ?? GROUP_COMMITS_IN_FLIGHT,
    ...(db.connectionUse ? { connectionUse: db.connectionUse } : {}),
    ...createCompletionSaves(parts),
    ...createCompletionReads(parts, options.usageWalkLimit),
    ...createCompletionChanges(parts),
    ...createTransfers(parts),
    ...createSettings(db),
    ...createListExplainer(parts),
    close: () => db.close(),
  };
}
