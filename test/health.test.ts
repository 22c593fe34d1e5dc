import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { fill, mountTmpfs, unmountTmpfs } from './helpers/full-disk.ts';
import { startService, type Service } from './helpers/service.ts';
import { UNAVAILABLE_HOLD_MS } from '../src/write-batcher.ts';

let upstream: FakeUpstream;
let folder: string;
let service: Service | undefined;

beforeEach(async () => {
  upstream = await startFakeUpstream();
  folder = mkdtempSync(join(tmpdir(), 'stored-completions-health-'));
});

afterEach(async () => {
  try {
    await service?.stop();
  } finally {
    service = undefined;
    await upstream.close();
    unmountTmpfs(folder);
    rmSync(folder, { recursive: true, force: true });
  }
});

async function get(path: string): Promise<{ status: number; body: unknown }> {
  const res = await service!.request(path, { auth: false });
  return { status: res.status, body: await res.json() };
}

function storedCreate(): Promise<Response> {
  return service!.request('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(2_000) }], store: true }),
  });
}

const ok = { status: 200, body: { status: 'ok' } };
/** The lock tests' SQLITE_BUSY_TIMEOUT_MS: each waits it out, and the default 5 s made each wait cost 5 s of the suite. */
const BUSY_TIMEOUT_MS = 300;
const shortBusyTimeout = { SQLITE_BUSY_TIMEOUT_MS: String(BUSY_TIMEOUT_MS) };
const unavailableAnswer = {
  status: 503,
  retryAfter: '1',
  body: { error: { message: 'The database is unavailable; please retry your request shortly.', type: 'server_error', param: null, code: null } },
};

describe('health', () => {
  it('/healthz and /livez answer 200 {"status":"ok"} without a key on a working database', async () => {
    service = await startService({ upstreamUrl: upstream.url, databasePath: join(folder, 'completions.db') });
    expect(await get('/healthz')).toEqual(ok);
    expect(await get('/livez')).toEqual(ok);
  });

  it('/healthz is 503 with the reason while the disk is full, /livez stays 200, and /healthz recovers when space is freed', async (context) => {
    const mount = mountTmpfs(context, folder, '2m');
    service = await startService({ upstreamUrl: upstream.url, databasePath: join(mount, 'completions.db'), env: { HEALTH_CHECK_INTERVAL_MS: '0' } });
    expect((await storedCreate()).status).toBe(200);
    expect(await get('/healthz')).toEqual(ok);

    fill(join(mount, 'filler'));
    // Said before any create has failed: the check's own one-row write may still fit in the file's pages.
    const full = {
      status: 503,
      body: { status: 'unavailable', reason: 'the database cannot take a write (SQLITE_FULL: database or disk is full)' },
    };
    expect(await get('/healthz')).toEqual(full);
    // A stored create is the 503 the SDKs wait for and retry, not a 500.
    const res = await storedCreate();
    expect({ status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() }).toEqual(unavailableAnswer);
    expect(await get('/healthz')).toEqual(full);
    expect(await get('/livez')).toEqual(ok);

    rmSync(join(mount, 'filler'));
    expect(await get('/healthz')).toEqual(ok);
    // Past the failed write's retry-after, a stored create goes to the provider again.
    await new Promise((resolve) => setTimeout(resolve, UNAVAILABLE_HOLD_MS));
    expect((await storedCreate()).status).toBe(200);
  });

  for (const how of ['removed', 'replaced'] as const) {
    it(`refuses writes, and /healthz says to restart, when the database file is ${how} under the running service`, async () => {
      const path = join(folder, 'completions.db');
      service = await startService({ upstreamUrl: upstream.url, databasePath: path, env: { HEALTH_CHECK_INTERVAL_MS: '0' } });
      expect((await storedCreate()).status).toBe(200);
      if (how === 'removed') {
        for (const file of [path, `${path}-wal`, `${path}-shm`]) rmSync(file, { force: true });
      } else {
        // A restore by renaming another file into place, as `mv backup.db completions.db` does.
        const other = new Database(join(folder, 'other.db'));
        other.exec('CREATE TABLE t (x)');
        other.close();
        renameSync(join(folder, 'other.db'), path);
      }
      // Written through the open handle, a create would be acknowledged and gone at the next start.
      const res = await storedCreate();
      expect({ status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() }).toEqual(unavailableAnswer);
      // For the next second (the retry-after), a stored create is refused before the provider is paid for it.
      const asked = upstream.received.length;
      const again = await storedCreate();
      expect({ status: again.status, retryAfter: again.headers.get('retry-after'), body: await again.json() }).toEqual(unavailableAnswer);
      expect(upstream.received.length).toBe(asked);
      // An unstored one needs no database: it goes on.
      const unstored = await service!.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(unstored.status).toBe(200);
      expect(upstream.received.length).toBe(asked + 1);
      expect(await get('/healthz')).toEqual({
        status: 503,
        body: {
          status: 'unavailable',
          reason: `the database cannot take a write (the database file ${path} was removed or replaced since this instance opened it: restart it)`,
        },
      });
      expect(await get('/livez')).toEqual(ok);
    });
  }

  it('/healthz is 503 while another process holds the write lock past the busy timeout (SQLITE_BUSY_TIMEOUT_MS)', async () => {
    const path = join(folder, 'completions.db');
    service = await startService({ upstreamUrl: upstream.url, databasePath: path, env: { HEALTH_CHECK_INTERVAL_MS: '0', ...shortBusyTimeout } });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const asked = Date.now();
      expect(await get('/healthz')).toEqual({
        status: 503,
        body: { status: 'unavailable', reason: 'the database cannot take a write (SQLITE_BUSY: database is locked)' },
      });
      // Waited the configured timeout out before giving up, and not the default 5 s (a loaded machine adds a second or so).
      const waited = Date.now() - asked;
      expect(waited).toBeGreaterThanOrEqual(BUSY_TIMEOUT_MS);
      expect(waited).toBeLessThan(5_000);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await get('/healthz')).toEqual(ok);
  });

  it('a request that needs the database while another process holds its lock past the busy timeout gets a 503 to retry, not a 500', async () => {
    const path = join(folder, 'completions.db');
    service = await startService({ upstreamUrl: upstream.url, databasePath: path, env: shortBusyTimeout });
    const unavailable = { error: { message: 'The database is unavailable; please retry your request shortly.', type: 'server_error', param: null, code: null } };
    const other = new Database(path);
    const whileLocked = async (request: () => Promise<Response>) => {
      other.exec('BEGIN IMMEDIATE');
      try {
        const res = await request();
        expect({ status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() }).toEqual({
          status: 503,
          retryAfter: '1',
          body: unavailable,
        });
      } finally {
        other.exec('ROLLBACK');
      }
    };
    try {
      // The first keyed request on a new database creates the secret keys are hashed with: a write.
      await whileLocked(() => service!.request('/v1/chat/completions'));
      expect((await service!.request('/v1/chat/completions')).status).toBe(200);
      await whileLocked(storedCreate);
      // The lock is gone, but for the 503's retry-after a stored create is refused before the provider is asked...
      const held = await storedCreate();
      expect({ status: held.status, retryAfter: held.headers.get('retry-after'), body: await held.json() }).toEqual({
        status: 503,
        retryAfter: '1',
        body: unavailable,
      });
      // ...and after it, stored.
      await new Promise((resolve) => setTimeout(resolve, UNAVAILABLE_HOLD_MS));
      expect((await storedCreate()).status).toBe(200);
    } finally {
      other.close();
    }
    expect(await upstream.received).toHaveLength(2);
  }, 30_000);

  it('past the hold, a stored create asks the database whether it takes a write before the provider: a retry during an outage pays for no generation', async () => {
    const path = join(folder, 'completions.db');
    service = await startService({ upstreamUrl: upstream.url, databasePath: path, env: shortBusyTimeout });
    expect((await storedCreate()).status).toBe(200);
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const answer = async () => {
        const res = await storedCreate();
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
      };
      // The write fails after the provider answered: that generation is lost.
      expect(await answer()).toEqual(unavailableAnswer);
      expect(upstream.received).toHaveLength(2);
      // An SDK's retry, the retry-after later, with the lock still held: refused, the provider not asked.
      await new Promise((resolve) => setTimeout(resolve, UNAVAILABLE_HOLD_MS));
      expect(await answer()).toEqual(unavailableAnswer);
      expect(upstream.received).toHaveLength(2);
      other.exec('ROLLBACK');
      // That check held the creates for another retry-after; past it, the database takes writes again.
      await new Promise((resolve) => setTimeout(resolve, UNAVAILABLE_HOLD_MS));
      expect((await storedCreate()).status).toBe(200);
      expect(upstream.received).toHaveLength(3);
    } finally {
      other.close();
    }
  }, 40_000);

  it('a write waiting for a lock another process holds does not stop the service: /livez, a list and /healthz answer meanwhile, and the write goes in once the lock is free', async () => {
    const path = join(folder, 'completions.db');
    service = await startService({ upstreamUrl: upstream.url, databasePath: path, env: { HEALTH_CHECK_INTERVAL_MS: '0' } });
    expect((await storedCreate()).status).toBe(200);
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const answered: string[] = [];
    try {
      const create = storedCreate().then(async (res) => {
        answered.push('create');
        return { status: res.status, body: (await res.json()) as { id: string } };
      });
      const health = get('/healthz').then((res) => {
        answered.push('healthz');
        return res;
      });
      // Both have reached the database (the provider answered the create) and are waiting for the lock.
      while (upstream.received.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await get('/livez')).toEqual(ok);
      const list = await service.request('/v1/chat/completions');
      expect({ status: list.status, count: ((await list.json()) as { data: unknown[] }).data.length }).toEqual({ status: 200, count: 1 });
      expect(answered).toEqual([]);
      other.exec('ROLLBACK');
      const created = await create;
      expect(created.status).toBe(200);
      expect(await health).toEqual(ok);
      const stored = await service.request(`/v1/chat/completions/${created.body.id}`);
      expect(stored.status).toBe(200);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }
  }, 30_000);

  it('reuses one check for HEALTH_CHECK_INTERVAL_MS, so frequent probes do not each write', async () => {
    const path = join(folder, 'completions.db');
    service = await startService({ upstreamUrl: upstream.url, databasePath: path, env: { HEALTH_CHECK_INTERVAL_MS: '60000' } });
    expect(await get('/healthz')).toEqual(ok);
    const written = () => service!.db.prepare("SELECT value FROM settings WHERE key = 'health_checked_at'").get();
    const first = written();
    expect(first).toBeDefined();
    for (let i = 0; i < 5; i++) expect(await get('/healthz')).toEqual(ok);
    expect(written()).toEqual(first);
  });
});
