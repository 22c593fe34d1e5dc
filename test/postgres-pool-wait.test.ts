import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildServer, startChildServer, stopChildren } from './helpers/child-server.ts';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.ts';
import { createTestDatabase, hasPostgresServer, noteSkippedServerCases } from './helpers/test-database.ts';

/**
 * An instance whose pool has no connection to give (every one busy) while the database is fine: the 503 and
 * /healthz say that, not that the database failed. Needs a real server; skipped with a note without TEST_POSTGRES_URL.
 */

const withServer = hasPostgresServer();
if (!withServer) noteSkippedServerCases();

const KEY = 'sk-pool-wait-key-0001';
const OPENAI_503 = { error: { message: 'The database is unavailable; please retry your request shortly.', type: 'server_error', param: null, code: null } };
const POOL_WAIT = "no connection of the pool's 1 came free within 300 ms: all busy, or still opening";

describe.skipIf(!withServer)('a pool with no free connection', () => {
  let upstream: FakeUpstream;
  let url: string;
  let instance: ChildServer | undefined;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    url = await createTestDatabase();
  }, 60_000);

  afterAll(async () => {
    if (instance) await stopChildren([instance], 'SIGTERM');
    await upstream?.close();
  });

  it('is named as such on /healthz and in the log, not as the database failing a connection', async () => {
    instance = await startChildServer({
      databasePath: url,
      upstreamUrl: upstream.url,
      env: { DATABASE_POOL_SIZE: '1', DATABASE_CONNECT_TIMEOUT_MS: '300', DATABASE_STATEMENT_TIMEOUT_MS: '20000', HEALTH_CHECK_INTERVAL_MS: '0' },
    });
    const headers = { authorization: `Bearer ${KEY}` };
    const client = new OpenAI({ apiKey: KEY, baseURL: `${instance.origin}/v1`, maxRetries: 0 });
    const { id } = await client.chat.completions.create({ model: 'gpt-4o-mini', store: true, messages: [{ role: 'user', content: 'held' }] });

    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    let held: Promise<Response> | undefined;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE completions IN ACCESS EXCLUSIVE MODE');
      // The pool's one connection waits on the lock: the next requests find none free.
      held = fetch(`${instance.origin}/v1/chat/completions/${id}`, { headers, signal: AbortSignal.timeout(30_000) });
      for (const waitUntil = Date.now() + 10_000; ; ) {
        const { rows } = await locker.query(
          "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'stored-completions' AND wait_event_type = 'Lock'",
        );
        if (rows.length > 0) break;
        expect(Date.now()).toBeLessThan(waitUntil);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const health = await fetch(`${instance.origin}/healthz`, { signal: AbortSignal.timeout(10_000) });
      expect({ status: health.status, body: await health.json() }).toEqual({
        status: 503,
        body: { status: 'unavailable', reason: `the database cannot take a write (${POOL_WAIT})` },
      });
      const list = await fetch(`${instance.origin}/v1/chat/completions`, { headers, signal: AbortSignal.timeout(10_000) });
      expect({ status: list.status, body: await list.json() }).toEqual({ status: 503, body: OPENAI_503 });
      expect(instance.logs.find((line) => line.msg === 'database unavailable')?.cause).toEqual({ message: POOL_WAIT });
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    const retrieved = await held!;
    expect({ status: retrieved.status, id: ((await retrieved.json()) as { id: string }).id }).toEqual({ status: 200, id });
    expect((await fetch(`${instance.origin}/healthz`)).status).toBe(200);
  }, 60_000);
});
