import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildServer, startChildServer, stopChildren } from './helpers/child-server.ts';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.ts';
import { createTestDatabase, hasPostgresServer, noteSkippedServerCases } from './helpers/test-database.ts';

/**
 * An instance whose pool has no connection to give (every one busy) while the database is fine: the 503 says that,
 * not that the database failed, and /healthz, which asks the database on its own connection, says it is fine. Needs a real server; skipped with a note without TEST_POSTGRES_URL.
 */

const withServer = hasPostgresServer();
if (!withServer) noteSkippedServerCases();

const KEY = 'sk-pool-wait-key-0001';
const OPENAI_503 = { error: { message: 'The database is unavailable; please retry your request shortly.', type: 'server_error', param: null, code: null } };
const POOL_WAIT = "no connection of the pool's 1 came free within 2000 ms: all busy, or still opening";

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

  it('is named as such in the 503 and the log, while /healthz, on a connection of its own, stays 200 and says busy', async () => {
    instance = await startChildServer({
      databasePath: url,
      upstreamUrl: upstream.url,
      env: { DATABASE_POOL_SIZE: '1', DATABASE_CONNECT_TIMEOUT_MS: '2000', DATABASE_STATEMENT_TIMEOUT_MS: '20000', HEALTH_CHECK_INTERVAL_MS: '0' },
    });
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    const client = new OpenAI({ apiKey: KEY, baseURL: `${instance.origin}/v1`, maxRetries: 0 });
    const { id } = await client.chat.completions.create({ model: 'gpt-4o-mini', store: true, messages: [{ role: 'user', content: 'held' }] });

    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    let held: Promise<Response> | undefined;
    try {
      // A row held as a slow transaction holds it: the database answers everything else at once.
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM completions WHERE id = $1 FOR UPDATE', [id]);
      // The pool's one connection waits on the row: the next requests find none free.
      held = fetch(`${instance.origin}/v1/chat/completions/${id}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ metadata: { topic: 'held' } }),
        signal: AbortSignal.timeout(30_000),
      });
      for (const waitUntil = Date.now() + 10_000; ; ) {
        const { rows } = await locker.query(
          "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'stored-completions' AND wait_event_type = 'Lock'",
        );
        if (rows.length > 0) break;
        expect(Date.now()).toBeLessThan(waitUntil);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const list = await fetch(`${instance.origin}/v1/chat/completions`, { headers, signal: AbortSignal.timeout(10_000) });
      expect({ status: list.status, body: await list.json() }).toEqual({ status: 503, body: OPENAI_503 });
      expect(instance.logs.find((line) => line.msg === 'database unavailable')?.cause).toEqual({ message: POOL_WAIT });
      // A request waiting for the connection meanwhile: the pool is busy, which /metrics and /healthz say.
      const waiting = fetch(`${instance.origin}/v1/chat/completions/${id}`, { headers, signal: AbortSignal.timeout(10_000) });
      const poolMetrics = async () =>
        (await (await fetch(`${instance!.origin}/metrics`)).text()).split('\n').filter((line) => line.startsWith('database_pool_'));
      for (const waitUntil = Date.now() + 1_500; !(await poolMetrics()).includes('database_pool_waiting_requests 1'); ) {
        expect(Date.now()).toBeLessThan(waitUntil);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Before, the check queued in the pool too and said 503: every instance would leave its balancer as load peaked.
      const health = await fetch(`${instance.origin}/healthz`, { signal: AbortSignal.timeout(10_000) });
      expect({ status: health.status, body: await health.json() }).toEqual({
        status: 200,
        body: { status: 'ok', busy: "the pool's one connection in use, 1 request waiting for it" },
      });
      expect(await poolMetrics()).toEqual(['database_pool_connections{state="in_use"} 1', 'database_pool_connections{state="idle"} 0', 'database_pool_waiting_requests 1']);
      expect({ status: (await waiting).status }).toEqual({ status: 503 });
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    const updated = await held!;
    expect({ status: updated.status, metadata: ((await updated.json()) as { metadata: unknown }).metadata }).toEqual({ status: 200, metadata: { topic: 'held' } });
    const after = await fetch(`${instance.origin}/healthz`);
    expect({ status: after.status, body: await after.json() }).toEqual({ status: 200, body: { status: 'ok' } });
  }, 60_000);
});
