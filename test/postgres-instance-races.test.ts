import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { openPostgres } from '../src/db/postgres-client.ts';
import { openStore } from '../src/store/open.ts';
import { HELD_POSITION } from '../src/store/postgres/list-sql.ts';
import { backfillSearch } from '../src/store/postgres/search-backfill.ts';
import { backfillRecords } from './helpers/backfill-records.ts';
import { type ChildServer, startChildServer } from './helpers/child-server.ts';
import { completionToChunks, openSse } from './helpers/fake-sse.ts';
import { fakeCompletion, type FakeUpstream, sendJson, startFakeUpstream } from './helpers/fake-upstream.ts';
import { createTestDatabase, hasPostgresServer, noteSkippedServerCases, POSTGRES_OPTIONS } from './helpers/test-database.ts';

/**
 * Races between service processes on one PostgreSQL database that chance alone reaches only now and
 * then (a few in a thousand tries): the test holds a lock of its own to stop one instance at the
 * worst moment, waits until PostgreSQL shows the other one queued behind it, then lets both go.
 * Needs a real server; skipped with a note without TEST_POSTGRES_URL, unless REQUIRE_POSTGRES=1.
 */

const KEY = 'sk-race-key-000000001';
const withServer = hasPostgresServer();
if (!withServer) noteSkippedServerCases();

/** Resolves once `count` backends of the database wait for a lock. */
async function waitersReach(admin: pg.Client, count: number): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    // Inside a transaction (the test's admin holds its locks in one) the statistics views answer from a snapshot
    // taken at their first read: a backend that began to wait after it was never seen.
    await admin.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    if (rows[0]!.n >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never saw ${count} backends waiting for a lock`);
}

/** Two service processes on a new database, and a connection of the test's own to it. */
async function startTwoInstances(upstream: FakeUpstream): Promise<{ url: string; instances: ChildServer[]; admin: pg.Client }> {
  const url = await createTestDatabase();
  const instances: ChildServer[] = [];
  for (let i = 0; i < 2; i++) instances.push(await startChildServer({ databasePath: url, upstreamUrl: upstream.url }));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  return { url, instances, admin };
}

async function stopTwoInstances(instances: ChildServer[], admin: pg.Client | undefined, upstream: FakeUpstream | undefined): Promise<void> {
  await admin?.end();
  for (const instance of instances) instance.process.kill('SIGTERM');
  await Promise.all(instances.map((instance) => instance.exited));
  await upstream?.close();
}

describe.skipIf(!withServer)('two instances on one PostgreSQL database, caught at the worst moment', () => {
  let upstream: FakeUpstream;
  let instances: ChildServer[] = [];
  let admin: pg.Client;
  let nextId = '';
  let url = '';

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    upstream.handler = (request, res) => sendJson(res, 200, fakeCompletion(request.json!, nextId, 1_700_000_000));
    ({ url, instances, admin } = await startTwoInstances(upstream));
  }, 120_000);

  afterAll(() => stopTwoInstances(instances, admin, upstream));

  const clientOf = (server: ChildServer) => new OpenAI({ apiKey: KEY, baseURL: `${server.origin}/v1`, maxRetries: 0 });

  it('an upstream id created on one instance while another deletes it is still taken: the new completion gets a fresh id, the deleted one stays deleted', async () => {
    const [one, two] = instances.map(clientOf) as [OpenAI, OpenAI];
    nextId = 'chatcmpl-reused';
    const first = await one.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'first' }], store: true });
    expect(first.id).toBe('chatcmpl-reused');

    // Instance one's delete removes the row, then queues behind this transaction for the tombstone's key.
    await admin.query('BEGIN');
    await admin.query("INSERT INTO deleted_completions (project_id, id, created) SELECT id, 'chatcmpl-reused', 0 FROM projects");
    const deleting = one.chat.completions.delete('chatcmpl-reused');
    await waitersReach(admin, 1);
    // Instance two stores the same upstream id: it queues behind the delete, on the row the delete removes.
    const creating = two.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'second' }], store: true });
    await waitersReach(admin, 2);
    await admin.query('ROLLBACK');

    expect(await deleting).toEqual({ id: 'chatcmpl-reused', object: 'chat.completion.deleted', deleted: true });
    const second = await creating;
    expect(second.id).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
    for (const client of [one, two]) {
      await expect(client.chat.completions.retrieve('chatcmpl-reused')).rejects.toMatchObject({ status: 404 });
      const page = await client.chat.completions.list();
      expect(page.data.map((completion) => [completion.id, completion.choices[0]!.message.content])).toEqual([[second.id, 'echo 0: second']]);
    }
  });

  it("a delete while a stream's hold finds its id stored keeps its tombstone, and the hold's release leaves it: the id stays deleted", async () => {
    const [one] = instances.map(clientOf) as [OpenAI];
    nextId = 'chatcmpl-project-made';
    await one.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'first' }], store: true });
    const [{ id: projectId, name: project }] = (await admin.query<{ id: number; name: string }>('SELECT id, name FROM projects')).rows as [{ id: number; name: string }];
    const config = { ...loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'silent' }), databasePoolSize: POSTGRES_OPTIONS.poolSize };
    const [streaming, deleting] = [await openStore(config), await openStore(config)];
    const creator = new pg.Client({ connectionString: url });
    await creator.connect();
    try {
      // Another instance's insert of the id under way when the stream takes its hold: the hold's probe waits for it.
      await creator.query('BEGIN');
      await creator.query(
        "INSERT INTO completions (project_id, id, created, model, requested_model, metadata, body) VALUES ($1, 'chatcmpl-held-deleted', 1, 'm', 'm', '{}', '{}')",
        [projectId],
      );
      const holding = streaming.holdStreamId(project, 'chatcmpl-held-deleted');
      await waitersReach(admin, 1);
      // The hold's row kept from its release for a moment (a busy event loop): the insert commits, and is deleted.
      await admin.query('BEGIN');
      await admin.query("SELECT 1 FROM deleted_completions WHERE id = 'chatcmpl-held-deleted' FOR UPDATE");
      await creator.query('COMMIT');
      const deleted = deleting.deleteCompletion(project, 'chatcmpl-held-deleted');
      // Both wait for that row: the hold's release (its probe found the id stored) and the delete's tombstone.
      await waitersReach(admin, 2);
      await admin.query('COMMIT');
      expect(await holding).toBe('taken');
      expect(await deleted).toBe(true);
      expect((await admin.query("SELECT created FROM deleted_completions WHERE id = 'chatcmpl-held-deleted'")).rows).toEqual([{ created: '1' }]);
      expect(await deleting.isIdTaken(project, 'chatcmpl-held-deleted')).toBe(true);
    } finally {
      await admin.query('ROLLBACK').catch(() => {});
      await creator.end();
      await streaming.close();
      await deleting.close();
    }
  });

  it("a hold's probe answers taken when a delete's tombstone took the hold's place, free while the hold is there", async () => {
    const [one] = instances.map(clientOf) as [OpenAI];
    nextId = 'chatcmpl-probe-tombstone';
    await one.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'first' }], store: true });
    const [{ id: projectId }] = (await admin.query<{ id: number }>('SELECT id FROM projects')).rows as [{ id: number }];
    const probe = async (id: string) =>
      (await admin.query<{ taken: boolean }>('SELECT completion_id_stored_or_storing($1, $2) AS taken', [projectId, id])).rows[0]!.taken;
    // Held, not stored: free (the stream may keep it).
    await admin.query(`INSERT INTO deleted_completions (project_id, id, created) VALUES ($1, 'chatcmpl-probe-held', ${HELD_POSITION})`, [projectId]);
    expect(await probe('chatcmpl-probe-held')).toBe(false);
    // Stored: taken. Stored and deleted since, its tombstone over the hold (the hold's statement committed before): taken.
    expect(await probe('chatcmpl-probe-tombstone')).toBe(true);
    await admin.query("INSERT INTO deleted_completions (project_id, id, created) VALUES ($1, 'chatcmpl-probe-deleted', 1700000000)", [projectId]);
    expect(await probe('chatcmpl-probe-deleted')).toBe(true);
    expect((await admin.query("SELECT count(*)::int AS n FROM completions WHERE id LIKE 'chatcmpl-probe-%'")).rows).toEqual([{ n: 1 }]);
  });

  it("a stream's hold whose probe cannot finish (completions locked past the statement timeout) is let go, not left behind", async () => {
    const [one] = instances.map(clientOf) as [OpenAI];
    nextId = 'chatcmpl-probe-project';
    await one.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'first' }], store: true });
    const [{ name: project }] = (await admin.query<{ name: string }>('SELECT name FROM projects')).rows as [{ name: string }];
    const store = await openStore({
      ...loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'silent', DATABASE_STATEMENT_TIMEOUT_MS: '300' }),
      databasePoolSize: POSTGRES_OPTIONS.poolSize,
    });
    try {
      // What a CREATE INDEX on completions takes: inserts wait, and so does the probe's.
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE completions IN SHARE MODE');
      await expect(store.holdStreamId(project, 'chatcmpl-probe-cut')).rejects.toThrow();
      await admin.query('COMMIT');
      expect((await admin.query("SELECT count(*)::int AS n FROM deleted_completions WHERE id = 'chatcmpl-probe-cut'")).rows).toEqual([{ n: 0 }]);
      expect(await store.holdStreamId(project, 'chatcmpl-probe-cut')).toBe('held');
      await store.releaseStreamId(project, 'chatcmpl-probe-cut');
    } finally {
      await admin.query('ROLLBACK').catch(() => {});
      await store.close();
    }
  });

  it('an import (the command-line tool) of an id another instance deletes meanwhile skips it as taken, and imports the rest', async () => {
    const [one] = instances.map(clientOf) as [OpenAI];
    nextId = 'chatcmpl-imported-twice';
    await one.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'first' }], store: true });
    const project = (await admin.query<{ name: string }>('SELECT name FROM projects')).rows[0]!.name;
    const importer = await openStore({ ...loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'silent' }), databasePoolSize: POSTGRES_OPTIONS.poolSize });
    try {
      await admin.query('BEGIN');
      await admin.query("INSERT INTO deleted_completions (project_id, id, created) SELECT id, 'chatcmpl-imported-twice', 0 FROM projects");
      const deleting = one.chat.completions.delete('chatcmpl-imported-twice');
      await waitersReach(admin, 1);
      const [record] = backfillRecords();
      const importing = importer.importCompletions(project, [
        { ...record!, id: 'chatcmpl-imported-once' },
        { ...record!, id: 'chatcmpl-imported-twice' },
      ]);
      await waitersReach(admin, 2);
      await admin.query('ROLLBACK');

      expect(await deleting).toEqual({ id: 'chatcmpl-imported-twice', object: 'chat.completion.deleted', deleted: true });
      expect(await importing).toEqual({ stored: 1, skipped: ['chatcmpl-imported-twice'] });
      await expect(one.chat.completions.retrieve('chatcmpl-imported-twice')).rejects.toMatchObject({ status: 404 });
      // Imported as the record was written (its body's own id included): what matters is that it is there.
      await expect(one.chat.completions.retrieve('chatcmpl-imported-once')).resolves.toMatchObject({ object: 'chat.completion' });
    } finally {
      await importer.close();
    }
  });

  it('the messages of a completion deleted while they are read are a 404, never an empty page or a 400 on a valid cursor', async () => {
    const [one] = instances.map(clientOf) as [OpenAI];
    for (const after of [undefined, 0]) {
      nextId = `chatcmpl-messages-${after ?? 'none'}`;
      const messages = [{ role: 'user' as const, content: 'one' }, { role: 'user' as const, content: 'two' }];
      const created = await one.chat.completions.create({ model: 'gpt-4o', messages, store: true });
      // The read stops at the first statement that reads the messages' table; the completion is deleted meanwhile,
      // as another instance's delete does (its input messages go with it, by their foreign key).
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE input_messages IN ACCESS EXCLUSIVE MODE');
      const query = after === undefined ? '' : `?after=${created.id}-${after}`;
      const reading = fetch(`${instances[0]!.origin}/v1/chat/completions/${created.id}/messages${query}`, { headers: { authorization: `Bearer ${KEY}` } });
      await waitersReach(admin, 1);
      await admin.query('DELETE FROM completions WHERE id = $1', [created.id]);
      await admin.query('COMMIT');
      const res = await reading;
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 404,
        body: { error: { message: `No chat completion found with id '${created.id}'.`, type: 'invalid_request_error', param: null, code: null } },
      });
    }
  });

  it('an instance starting while another still indexes old completions for search waits for it before serving, and takes over what it left', async () => {
    const [one] = instances.map(clientOf) as [OpenAI];
    for (const word of ['paprika', 'saffron']) {
      nextId = `chatcmpl-backfill-${word}`;
      await one.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: word }], store: true });
    }
    // As migration 0001 leaves completions stored before it; the other instance holds them, mid-batch.
    await admin.query("UPDATE completions SET search_keys = NULL, search_text = NULL WHERE id LIKE 'chatcmpl-backfill-%'");
    await admin.query('BEGIN');
    await admin.query('SELECT seq FROM completions WHERE search_keys IS NULL FOR UPDATE');
    const starting = await openPostgres(url, POSTGRES_OPTIONS);
    try {
      let finished = false;
      const backfilling = backfillSearch(starting).finally(() => (finished = true));
      await waitersReach(admin, 1);
      expect(finished).toBe(false);
      // The other instance goes away before its batch commits: this one indexes the rows itself.
      await admin.query('ROLLBACK');
      expect(await backfilling).toBe(2);
      const page = await one.chat.completions.list({ search: 'saffron' } as OpenAI.Chat.Completions.ChatCompletionListParams);
      expect(page.data.map((completion) => completion.id)).toEqual(['chatcmpl-backfill-saffron']);
    } finally {
      await starting.close();
    }
  });
});

describe.skipIf(!withServer)('streams on two instances given one upstream id at once', () => {
  it('each client is told the id its completion is stored under, and a plain create meanwhile gets a fresh one', async () => {
    const SAME = 'chatcmpl-same-everywhere';
    const upstream = await startFakeUpstream();
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Each stream's first chunk at once, the rest once both clients have theirs: both ids are decided before either is stored.
    upstream.handler = async (request, res) => {
      const completion = fakeCompletion(request.json!, SAME, 1_700_000_000);
      if (request.json!.stream !== true) return sendJson(res, 200, completion);
      const includeUsage = (request.json!.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      const sse = openSse(res);
      const [first, ...rest] = completionToChunks(completion, { includeUsage });
      sse.send(first!);
      await gate;
      for (const chunk of rest) sse.send(chunk);
      sse.done();
    };
    const url = await createTestDatabase();
    const instances = [await startChildServer({ databasePath: url, upstreamUrl: upstream.url }), await startChildServer({ databasePath: url, upstreamUrl: upstream.url })];
    try {
      const clients = instances.map((server) => new OpenAI({ apiKey: KEY, baseURL: `${server.origin}/v1`, maxRetries: 0 }));
      const streams = await Promise.all(
        clients.map((client, i) =>
          client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `stream ${i}` }], store: true, stream: true, metadata: { who: `stream-${i}` } }),
        ),
      );
      const readers = streams.map((stream) => stream[Symbol.asyncIterator]());
      const told = (await Promise.all(readers.map((reader) => reader.next()))).map((first) => (first.value as { id: string }).id);
      // On the instance whose stream was not given the upstream's id (its own memory does not hold it there).
      const other = clients[told[0] === SAME ? 1 : 0]!;
      const plain = await other.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'plain' }], store: true, metadata: { who: 'plain' } });
      release();
      for (const reader of readers) while (!(await reader.next()).done);

      expect(told.filter((id) => id === SAME)).toHaveLength(1);
      expect(new Set([...told, plain.id]).size).toBe(3);
      const stored = await Promise.all([...told, plain.id].map(async (id) => (await clients[0]!.chat.completions.retrieve(id)).metadata));
      expect(stored).toEqual([{ who: 'stream-0' }, { who: 'stream-1' }, { who: 'plain' }]);
      // Nothing held is left behind: the id of the stream that was given it is an ordinary stored completion.
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        expect((await admin.query('SELECT count(*)::int AS n FROM deleted_completions')).rows).toEqual([{ n: 0 }]);
      } finally {
        await admin.end();
      }
    } finally {
      for (const instance of instances) instance.process.kill('SIGTERM');
      await Promise.all(instances.map((instance) => instance.exited));
      await upstream.close();
    }
  }, 60_000);
});

describe.skipIf(!withServer)('a stream and another create on two instances given one upstream id at the same moment', () => {
  it("tells each client the id its own completion is stored under, never the other one's", async () => {
    const upstream = await startFakeUpstream();
    // Both answers go out together, once both requests have arrived: the two ids are decided at the same moment.
    const waiting: (() => void)[] = [];
    upstream.handler = async (request, res) => {
      const completion = fakeCompletion(request.json!, String(request.json!.user), 1_700_000_000);
      const go = new Promise<void>((resolve) => waiting.push(resolve));
      if (waiting.length === 2) for (const release of waiting.splice(0)) release();
      await go;
      if (request.json!.stream !== true) return sendJson(res, 200, completion);
      const includeUsage = (request.json!.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      const sse = openSse(res);
      for (const chunk of completionToChunks(completion, { includeUsage })) sse.send(chunk);
      sse.done();
    };
    const url = await createTestDatabase();
    const instances = [await startChildServer({ databasePath: url, upstreamUrl: upstream.url }), await startChildServer({ databasePath: url, upstreamUrl: upstream.url })];
    try {
      const clients = instances.map((server) => new OpenAI({ apiKey: KEY, baseURL: `${server.origin}/v1`, maxRetries: 0 })) as [OpenAI, OpenAI];
      /** The id the client is told: a plain create's, or a stream's in its chunks. */
      const create = async (client: OpenAI, stream: boolean, content: string, user: string): Promise<string> => {
        const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }], store: true, user };
        if (!stream) return (await client.chat.completions.create(body)).id;
        let id = '';
        for await (const chunk of await client.chat.completions.create({ ...body, stream: true })) id ||= chunk.id;
        return id;
      };
      const wrong = [];
      for (let pair = 0; pair < 30; pair++) {
        // The provider gives both the same id (the request's `user`, which the fake answers with); every other pair, two streams.
        const user = `chatcmpl-twice-${pair}`;
        const contents = [`first ${pair}`, `second ${pair}`];
        const told = await Promise.all([create(clients[0], pair % 2 === 1, contents[0]!, user), create(clients[1], true, contents[1]!, user)]);
        const read = await Promise.all(told.map(async (id) => (await clients[0].chat.completions.messages.list(id)).data.map((m) => m.content)));
        if (told[0] === told[1] || read[0]![0] !== contents[0] || read[1]![0] !== contents[1]) wrong.push({ pair, told, read });
      }
      expect(wrong).toEqual([]);
      expect((await clients[0].chat.completions.list({ limit: 100 })).data).toHaveLength(60);
    } finally {
      for (const instance of instances) instance.process.kill('SIGTERM');
      await Promise.all(instances.map((instance) => instance.exited));
      await upstream.close();
    }
  }, 120_000);
});

describe.skipIf(!withServer)('two instances storing the same upstream ids at the same moment', () => {
  let upstream: FakeUpstream;
  let instances: ChildServer[] = [];
  let admin: pg.Client;
  let url = '';

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    ({ url, instances, admin } = await startTwoInstances(upstream));
  }, 120_000);

  afterAll(() => stopTwoInstances(instances, admin, upstream));

  it('two group commits storing the same upstream ids in opposite orders wait for each other in one order: no deadlock, no 503', async () => {
    // A provider that reuses ids (a counter per process, a few random digits) gives both instances the same ones.
    const ids = Array.from({ length: 12 }, (_, i) => `chatcmpl-reused-${String(i).padStart(2, '0')}`);
    const answers: { instance: number; id: string; send: () => void }[] = [];
    const handler = upstream.handler;
    upstream.handler = (request, res) => {
      const [instance, id] = (request.json!.messages as { content: string }[])[0]!.content.split(' ') as [string, string];
      const send = () => sendJson(res, 200, fakeCompletion(request.json!, id, 1_700_000_000));
      if (ids.includes(id)) answers.push({ instance: Number(instance), id, send });
      else send();
    };
    const clients = instances.map((server) => new OpenAI({ apiKey: KEY, baseURL: `${server.origin}/v1`, maxRetries: 0 }));
    const create = (instance: number, id: string) =>
      clients[instance]!.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${instance} ${id}` }], store: true });
    // Rows of the test's own, uncommitted: an insert of one of their ids waits for the transaction holding it.
    const holders = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })] as const;
    let settled: PromiseSettledResult<{ id: string }>[];
    try {
      const { id: probe } = await create(0, 'chatcmpl-project-probe');
      const [{ projectId }] = (await admin.query('SELECT project_id AS "projectId" FROM completions WHERE id = $1', [probe])).rows as [{ projectId: number }];
      const hold = async (holder: pg.Client, held: string[]) => {
        await holder.connect();
        await holder.query('BEGIN');
        for (const id of held) {
          await holder.query("INSERT INTO completions (project_id, id, created, model, requested_model, metadata, body) VALUES ($1, $2, 0, 'm', 'm', '{}', '{}')", [projectId, id]);
        }
      };
      const fillers = ['filler-0', 'filler-1', 'filler-2', 'filler-3'];
      await hold(holders[0], fillers);
      await hold(holders[1], [ids[5]!]);
      // Each instance's two group commits in flight wait on a filler's id, so the creates after them queue up as one group.
      const filled: Promise<{ id: string }>[] = [];
      for (const [i, filler] of fillers.entries()) {
        filled.push(create(i % 2, filler));
        await waitersReach(admin, i + 1);
      }
      const creates = [0, 1].flatMap((instance) => ids.map((id) => create(instance, id)));
      while (answers.length < creates.length) await new Promise((resolve) => setTimeout(resolve, 10));
      // The first instance's group in id order, the other's reversed.
      answers.sort((a, b) => a.instance - b.instance || (a.instance === 0 ? 1 : -1) * a.id.localeCompare(b.id));
      for (const answer of answers) {
        answer.send();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      // The fillers go: each instance's group inserts its ids up to the held one and waits there.
      const [{ fillersHolder }] = (await holders[0].query('SELECT pg_backend_pid() AS "fillersHolder"')).rows as [{ fillersHolder: number }];
      await holders[0].query('ROLLBACK');
      // Both groups waiting, and no other insert still running (a filler's, whose rows they may wait for first).
      for (let attempt = 0; ; attempt++) {
        await admin.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await admin.query<{ waiting: number; running: number }>(
          `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock' AND NOT $1 = ANY(pg_blocking_pids(pid)))::int AS waiting,
             count(*) FILTER (WHERE wait_event_type IS DISTINCT FROM 'Lock')::int AS running
           FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'WITH input%'`,
          [fillersHolder],
        );
        if (rows[0]!.waiting >= 2 && rows[0]!.running === 0) break;
        expect(attempt).toBeLessThan(400);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      // Let go, each goes on into the ids the other one inserted.
      await holders[1].query('ROLLBACK');
      settled = await Promise.allSettled([...creates, ...filled]);
    } finally {
      for (const holder of holders) await holder.end().catch(() => {});
      upstream.handler = handler;
    }
    expect(settled.filter((result) => result.status === 'rejected').map((result) => String(result.reason))).toEqual([]);
    const told = settled.slice(0, 24).map((result) => (result as PromiseFulfilledResult<{ id: string }>).value.id);
    expect(new Set(told).size).toBe(24);
    expect(told.filter((id) => ids.includes(id)).sort()).toEqual(ids);
    expect(instances.flatMap((instance) => instance.logs.filter((line) => line.msg === 'database unavailable'))).toEqual([]);
  }, 60_000);
});
