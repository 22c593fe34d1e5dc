import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { startChildServer, stopChildren, type ChildServer } from './helpers/child-server.ts';
import { completionToChunks, openSse } from './helpers/fake-sse.ts';
import { fakeCompletion, sendJson, startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';

let upstream: FakeUpstream;
let folder: string;
const children: ChildServer[] = [];

beforeEach(async () => {
  upstream = await startFakeUpstream();
  folder = mkdtempSync(join(tmpdir(), 'stored-completions-processes-'));
});

afterEach(async () => {
  await stopChildren(children.splice(0), 'SIGTERM');
  await upstream.close();
  rmSync(folder, { recursive: true, force: true });
});

const KEY = 'sk-two-processes-0001';

/** Two service processes started at the same moment on one database file that does not exist yet. */
async function startTwo(databasePath: string): Promise<[ChildServer, ChildServer]> {
  const started = await Promise.allSettled([0, 1].map(() => startChildServer({ databasePath, upstreamUrl: upstream.url })));
  for (const result of started) if (result.status === 'fulfilled') children.push(result.value);
  const failures = started.filter((result) => result.status === 'rejected').map((result) => String((result as PromiseRejectedResult).reason));
  expect(failures).toEqual([]);
  return children.slice(-2) as [ChildServer, ChildServer];
}

async function call(child: ChildServer, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(child.origin + path, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Runs `tasks` with at most `width` in flight. */
async function pool<T>(tasks: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}

/** One list from several, taking one of each in turn: the kinds of work then overlap in time. */
function interleave<T>(...lists: T[][]): T[] {
  const out: T[] = [];
  for (let i = 0; i < Math.max(...lists.map((list) => list.length)); i++) for (const list of lists) if (i < list.length) out.push(list[i]!);
  return out;
}

describe('two service processes on one SQLite file', () => {
  it('both start when started at the same moment on a new file, three times over', async () => {
    for (const round of [1, 2, 3]) {
      const [a, b] = await startTwo(join(folder, `new-${round}.db`));
      expect((await call(a, 'GET', '/v1/chat/completions')).status).toBe(200);
      expect((await call(b, 'GET', '/v1/chat/completions')).status).toBe(200);
    }
  });

  it('concurrent creates, updates and deletes on both, and the same upstream id on both: every answer 200, nothing lost', async () => {
    // Requests whose last message starts with "same" all get one upstream id, as a provider reusing ids would.
    let counter = 0;
    upstream.handler = (request, res) => {
      const messages = request.json!.messages as { content: string }[];
      const id = messages.at(-1)!.content.startsWith('same') ? 'chatcmpl-same' : `chatcmpl-distinct-${++counter}`;
      sendJson(res, 200, fakeCompletion(request.json!, id, 1_700_000_000));
    };
    const databasePath = join(folder, 'shared.db');
    const processes = await startTwo(databasePath);
    const on = (i: number) => processes[i % 2]!;
    const statuses: number[] = [];
    const record = <T extends { status: number }>(answer: T): T => {
      statuses.push(answer.status);
      return answer;
    };

    const contents = [
      ...Array.from({ length: 120 }, (_, i) => `distinct ${i}`),
      ...Array.from({ length: 24 }, (_, i) => `same ${i}`),
    ];
    const created = await pool(
      contents.map((content, i) => async () => {
        const answer = record(await call(on(i), 'POST', '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content }], store: true, metadata: { n: String(i) } }));
        return { content, id: answer.json.id as string };
      }),
      24,
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const ids = created.map((c) => c.id);
    expect(new Set(ids).size).toBe(contents.length);
    expect(ids.filter((id) => id === 'chatcmpl-same')).toHaveLength(1);

    // Updates and deletes, on both processes at once, interleaved with more creates.
    const deleted = new Set(ids.filter((_, i) => i % 3 === 0));
    const updated = ids.filter((_, i) => i % 3 !== 0);
    const more: string[] = [];
    await pool(
      interleave(
        updated.map((id, i) => async () => {
          record(await call(on(i), 'POST', `/v1/chat/completions/${encodeURIComponent(id)}`, { metadata: { updated: 'yes', by: String(i % 2) } }));
        }),
        [...deleted].map((id, i) => async () => {
          record(await call(on(i + 1), 'DELETE', `/v1/chat/completions/${encodeURIComponent(id)}`));
        }),
        Array.from({ length: 40 }, (_, i) => async () => {
          const answer = record(await call(on(i), 'POST', '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: `same late ${i}` }], store: true }));
          more.push(answer.json.id as string);
        }),
      ),
      24,
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(new Set([...ids, ...more]).size).toBe(ids.length + more.length);

    // Nothing lost: each process sees every survivor with its last metadata, and no deleted one.
    for (const child of processes) {
      for (const id of updated) {
        const got = await call(child, 'GET', `/v1/chat/completions/${encodeURIComponent(id)}`);
        expect(got.status).toBe(200);
        expect(got.json.metadata).toMatchObject({ updated: 'yes' });
      }
      for (const id of more) expect((await call(child, 'GET', `/v1/chat/completions/${encodeURIComponent(id)}`)).status).toBe(200);
      for (const id of deleted) expect((await call(child, 'GET', `/v1/chat/completions/${encodeURIComponent(id)}`)).status).toBe(404);
    }
    const db = new Database(databasePath, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM completions').get()).toEqual({ n: updated.length + more.length });
      expect(db.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
    } finally {
      db.close();
    }
  });

  it('a stream whose upstream id the other process stores before its [DONE] is still stored, under a fresh id, nothing overwritten', async () => {
    const completion = fakeCompletion({ model: 'gpt-4o', messages: [{ content: 'streamed' }] }, 'chatcmpl-race', 1_700_000_000);
    const chunks = completionToChunks(completion, { includeUsage: true });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    upstream.handler = async (request, res) => {
      if (request.json!.stream !== true) return sendJson(res, 200, fakeCompletion(request.json!, 'chatcmpl-race', 1_700_000_000));
      const sse = openSse(res);
      sse.send(chunks[0]);
      await gate;
      for (const chunk of chunks.slice(1)) sse.send(chunk);
      sse.done();
    };
    const databasePath = join(folder, 'shared.db');
    const [a, b] = await startTwo(databasePath);
    const streamed = fetch(`${a.origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'streamed' }], stream: true, store: true }),
    });
    const streamResponse = await streamed;
    const reader = streamResponse.body!.getReader();
    // The first chunk has reached the client: process A has reserved the id. Now B stores it.
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"id":"chatcmpl-race"');
    const plain = await call(b, 'POST', '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'plain' }], store: true });
    expect(plain.status).toBe(200);
    expect(plain.json.id).toBe('chatcmpl-race');
    release();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    expect(rest.endsWith('data: [DONE]\n\n')).toBe(true);

    const db = new Database(databasePath, { readonly: true });
    try {
      const rows = db.prepare('SELECT id FROM completions ORDER BY seq').all() as { id: string }[];
      expect(rows.map((row) => row.id)).toEqual(['chatcmpl-race', expect.stringMatching(/^chatcmpl-[A-Za-z0-9]{29}$/)]);
      // The plain create kept its id and its content; the stream went under its own.
      expect((await call(a, 'GET', '/v1/chat/completions/chatcmpl-race')).json.choices).toEqual([
        expect.objectContaining({ message: expect.objectContaining({ content: 'echo 0: plain' }) }),
      ]);
      const fresh = await call(a, 'GET', `/v1/chat/completions/${rows[1]!.id}`);
      expect((fresh.json.choices as { message: { content: string } }[])[0]!.message.content).toBe('echo 0: streamed');
    } finally {
      db.close();
    }
  });
});

describe('two connections on one SQLite file, in one process', () => {
  /**
   * Another process's delete can land between the reads of a messages page (the completion, the
   * cursor's message, the page). Its statements are wrapped here (better-sqlite3's, not ours) so that
   * the delete lands exactly there: the page must still be one snapshot, as it was before the delete.
   */
  it('a messages page read while another connection deletes the completion answers from one snapshot', async () => {
    const path = join(folder, 'snapshot.db');
    const reader = openDatabase(path);
    const writer = openDatabase(path);
    const readerStore = createSqliteStore(reader);
    const writerStore = createSqliteStore(writer);
    try {
      const id = 'chatcmpl-snapshot-0001';
      const messages = [0, 1, 2].map((n) => JSON.stringify({ role: 'user', content: `question ${n}` }));
      await writerStore.saveCompletion('project-a', {
        id,
        created: 1_700_000_000,
        storedAt: 1_700_000_000,
        model: 'gpt-4o-2024-08-06',
        requestedModel: 'gpt-4o',
        metadata: {},
        body: JSON.stringify({ id, object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o-2024-08-06' }),
        choices: [],
        messages,
      });

      let deleteBetweenReads = false;
      const prepare = reader.prepare.bind(reader);
      reader.prepare = ((sql: string) => {
        const statement = prepare(sql);
        if (!sql.startsWith('SELECT seq FROM completions')) return statement;
        const get = statement.get.bind(statement);
        return Object.assign(statement, {
          get: (...args: unknown[]) => {
            const row = get(...args);
            if (deleteBetweenReads) {
              deleteBetweenReads = false;
              // Synchronous on SQLite, though the contract's method is async: the delete commits here.
              void writerStore.deleteCompletion('project-a', id);
            }
            return row;
          },
        });
      }) as typeof reader.prepare;

      deleteBetweenReads = true;
      const page = await readerStore.listMessages('project-a', id, { after: `${id}-0`, limit: 20, order: 'asc' });
      expect(deleteBetweenReads).toBe(false);
      expect(page).toEqual({ items: [1, 2].map((idx) => ({ idx, body: messages[idx] })), hasMore: false });
      // The delete did commit: the next read sees it.
      expect(await readerStore.listMessages('project-a', id, { after: undefined, limit: 20, order: 'asc' })).toBeUndefined();
    } finally {
      await readerStore.close();
      await writerStore.close();
    }
  });
});
