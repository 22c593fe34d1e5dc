import type { SqlSession } from '../../db/sql-client.ts';

/**
 * Project names to their small integer ids, cached once committed. A new
 * project is committed on its own, before the write that needs it: a cached id
 * never comes from a transaction that rolled back. Two instances creating the
 * same project at once both end up with the one row the unique name allows.
 */
export function createProjectIds(db: SqlSession) {
  const ids = new Map<string, number>();

  async function find(name: string): Promise<number | undefined> {
    const cached = ids.get(name);
    if (cached !== undefined) return cached;
    const [row] = await db.query<{ id: number }>('SELECT id FROM projects WHERE name = $1', [name]);
    if (row) ids.set(name, row.id);
    return row?.id;
  }

  async function ensure(name: string): Promise<number> {
    const existing = await find(name);
    if (existing !== undefined) return existing;
    const [inserted] = await db.query<{ id: number }>(
      'INSERT INTO projects (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id',
      [name],
    );
    // Nothing returned: another instance inserted it first; this statement's fresh snapshot sees its commit.
    const id = inserted?.id ?? (await find(name));
    if (id === undefined) throw new Error(`project '${name}' vanished while being created`);
    ids.set(name, id);
    return id;
  }

  return { find, ensure };
}

export type ProjectIds = ReturnType<typeof createProjectIds>;
