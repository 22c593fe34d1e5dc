import type { Prepare } from './statements.ts';

/**
 * Project names to their small integer ids. Ids are cached once committed; a
 * new project is committed on its own, before the write that needs it opens its
 * transaction, so a cached id can never come from a transaction that rolled back.
 */
export function createProjectIds(prepare: Prepare) {
  const ids = new Map<string, number>();

  function find(name: string): number | undefined {
    const cached = ids.get(name);
    if (cached !== undefined) return cached;
    const row = prepare('SELECT id FROM projects WHERE name = ?').get(name) as { id: number } | undefined;
    if (row) ids.set(name, row.id);
    return row?.id;
  }

  function ensure(name: string): number {
    const existing = find(name);
    if (existing !== undefined) return existing;
    // Another process on the same database may create the same project at the same moment: its row is as good as ours.
    prepare('INSERT INTO projects (name) VALUES (?) ON CONFLICT (name) DO NOTHING').run(name);
    return find(name)!;
  }

  return { find, ensure };
}

export type ProjectIds = ReturnType<typeof createProjectIds>;
