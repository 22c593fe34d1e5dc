import type { SqlDatabase } from '../../db/sql-client.ts';
import type { createListQueries } from './list-query.ts';
import type { ProjectIds } from './projects.ts';
import { isStorableId } from './text.ts';

/** What the PostgreSQL store's modules share: the database, and the project and list queries built once a store. */
export interface PostgresParts {
  db: SqlDatabase;
  projects: ProjectIds;
  lists: ReturnType<typeof createListQueries>;
}

/** The project's id when a completion `id` could be stored in it; undefined when nothing can match. */
export async function projectHolding(projects: ProjectIds, project: string, id: string): Promise<number | undefined> {
  return isStorableId(id) ? projects.find(project) : undefined;
}
