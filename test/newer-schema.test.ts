import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';
import { openStore } from '../src/store/open.ts';
import { runCli, runCliInProcess } from './helpers/cli.ts';
import { createTestDatabase, hasPostgresServer, noteSkippedServerCases } from './helpers/test-database.ts';

/**
 * A database a newer version migrated records a migration this code does not have. The service warns and serves
 * on (an older instance restarting during a rolling upgrade must keep serving); `copy`, which promises a whole
 * database, refuses it with both versions named, rather than leave out what it does not know and exit 0.
 */

/** A migration recorded a day after the newest this code has: what a newer version's start leaves. */
const NEWER = "SELECT 'a-newer-version', max(created_at) + 86400000 FROM";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'newer-schema-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const CONFIG = {
  sqliteSynchronous: 'NORMAL',
  sqliteCacheSizeMb: 16,
  sqliteBusyTimeoutMs: 5000,
  databasePoolSize: 2,
  databaseStatementTimeoutMs: 10_000,
  databaseConnectTimeoutMs: 5_000,
  databaseStartupTimeoutMs: 10_000,
} as const;

/** Opens the store as the service does, and returns the warnings it logged. */
async function openAsService(databaseUrl: string): Promise<{ msg: string }[]> {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const store = await openStore({ ...CONFIG, databaseUrl }, createLogger('info', destination));
  // It serves on: a write and a read still work.
  expect(await store.getCompletion('p', 'none')).toBeUndefined();
  await store.close();
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .filter((line) => line.level === 40);
}

function newerSqlite(path: string): void {
  const db = new Database(path);
  db.exec(`INSERT INTO "__drizzle_migrations" (hash, created_at) ${NEWER} "__drizzle_migrations"`);
  db.close();
}

const REFUSAL =
  /^stored-completions copy: --from: the database was migrated by a newer version of stored-completions: it records \d+ migrations, the newest from \S+; this version knows \d+, up to \d{4}_\w+ from \S+\. Run the newer version's command/;

describe('a database a newer version migrated, on SQLite', () => {
  it('is served with a warning naming both versions', async () => {
    const path = join(dir, 'db.sqlite');
    expect(await openAsService(path)).toEqual([]);
    newerSqlite(path);
    const warnings = await openAsService(path);
    expect(warnings.map((w) => w.msg)).toEqual([expect.stringMatching(/^the database was migrated by a newer version of stored-completions: .* Serving on/)]);
  });

  it('is refused by copy, exit 1, nothing copied; an up-to-date one is copied', async () => {
    const path = join(dir, 'db.sqlite');
    await openAsService(path);
    const ok = await runCliInProcess(['copy', '--from', path, '--to', join(dir, 'first.sqlite')], { env: {} });
    expect(ok.code, ok.stderr).toBe(0);
    newerSqlite(path);
    const run = await runCliInProcess(['copy', '--from', path, '--to', join(dir, 'copy.sqlite')], { env: {} });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(REFUSAL);
  });

  it('is exported with a warning on standard error', async () => {
    const path = join(dir, 'db.sqlite');
    await openAsService(path);
    newerSqlite(path);
    const run = await runCli(['export', '--project', 'a'], { env: { DATABASE_URL: path, API_KEYS: 'sk-a-key-00000001:a' } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^DATABASE_URL: warning: the database was migrated by a newer version/m);
  });
});

describe('a database a newer version migrated, on PostgreSQL', () => {
  if (!hasPostgresServer()) {
    noteSkippedServerCases();
    it.skip('needs TEST_POSTGRES_URL');
    return;
  }

  async function newerPostgres(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) ${NEWER} drizzle.__drizzle_migrations`);
    await client.end();
  }

  it('is served with a warning, and refused by copy', async () => {
    const url = await createTestDatabase();
    expect(await openAsService(url)).toEqual([]);
    await newerPostgres(url);
    expect((await openAsService(url)).map((w) => w.msg)).toEqual([expect.stringMatching(/^the database was migrated by a newer version/)]);
    const run = await runCliInProcess(['copy', '--from', url, '--to', join(dir, 'copy.sqlite')], { env: {} });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(REFUSAL);
    // A newer target is refused too: the copy would leave its new tables empty.
    const target = await createTestDatabase();
    await openAsService(target);
    await newerPostgres(target);
    const source = join(dir, 'source.sqlite');
    await openAsService(source);
    const into = await runCliInProcess(['copy', '--from', source, '--to', target], { env: {} });
    expect(into.code).toBe(1);
    expect(into.stderr).toMatch(/--to: the database was migrated by a newer version/);
  });
});
