import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildServer, startChildServer, stopChildren } from './helpers/child-server.ts';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.ts';
import { createTestDatabase, hasPostgresServer, noteSkippedServerCases, TEST_POSTGRES_URL } from './helpers/test-database.ts';

/**
 * An outage whose cause changes (a server shutting down, then refusing connections, then starting up; here a database
 * turned read-only, then closed to connections): the stored creates' 503s and the log's `database unavailable` lines
 * follow the cause the database gives now, not the first one. Needs a real server; skipped with a note without
 * TEST_POSTGRES_URL.
 */

const withServer = hasPostgresServer();
if (!withServer) noteSkippedServerCases();

const KEY = 'sk-outage-cause-key-0001';

describe.skipIf(!withServer)('a stored create during an outage', () => {
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

  it("names the database's cause now, not the outage's first one", async () => {
    instance = await startChildServer({ databasePath: url, upstreamUrl: upstream.url });
    const client = new OpenAI({ apiKey: KEY, baseURL: `${instance.origin}/v1`, maxRetries: 0 });
    const create = async () => {
      try {
        await client.chat.completions.create({ model: 'gpt-4o-mini', store: true, messages: [{ role: 'user', content: 'kept?' }] });
        return 200;
      } catch (err) {
        return (err as { status?: number }).status;
      }
    };
    expect(await create()).toBe(200);

    const name = new URL(url).pathname.slice(1);
    // From another database: PostgreSQL refuses to close the one a session is connected to.
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    // The instance's sessions end; the ones it opens next get the database as it is now.
    const endSessions = () =>
      admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'stored-completions'", [name]);
    const causes = () => instance!.logs.filter((line) => line.msg === 'database unavailable').map((line) => (line.cause as { code?: string }).code);
    try {
      await admin.query(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
      await endSessions();
      expect(await create()).toBe(503);
      expect(causes()).toEqual(['25006']);

      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await endSessions();
      // Past the hold (1 s), a create asks the database first whether it takes a write: it is closed now.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(await create()).toBe(503);
      // Before, every 503 of the outage carried its first cause: the log said read-only while the database refused connections.
      expect(causes()).toEqual(['25006', '55000']);
    } finally {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await admin.query(`ALTER DATABASE ${name} RESET default_transaction_read_only`);
      await endSessions();
      await admin.end();
    }
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(await create()).toBe(200);
  }, 60_000);
});
