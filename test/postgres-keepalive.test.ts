import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEEPALIVE_IDLE_MS } from '../src/db/postgres-client.ts';
import { MIGRATION_LOCK_KEY } from '../src/db/postgres-migrate.ts';
import { type ChildServer, startChildServer, stopChildren } from './helpers/child-server.ts';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.ts';
import { createTestDatabase, hasPostgresServer, noteSkippedServerCases } from './helpers/test-database.ts';

/**
 * A peer that vanishes without a word (a partition, a dead VM: no FIN, no RST) is noticed by TCP keepalive alone. A
 * userland proxy that stops forwarding cannot play one (its own kernel answers the probes) and dropping packets needs
 * root, so what is checked is what the kernel shows: every connection of an instance, at both ends, probes after
 * KEEPALIVE_IDLE_MS of silence, not after the operating system's 2 hours. And a start waiting for the migration lock
 * names the session it waits for. Needs a real server reached over TCP; skipped with a note without TEST_POSTGRES_URL.
 */

const withServer = hasPostgresServer();
if (!withServer) noteSkippedServerCases();

const KEY = 'sk-keepalive-key-0001';

/** The keepalive timers of the TCP sockets between `clientPorts` and `serverPort`, in seconds, from /proc/net/tcp{,6}. */
function keepaliveTimers(clientPorts: number[], serverPort: number): { end: string; timer: string; seconds: number }[] {
  const found: { end: string; timer: string; seconds: number }[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 6 || fields[3] !== '01') continue; // ESTABLISHED
      const local = parseInt(fields[1]!.split(':')[1]!, 16);
      const remote = parseInt(fields[2]!.split(':')[1]!, 16);
      const [active, when] = fields[5]!.split(':') as [string, string];
      // Timer kinds: 0 none, 1 retransmit, 2 keepalive (or another); `when` in clock ticks (USER_HZ, 100 a second).
      const timer = active === '02' ? 'keepalive' : active === '00' ? 'none' : `kind ${active}`;
      if (clientPorts.includes(local) && remote === serverPort) found.push({ end: `client ${local}`, timer, seconds: parseInt(when, 16) / 100 });
      if (local === serverPort && clientPorts.includes(remote)) found.push({ end: `server ${remote}`, timer, seconds: parseInt(when, 16) / 100 });
    }
  }
  return found.sort((a, b) => a.end.localeCompare(b.end));
}

describe.skipIf(!withServer)('connections to PostgreSQL', () => {
  let upstream: FakeUpstream;
  let url: string;
  const instances: ChildServer[] = [];
  // Every process started, a start still waiting when a case fails among them.
  const spawned: ChildProcess[] = [];

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    url = await createTestDatabase();
  }, 60_000);

  afterAll(async () => {
    await stopChildren(instances, 'SIGTERM');
    for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await upstream?.close();
  });

  it('probe a silent peer after KEEPALIVE_IDLE_MS at both ends, the pool and the health check alike', async () => {
    expect(new URL(url).hostname).toMatch(/^(127\.0\.0\.1|localhost|::1|\[::1\])$/);
    const instance = await startChildServer({ databasePath: url, upstreamUrl: upstream.url, env: { HEALTH_CHECK_INTERVAL_MS: '0' } });
    instances.push(instance);
    const client = new OpenAI({ apiKey: KEY, baseURL: `${instance.origin}/v1`, maxRetries: 0 });
    await client.chat.completions.create({ model: 'gpt-4o-mini', store: true, messages: [{ role: 'user', content: 'probed' }] });
    expect((await fetch(`${instance.origin}/healthz`)).status).toBe(200);

    const observer = new pg.Client({ connectionString: url });
    await observer.connect();
    try {
      const { rows } = await observer.query<{ port: number }>(
        "SELECT client_port AS port FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'stored-completions'",
      );
      const ports = rows.map((row) => row.port);
      // At least one of the pool's and the health check's own.
      expect(ports.length).toBeGreaterThanOrEqual(2);
      const timers = keepaliveTimers(ports, Number(new URL(url).port || 5432));
      const expected = ports
        .flatMap((port) => [`client ${port}`, `server ${port}`])
        .sort()
        .map((end) => ({ end, timer: 'keepalive', atMostIdle: true }));
      // The timer counts down from the idle time (a second more for the kernel's rounding); before, 7200 s.
      expect(timers.map(({ end, timer, seconds }) => ({ end, timer, atMostIdle: seconds <= KEEPALIVE_IDLE_MS / 1000 + 1 }))).toEqual(expected);
    } finally {
      await observer.end();
    }
  }, 60_000);

  it('a start waiting for the migration lock names the session holding it', async () => {
    const holder = new pg.Client({ connectionString: url, application_name: 'vanished-instance' });
    holder.on('error', () => {}); // ended below, by the server
    await holder.connect();
    try {
      const [{ pid }] = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      let said: (line: Record<string, unknown>) => void;
      const waiting = new Promise<Record<string, unknown>>((resolve) => (said = resolve));
      const starting = startChildServer({
        databasePath: url,
        upstreamUrl: upstream.url,
        onLog: (line) => line.msg === 'waiting for another instance to finish migrating the database' && said(line),
        onSpawn: (child) => spawned.push(child),
      });
      const line = await waiting;
      const holderSaid = line.holder as Record<string, unknown>;
      expect({ ...holderSaid, connectedAt: typeof holderSaid.connectedAt }).toEqual({
        pid,
        applicationName: 'vanished-instance',
        clientAddr: '127.0.0.1',
        connectedAt: 'string',
        state: 'idle',
      });
      // The session ended as keepalive would end a vanished one: the lock goes with it and the start goes on.
      const ender = new pg.Client({ connectionString: url });
      await ender.connect();
      await ender.query('SELECT pg_terminate_backend($1)', [pid]);
      await ender.end();
      const late = await starting;
      instances.push(late);
      expect((await fetch(`${late.origin}/healthz`)).status).toBe(200);
    } finally {
      await holder.end().catch(() => {});
    }
  }, 60_000);
});
