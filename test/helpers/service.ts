import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, beforeEach } from 'vitest';
import type { Logger } from 'pino';
import { createApp } from '../../src/app.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { openDatabase, type SqliteDatabase } from '../../src/db/client.ts';
import type { SqlDatabase } from '../../src/db/sql-client.ts';
import { createHttpServer } from '../../src/http-server.ts';
import { createLogger } from '../../src/logger.ts';
import { createPostgresStore, createSqliteStore, type PostgresStoreOptions, type SqliteStoreOptions, type Store } from '../../src/store/index.ts';
import { openStore } from '../../src/store/open.ts';
import { createUpstream } from '../../src/upstream/client.ts';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.ts';
import { type Backend, leasePostgres, POSTGRES_OPTIONS, TEST_BACKEND } from './test-database.ts';

/**
 * A running service: the real app over a real database (a SQLite file, or a
 * PostgreSQL database of its own: the test server's, or PGlite without one),
 * listening on an ephemeral port.
 */
export interface Service {
  /** `http://127.0.0.1:PORT` (no /v1). */
  origin: string;
  baseURL: string;
  backend: Backend;
  /** The SQLite database (SQLite-only tests; throws on PostgreSQL). */
  db: SqliteDatabase;
  /** Rows in one of the store's tables, on either backend. */
  countRows(table: string): Promise<number>;
  store: Store;
  config: Config;
  databasePath: string;
  /** The official client pointed at the service with the given key. */
  client(apiKey?: string): OpenAI;
  /** Plain fetch against the service, with `Authorization: Bearer <key>` unless `auth: false`. */
  request(path: string, init?: RequestInit & { key?: string; auth?: boolean }): Promise<Response>;
  /** Stops listening and closes the database; keeps the file (for restarts). */
  stop(): Promise<void>;
  /** Stops and deletes the database folder. */
  close(): Promise<void>;
}

export interface ServiceOptions {
  upstreamUrl: string;
  /** Environment variables on top of the defaults, as a user would set them. */
  env?: Record<string, string>;
  /** Reuse this database file (restart tests; SQLite only). */
  databasePath?: string;
  /** The backend; by default the one the vitest project runs (TEST_BACKEND). */
  backend?: Backend;
  /** A logger of the test's own (to capture its lines); silent by default. */
  logger?: Logger;
  /** The store's tuning, on either backend (tests drive both search strategies on a small database); each takes its own. */
  storeOptions?: SqliteStoreOptions & PostgresStoreOptions;
}

export const DEFAULT_KEY = 'sk-test-key-0001';

export async function startService(options: ServiceOptions): Promise<Service> {
  const backend = options.backend ?? TEST_BACKEND;
  const opened = backend === 'postgres' ? await openPostgresBackend(options) : openSqliteBackend(options);
  const { config, store, databasePath } = opened;
  const upstream = createUpstream({ baseUrl: config.upstreamBaseUrl, timeoutMs: config.upstreamTimeoutMs, responseLimitBytes: config.upstreamResponseLimitBytes });
  const app = createApp({ store, upstream, config, logger: options.logger ?? createLogger(config.logLevel) });
  const server = createHttpServer(app.fetch, { ...config, host: '127.0.0.1' });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const stop = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
    await upstream.close();
    await store.close();
    await opened.release();
  };

  return {
    origin,
    baseURL: `${origin}/v1`,
    backend,
    get db(): SqliteDatabase {
      if (!opened.sqlite) throw new Error('service.db is the SQLite database: this test runs on PostgreSQL');
      return opened.sqlite;
    },
    countRows: opened.countRows,
    store,
    config,
    databasePath,
    client: (apiKey = DEFAULT_KEY) => new OpenAI({ apiKey, baseURL: `${origin}/v1`, maxRetries: 0 }),
    request: (path, init = {}) => {
      const { key = DEFAULT_KEY, auth = true, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (auth && !headers.has('authorization')) headers.set('authorization', `Bearer ${key}`);
      return fetch(origin + path, { ...rest, headers });
    },
    stop,
    close: async () => {
      await stop();
      if (opened.folder) rmSync(opened.folder, { recursive: true, force: true });
    },
  };
}

interface OpenedBackend {
  config: Config;
  store: Store;
  databasePath: string;
  sqlite?: SqliteDatabase;
  /** A temporary folder to delete at close. */
  folder?: string;
  countRows(table: string): Promise<number>;
  analyze(): Promise<void>;
  /** The PostgreSQL database itself, for tests that reach under the store. */
  postgres?: SqlDatabase;
  release(): Promise<void>;
}

function configFor(options: ServiceOptions, databaseUrl: string): Config {
  return loadConfig({ DATABASE_URL: databaseUrl, UPSTREAM_BASE_URL: options.upstreamUrl, LOG_LEVEL: 'silent', ...options.env });
}

function openSqliteBackend(options: ServiceOptions): OpenedBackend {
  const folder = options.databasePath ? undefined : mkdtempSync(join(tmpdir(), 'stored-completions-'));
  const databasePath = options.databasePath ?? join(folder!, 'completions.db');
  const config = configFor(options, databasePath);
  const sqlite = openDatabase(config.databaseUrl, {
    synchronous: config.sqliteSynchronous,
    cacheSizeMb: config.sqliteCacheSizeMb,
    busyTimeoutMs: config.sqliteBusyTimeoutMs,
  });
  return {
    config,
    store: createSqliteStore(sqlite, options.storeOptions),
    databasePath,
    sqlite,
    ...(folder ? { folder } : {}),
    countRows: async (table) => (sqlite.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
    analyze: async () => {},
    release: async () => {},
  };
}

/** A PostgreSQL database leased for this service: opened as the server opens it when a real server runs, else over PGlite. */
async function openPostgresBackend(options: ServiceOptions): Promise<OpenedBackend> {
  const lease = await leasePostgres();
  const config = configFor(options, lease.url ?? 'postgres://pglite.invalid/embedded');
  const store = lease.url
    ? await openStore({ ...config, databasePoolSize: POSTGRES_OPTIONS.poolSize }, undefined, options.storeOptions)
    : // The embedded database outlives this service (the next test reuses it): the store must not close it.
      createPostgresStore({ ...lease.db, close: async () => {} }, options.storeOptions);
  return {
    config,
    store,
    databasePath: config.databaseUrl,
    countRows: async (table) => (await lease.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n,
    analyze: async () => {
      await lease.db.query('ANALYZE');
    },
    postgres: lease.db,
    release: lease.release,
  };
}

/**
 * Gives every test of the calling file a fresh fake upstream and a service over
 * its own database, both closed after the test; `bind` receives them so the file
 * keeps plain `upstream` and `service` variables.
 */
export function useServiceEachTest(
  bind: (started: { upstream: FakeUpstream; service: Service }) => void,
  env?: Record<string, string>,
): void {
  let started: { upstream: FakeUpstream; service: Service } | undefined;
  beforeEach(async () => {
    const upstream = await startFakeUpstream();
    started = { upstream, service: await startService({ upstreamUrl: upstream.url, ...(env ? { env } : {}) }) };
    bind(started);
  });
  afterEach(async () => {
    await started?.service.close();
    await started?.upstream.close();
  });
}

/** A store alone (no HTTP), on the backend under test, over an empty database of its own; `close` also deletes it. */
export interface TestStore {
  store: Store;
  countRows(table: string): Promise<number>;
  /** Refreshes the planner's statistics, as autovacuum or a maintenance window would (a no-op on SQLite). */
  analyze(): Promise<void>;
  /** The PostgreSQL database itself (undefined on SQLite), for tests that reach under the store. */
  postgres: SqlDatabase | undefined;
  close(): Promise<void>;
}

export async function openTestStore(backend: Backend = TEST_BACKEND): Promise<TestStore> {
  const options: ServiceOptions = { upstreamUrl: 'http://127.0.0.1:9/v1' };
  const opened = backend === 'postgres' ? await openPostgresBackend(options) : openSqliteBackend(options);
  return {
    store: opened.store,
    countRows: opened.countRows,
    analyze: opened.analyze,
    postgres: opened.postgres,
    close: async () => {
      await opened.store.close();
      await opened.release();
      if (opened.folder) rmSync(opened.folder, { recursive: true, force: true });
    },
  };
}
