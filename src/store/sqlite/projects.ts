import type { Prepare } from './statements.ts';
import type { WhenLockFree } from './write-lock.ts';

/**
 * Project names to their small integer ids. Ids are cached once committed; a
 * new project is committed on its own, before the write that needs it opens its
 * transaction, so a cached id can never come from a transaction that rolled back.
 */
export function createProjectIds(prepare: Prepare, whenLockFree: WhenLockFree) {
  const ids = new Map<string, number>();

  function find(name: string): number | undefined {
    const cached = ids.get(name);
    if (cached !== undefined) return cached;
    const row = prepare('SELECT id FROM projects WHERE name = ?').get(name) as { id: number } | undefined;
    if (row) ids.set(name, row.id);
    return row?.id;
  }

  async function ensure(name: string): Promise<number> {
    const existing = find(name);
    if (existing !== undefined) return existing;
    // Another process on the same database may create the same project at the same moment: its row is as good as ours.
    await whenLockFree(() => prepare('INSERT INTO projects (name) VALUES (?) ON CONFLICT (name) DO NOTHING').run(name));
    return find(name)!;
  }

  return { find, ensure };
}

export type ProjectIds = ReturnType<typeof createProjectIds>;
