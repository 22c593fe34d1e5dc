import type { SqlDatabase } from '../../db/sql-client.ts';
import type { DumpItem } from '../contract.ts';
import { type DumpedRow as DumpedCompletion, toDumpedCompletion } from '../dumped-completion.ts';
import { splitChoices } from '../joined-choices.ts';
import { countWithin } from '../../batch-text.ts';
import { STORED_SIZE_SQL } from '../text-size.ts';
import type { ProjectIds } from './projects.ts';
import { HELD_POSITION } from './list-sql.ts';
import { fromFilterText, limitLiteral } from './text.ts';
import { createRowWrites } from './writes.ts';
import { COPIED_SETTINGS_SQL, UNSTORED_SETTINGS_SQL } from '../unstored-settings.ts';

/** The input messages of some completions, by completion, in `idx` order. */
export async function messageBodies(db: Pick<SqlDatabase, 'query'>, seqs: number[]): Promise<Map<number, string[]>> {
  const bodies = new Map<number, string[]>();
  const rows = await db.query<{ seq: number; body: string }>(
    'SELECT completion_seq AS seq, body FROM input_messages WHERE completion_seq = ANY($1::int8[]) ORDER BY completion_seq, idx',
    [seqs],
  );
  for (const { seq, body } of rows) {
    let list = bodies.get(seq);
    if (!list) bodies.set(seq, (list = []));
    list.push(body);
  }
  return bodies;
}

/**
 * The whole database as dump items, and their restore (`copy` between
 * databases, either backend): read in one snapshot, by keyset, a batch at a
 * time; written back through the same row writes as any save.
 */
export function createDump(db: SqlDatabase, projects: ProjectIds) {
  async function* dump(batchSize: number): AsyncGenerator<DumpItem[]> {
    // One snapshot for the whole dump: a completion deleted meanwhile cannot arrive both as a completion and as a tombstone.
    const snapshot = await db.readSnapshot();
    try {
      const settings = await snapshot.query<{ key: string; value: string }>(`SELECT key, value FROM settings WHERE ${COPIED_SETTINGS_SQL} ORDER BY key`);
      if (settings.length > 0) yield settings.map(({ key, value }) => ({ kind: 'setting', key, value }));

      let afterSeq = 0;
      for (;;) {
        // The sizes first, then the texts of as many as 32 MiB holds (text-size.ts).
        const sized = await snapshot.query<{ seq: number; size: string }>(
          `SELECT c.seq, ${STORED_SIZE_SQL} AS size FROM completions c WHERE c.seq > $1 ORDER BY c.seq LIMIT ${limitLiteral(batchSize)}`,
          [afterSeq],
        );
        if (sized.length === 0) break;
        const lastSeq = sized[countWithin(sized.map(({ size }) => size)) - 1]!.seq;
        // model and requested_model hold filter text (text.ts): decoded below.
        const page = await snapshot.query<DumpedCompletion & { choices: string }>(
          `SELECT c.seq, p.name AS project, c.id, c.created, c.stored_at AS "storedAt", c.metadata, c.body, c.choices,
             c.model, c.requested_model AS "requestedModel"
           FROM completions c JOIN projects p ON p.id = c.project_id WHERE c.seq > $1 AND c.seq <= $2 ORDER BY c.seq`,
          [afterSeq, lastSeq],
        );
        const seqs = page.map((c) => c.seq);
        const choices = new Map(page.map((c) => [c.seq, splitChoices(c.choices)]));
        const messages = await messageBodies(snapshot, seqs);
        yield page.map((c) => toDumpedCompletion({ ...c, model: fromFilterText(c.model), requestedModel: fromFilterText(c.requestedModel) }, choices, messages));
        afterSeq = lastSeq;
      }

      let after = { projectId: 0, id: '' };
      for (;;) {
        const page = await snapshot.query<{ projectId: number; project: string; id: string; created: number; expiredAt: number }>(
          `SELECT d.project_id AS "projectId", p.name AS project, d.id, d.created, d.expired_at AS "expiredAt" FROM deleted_completions d
           JOIN projects p ON p.id = d.project_id WHERE (d.project_id, d.id) > ($1, $2) AND d.created <> ${HELD_POSITION} ORDER BY d.project_id, d.id LIMIT ${limitLiteral(batchSize)}`,
          [after.projectId, after.id],
        );
        if (page.length === 0) break;
        yield page.map(({ project, id, created, expiredAt }) => ({ kind: 'tombstone', project, id, created, expiredAt }));
        after = page.at(-1)!;
      }
    } finally {
      await snapshot.release();
    }
  }

  async function restore(items: DumpItem[]): Promise<void> {
    // Projects first, each committed on its own (as every write does), so no cached id comes from a rolled-back transaction.
    const projectIdOf = new Map<string, number>();
    for (const item of items) {
      if (item.kind !== 'setting' && !projectIdOf.has(item.project)) projectIdOf.set(item.project, await projects.ensure(item.project));
    }
    await db.transaction(async (tx) => {
      const settings = items.filter((item) => item.kind === 'setting');
      if (settings.length > 0) {
        // The target may hold a secret of its own, made by a service that stored nothing there (unstored-settings.ts): the source's wins.
        await tx.query(
          'INSERT INTO settings (key, value) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
          [
          settings.map((s) => s.key),
          settings.map((s) => s.value),
          ],
        );
      }
      const completions = items.filter((item) => item.kind === 'completion');
      if (completions.length > 0) {
        await createRowWrites(tx).insertCompletions(completions.map((c) => [projectIdOf.get(c.project)!, c.record]));
      }
      const tombstones = items.filter((item) => item.kind === 'tombstone');
      if (tombstones.length > 0) {
        await tx.query(
          'INSERT INTO deleted_completions (project_id, id, created, expired_at) SELECT * FROM unnest($1::int[], $2::text[], $3::int8[], $4::int8[])',
          [tombstones.map((t) => projectIdOf.get(t.project)!), tombstones.map((t) => t.id), tombstones.map((t) => t.created), tombstones.map((t) => t.expiredAt)],
        );
      }
    });
  }

  /** No project, and no setting but those a service leaves on a database it stored nothing in (`UNSTORED_SETTINGS`). */
  async function isEmpty(): Promise<boolean> {
    return (await db.query(`SELECT 1 FROM projects UNION ALL SELECT 1 FROM settings WHERE key NOT IN (${UNSTORED_SETTINGS_SQL}) LIMIT 1`)).length === 0;
  }

  async function holdings(): Promise<{ completions: number; deletedIds: number }> {
    const [row] = await db.query<{ completions: number; deleted_ids: number }>(
      `SELECT (SELECT count(*) FROM completions) AS completions, (SELECT count(*) FROM deleted_completions WHERE created <> ${HELD_POSITION}) AS deleted_ids`,
    );
    return { completions: row!.completions, deletedIds: row!.deleted_ids };
  }

  return { dump, restore, isEmpty, holdings };
}
