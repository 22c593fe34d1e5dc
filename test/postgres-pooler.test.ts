import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildServer, startChildServer, stopChildren } from './helpers/child-server.ts';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.ts';
import { createTestDatabase, hasPostgresServer, noteSkippedServerCases } from './helpers/test-database.ts';

/**
 * The service behind a connection pooler in session mode, as several instances are often run (PgBouncer in front
 * of the server). PgBouncer refuses a client whose startup packet carries a parameter it does not track
 * ("unsupported startup parameter: statement_timeout", SQLSTATE 08P01, as PgBouncer 1.18 answers); the pooler
 * here is a real TCP front that answers the same, and passes every other connection through to the test server.
 * Needs a real server; skipped with a note without TEST_POSTGRES_URL.
 */

const withServer = hasPostgresServer();
if (!withServer) noteSkippedServerCases();

const KEY = 'sk-pooled-key-000001';
const OPENAI_503 = { error: { message: 'The database is unavailable; please retry your request shortly.', type: 'server_error', param: null, code: null } };
/** The startup parameters PgBouncer handles itself (its default `ignore_startup_parameters` is empty). */
const POOLER_PARAMETERS = new Set(['user', 'database', 'application_name', 'client_encoding', 'datestyle', 'timezone', 'standard_conforming_strings']);
const SSL_REQUEST = 80877103;

/** PostgreSQL's ErrorResponse message, as a pooler sends it before closing. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head.write('E');
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

/** The parameter names of a startup packet (after its length and protocol version: name\0value\0 ... \0). */
function startupParameters(packet: Buffer): string[] {
  const parts = packet.subarray(8).toString().split('\0');
  return parts.filter((_, i) => i % 2 === 0 && parts[i] !== '');
}

interface Pooler {
  port: number;
  refused: string[];
  close(): Promise<void>;
}

/** A pooler's front door: refuses an unknown startup parameter as PgBouncer does, else pipes to `target`. */
async function startPooler(target: { host: string; port: number }): Promise<Pooler> {
  const refused: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 8 || buffered.length < buffered.readInt32BE(0)) return;
      const length = buffered.readInt32BE(0);
      if (length === 8 && buffered.readInt32BE(4) === SSL_REQUEST) {
        buffered = buffered.subarray(8);
        client.write('N');
        return;
      }
      client.off('data', onData);
      const unknown = startupParameters(buffered.subarray(0, length)).find((name) => !POOLER_PARAMETERS.has(name.toLowerCase()));
      if (unknown !== undefined) {
        refused.push(unknown);
        client.end(errorResponse('08P01', `unsupported startup parameter: ${unknown}`));
        return;
      }
      const server = connect(target.port, target.host);
      sockets.add(server);
      server.on('close', () => sockets.delete(server));
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
      server.write(buffered);
      client.pipe(server).pipe(client);
    };
    client.on('data', onData);
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    refused,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

describe.skipIf(!withServer)('behind a connection pooler in session mode (PgBouncer)', () => {
  let upstream: FakeUpstream;
  let pooler: Pooler;
  let directUrl: string;
  let instance: ChildServer | undefined;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    directUrl = await createTestDatabase();
    const direct = new URL(directUrl);
    pooler = await startPooler({ host: direct.hostname, port: Number(direct.port || 5432) });
  }, 60_000);

  afterAll(async () => {
    if (instance) await stopChildren([instance], 'SIGTERM');
    await pooler?.close();
    await upstream?.close();
  });

  it('starts and serves, its statement timeout in force: a query stuck behind a lock is cancelled by the server, not left to the client timer', async () => {
    const pooled = new URL(directUrl);
    pooled.hostname = '127.0.0.1';
    pooled.port = String(pooler.port);
    instance = await startChildServer({
      databasePath: pooled.toString(),
      upstreamUrl: upstream.url,
      // The client-side timer (statement + connect timeout, 20.5 s) is far from the server's cancel (0.5 s).
      env: { DATABASE_STATEMENT_TIMEOUT_MS: '500', DATABASE_CONNECT_TIMEOUT_MS: '20000', DATABASE_STARTUP_TIMEOUT_MS: '3000' },
    });
    const headers = { authorization: `Bearer ${KEY}` };
    const client = new OpenAI({ apiKey: KEY, baseURL: `${instance.origin}/v1`, maxRetries: 0 });
    const { id } = await client.chat.completions.create({ model: 'gpt-4o-mini', store: true, messages: [{ role: 'user', content: 'pooled' }] });

    const locker = new pg.Client({ connectionString: directUrl });
    await locker.connect();
    let blocked: { status: number; body: unknown; ms: number };
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE completions IN ACCESS EXCLUSIVE MODE');
      const startedAt = performance.now();
      const res = await fetch(`${instance.origin}/v1/chat/completions/${id}`, { headers, signal: AbortSignal.timeout(30_000) });
      blocked = { status: res.status, body: await res.json(), ms: performance.now() - startedAt };
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    expect({ status: blocked.status, body: blocked.body }).toEqual({ status: 503, body: OPENAI_503 });
    expect(blocked.ms).toBeLessThan(10_000);
    expect(instance.logs.find((line) => line.msg === 'database unavailable')?.cause).toEqual({ message: 'canceling statement due to statement timeout', code: '57014' });

    const retrieved = await fetch(`${instance.origin}/v1/chat/completions/${id}`, { headers });
    expect({ status: retrieved.status, id: ((await retrieved.json()) as { id: string }).id }).toEqual({ status: 200, id });
    expect(pooler.refused).toEqual([]);
  }, 60_000);
});
