import { maskDatabaseUrl } from './db/database-url.ts';
import type { Store } from './store/index.ts';

/**
 * A setting `copy` keeps in its target from before the first write to after
 * the last: a database that still holds it was left by a copy that did not
 * finish (killed, a crash, a full disk), and holds only part of its source.
 * `copy` refuses it on either side, and the service warns when it starts on it.
 */
const UNFINISHED_COPY = 'copy_unfinished';

export interface UnfinishedCopy {
  /** The source, as typed, its password masked. */
  from: string;
  /** ISO time, to the second. */
  startedAt: string;
}

export async function markCopyUnfinished(target: Store, from: string): Promise<void> {
  const mark: UnfinishedCopy = { from: maskDatabaseUrl(from), startedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
  await target.setSetting(UNFINISHED_COPY, JSON.stringify(mark));
}

export async function markCopyFinished(target: Store): Promise<void> {
  await target.deleteSetting(UNFINISHED_COPY);
}

/** The mark of a copy into this database that did not finish, if there is one. */
export async function unfinishedCopyIn(store: Store): Promise<UnfinishedCopy | undefined> {
  const saved = await store.getSetting(UNFINISHED_COPY);
  return saved === undefined ? undefined : (JSON.parse(saved) as UnfinishedCopy);
}
