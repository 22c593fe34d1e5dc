import type { SqliteDatabase } from '../../db/client.ts';
import type { DumpItem } from '../contract.ts';
import { type DumpedRow as DumpedCompletion, toDumpedCompletion } from '../dumped-completion.ts';
import { splitChoices } from '../joined-choices.ts';
import { countWithin } from '../../batch-text.ts';
import { STORED_SIZE_SQL } from '../text-size.ts';
import type { ProjectIds } from './projects.ts';
import { LIMIT_PARAMETER, type Prepare } from './statements.ts';
import type { createRowWrites } from './writes.ts';
import type { WhenLockFree } from './write-lock.ts';
import { bodySql, choicesSql, messageSql } from './stored-json.ts';
import { COPIED_SETTINGS_SQL, UNSTORED_SETTINGS_SQL } from '../unstored-settings.ts';

/** The input messages of a range of completions, by completion. */
export function messageBodies(prepare: Prepare, seqs: number[]): Map<number, string[]> {
  const bodies = new Map<number, string[]>();
  const rows = prepare(
    `SELECT completion_seq AS seq, ${messageSql('body')} AS body FROM input_messages WHERE completion_seq IN (SELECT value FROM json_each(?)) ORDER BY completion_seq, idx`,
  ).all(JSON.stringify(seqs)) as { seq: number; body: string }[];
  for (const { seq, body } of rows) {
    let list = bodies.get(seq);
    if (!list) bodies.set(seq, (list = []));
    list.push(body);
  }
  return bodies;
}

/**
 * The whole database as dump items, and their restore: `copy` between
 * databases. Completions are read in storage order (`seq`) a batch at a time,
 * and written back through the same row writes as any save, so every index
 * table of the target is rebuilt by its own code.
 */
export function createDump(
  db: SqliteDatabase,
  prepare: Prepare,
  projects: ProjectIds,
  rows: ReturnType<typeof createRowWrites>,
  whenLockFree: WhenLockFree,
) {
  async function* dump(batchSize: number): AsyncGenerator<DumpItem[]> {
    // One read transaction for the whole dump: in WAL mode it sees one snapshot while the service goes on writing,
    // so a completion deleted meanwhile cannot arrive both as a completion and as a tombstone.
    db.exec('BEGIN');
    try {
      yield* dumpSnapshot(batchSize);
    } finally {
      db.exec('COMMIT');
    }
  }

  async function* dumpSnapshot(batchSize: number): AsyncGenerator<DumpItem[]> {
    const settings = prepare(`SELECT key, value FROM settings WHERE ${COPIED_SETTINGS_SQL} ORDER BY key`).all() as { key: string; value: string }[];
    if (settings.length > 0) yield settings.map(({ key, value }) => ({ kind: 'setting', key, value }));

    let afterSeq = 0;
    for (;;) {
      // The sizes first, then the texts of as many as 32 MiB holds (text-size.ts).
      const sized = prepare(`SELECT c.seq, ${STORED_SIZE_SQL} AS size FROM completions c WHERE c.seq > ? ORDER BY c.seq ${LIMIT_PARAMETER}`).all(
        afterSeq,
        batchSize,
      ) as { seq: number; size: number }[];
      if (sized.length === 0) break;
      const lastSeq = sized[countWithin(sized.map(({ size }) => size)) - 1]!.seq;
      const page = prepare(
        `SELECT c.seq, p.name AS project, c.id, c.created, c.stored_at AS storedAt, c.model, c.requested_model AS requestedModel, c.metadata,
           ${bodySql('c')} AS body, ${choicesSql('c.choices')} AS choices
         FROM completions c JOIN projects p ON p.id = c.project_id WHERE c.seq > ? AND c.seq <= ? ORDER BY c.seq`,
      ).all(afterSeq, lastSeq) as (DumpedCompletion & { choices: string })[];
      const seqs = page.map((c) => c.seq);
      const choices = new Map(page.map((c) => [c.seq, splitChoices(c.choices)]));
      const messages = messageBodies(prepare, seqs);
      yield page.map((c) => toDumpedCompletion(c, choices, messages));
      afterSeq = lastSeq;
    }

    let after: { projectId: number; id: string } = { projectId: 0, id: '' };
    for (;;) {
      const page = prepare(
        `SELECT d.project_id AS projectId, p.name AS project, d.id, d.created, d.expired_at AS expiredAt FROM deleted_completions d
         JOIN projects p ON p.id = d.project_id WHERE (d.project_id, d.id) > (?, ?) ORDER BY d.project_id, d.id ${LIMIT_PARAMETER}`,
      ).all(after.projectId, after.id, batchSize) as { projectId: number; project: string; id: string; created: number; expiredAt: number }[];
      if (page.length === 0) break;
      yield page.map(({ project, id, created, expiredAt }) => ({ kind: 'tombstone', project, id, created, expiredAt }));
      after = page.at(-1)!;
    }
  }

  const restoreAll = db.transaction((items: DumpItem[], projectIdOf: Map<string, number>) => {
    const inserts = rows.startInserts();
    for (const item of items) {
      // The target may hold a secret of its own, made by a service that stored nothing there (unstored-settings.ts): the source's wins.
      if (item.kind === 'setting') prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(item.key, item.value);
      else if (item.kind === 'completion') inserts.insert(projectIdOf.get(item.project)!, item.record);
      else inserts.insertTombstone(projectIdOf.get(item.project)!, item);
    }
    inserts.finish();
  });

  return {
    dump,
    async restore(items: DumpItem[]): Promise<void> {
      // Projects first, each committed on its own (as every write does), so no cached id comes from a rolled-back transaction.
      const projectIdOf = new Map<string, number>();
      for (const item of items) {
        if (item.kind !== 'setting' && !projectIdOf.has(item.project)) projectIdOf.set(item.project, await projects.ensure(item.project));
      }
      await whenLockFree(() => restoreAll.immediate(items, projectIdOf));
    },
    /** No project, and no setting but those a service leaves on a database it stored nothing in (`UNSTORED_SETTINGS`). */
    isEmpty(): boolean {
      return !prepare(`SELECT 1 FROM projects UNION ALL SELECT 1 FROM settings WHERE key NOT IN (${UNSTORED_SETTINGS_SQL}) LIMIT 1`).get();
    },
    holdings(): { completions: number; deletedIds: number } {
      return prepare('SELECT (SELECT count(*) FROM completions) AS completions, (SELECT count(*) FROM deleted_completions) AS deletedIds').get() as {
        completions: number;
        deletedIds: number;
      };
    },
  };
}
