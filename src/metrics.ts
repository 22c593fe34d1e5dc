import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ApiError } from './errors.ts';
import type { ConnectionUse } from './db/sql-client.ts';
import { RequestMetrics } from './request-metrics.ts';
import { CompletionIdTaken, type Store } from './store/index.ts';
import type { Upstream } from './upstream/client.ts';

/**
 * The service's Prometheus metrics, each registered on a registry of its own
 * (never prom-client's global one), so every app a test builds counts alone.
 */
export interface Metrics {
  registry: Registry;
  /** `http_requests_total` and `http_request_duration_seconds`, by method, route pattern and status. */
  httpRequests: RequestMetrics;
  /** Time to the provider's whole response, or to its headers for streams and pass-through; status `error` when unreachable or timed out. */
  upstreamDuration: Histogram<'status'>;
  storedCompletions: Counter;
  databaseErrors: Counter<'operation'>;
  retentionDeleted: Counter;
  retentionTombstonesPurged: Counter;
  /** Export streams still reading the store: back to 0 once every client has finished or gone. */
  exportsInProgress: Gauge;
  /** Reports a database pool's connections (`database_pool_connections`, `database_pool_waiting_requests`) at each scrape. */
  watchDatabasePool(read: () => ConnectionUse): void;
}

export interface MetricsOptions {
  /** Also export the process's CPU, memory, event-loop lag and GC (the server does; tests building many apps need not). */
  processMetrics?: boolean;
}

/** LLM calls take from milliseconds (cached, errors) to minutes (long generations). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * A store operation that failed in the database: an error of its own, or the 503 carrying what the database said
 * (unreachable, refusing, read-only). Not the store's answers to a client (a 404, a taken id), nor a 503 given
 * without asking it.
 */
function isDatabaseFailure(err: unknown): boolean {
  if (err instanceof ApiError) return err.status === 503 && err.cause instanceof Error;
  return !(err instanceof CompletionIdTaken);
}

export function createMetrics({ processMetrics = false }: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (processMetrics) collectDefaultMetrics({ register: registry });
  // Read at each scrape, from the pool itself: nothing to keep in step as connections come and go.
  let readPool: (() => ConnectionUse) | undefined;
  new Gauge({
    name: 'database_pool_connections',
    help: "PostgreSQL only: the pool's open connections, by state (in_use: serving a request; idle).",
    labelNames: ['state'],
    registers,
    collect() {
      const use = readPool?.();
      if (!use) return;
      this.set({ state: 'in_use' }, use.open - use.idle);
      this.set({ state: 'idle' }, use.idle);
    },
  });
  new Gauge({
    name: 'database_pool_waiting_requests',
    help: 'PostgreSQL only: queries waiting for a connection of the pool (a 503 after DATABASE_CONNECT_TIMEOUT_MS).',
    registers,
    collect() {
      const use = readPool?.();
      if (use) this.set(use.waiting);
    },
  });
  return {
    watchDatabasePool: (read) => {
      readPool = read;
    },
    registry,
    httpRequests: new RequestMetrics(registry, DURATION_BUCKETS),
    upstreamDuration: new Histogram({
      name: 'upstream_request_duration_seconds',
      help: "Time from calling the upstream provider to its whole response (to its headers for streams and pass-through), by the provider's status (error: unreachable or timed out).",
      labelNames: ['status'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    storedCompletions: new Counter({
      name: 'stored_completions_written_total',
      help: 'Completions written to the database (store: true).',
      registers,
    }),
    databaseErrors: new Counter({
      name: 'database_errors_total',
      help: 'Store operations that failed in the database, by operation.',
      labelNames: ['operation'],
      registers,
    }),
    retentionDeleted: new Counter({
      name: 'retention_deleted_completions_total',
      help: 'Completions deleted because they were older than RETENTION_DAYS.',
      registers,
    }),
    retentionTombstonesPurged: new Counter({
      name: 'retention_purged_tombstones_total',
      help: 'Tombstones of expired completions let go one RETENTION_DAYS window after the expiry.',
      registers,
    }),
    exportsInProgress: new Gauge({
      name: 'stored_completions_exports_in_progress',
      help: 'GET /v1/stored-completions/export responses still streaming.',
      registers,
    }),
  };
}

/** The provider, timed: every call's latency lands in `upstream_request_duration_seconds`. */
export function instrumentUpstream(upstream: Upstream, metrics: Metrics): Upstream {
  return {
    baseUrl: upstream.baseUrl,
    timeoutMs: upstream.timeoutMs,
    responseLimitBytes: upstream.responseLimitBytes,
    async send(path, request) {
      const stop = metrics.upstreamDuration.startTimer();
      try {
        const response = await upstream.send(path, request);
        stop({ status: String(response.status) });
        return response;
      } catch (err) {
        stop({ status: 'error' });
        throw err;
      }
    },
    close: () => upstream.close(),
  };
}

/**
 * The store, counted: completions written, and failures of the database
 * itself. An ApiError is a refusal of the client's input (a bad cursor), not a
 * database failure, so it is not counted.
 */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  const counted: Record<string, unknown> = {};
  for (const [operation, method] of Object.entries(store) as [string, unknown][]) {
    // A property that is no operation (groupCommitsInFlight) is passed on as it is.
    if (typeof method !== 'function') {
      counted[operation] = method;
      continue;
    }
    const countFailure = (err: unknown) => {
      if (isDatabaseFailure(err)) metrics.databaseErrors.inc({ operation });
      throw err;
    };
    // An answer given at once stays one (see `Answered` in the store's contract): no promise added here.
    counted[operation] = (...args: unknown[]) => {
      let answer: unknown;
      try {
        answer = method(...args);
      } catch (err) {
        countFailure(err);
      }
      return answer instanceof Promise ? answer.catch(countFailure) : answer;
    };
  }
  const written = counted as unknown as Store;
  if (store.connectionUse) metrics.watchDatabasePool(store.connectionUse);
  return {
    ...written,
    saveCompletion: async (projectName, record) => {
      await written.saveCompletion(projectName, record);
      metrics.storedCompletions.inc();
    },
    saveCompletions: async (projectName, records) => {
      await written.saveCompletions(projectName, records);
      metrics.storedCompletions.inc(records.length);
    },
    saveCompletionBatch: async (writes) => {
      await written.saveCompletionBatch(writes);
      metrics.storedCompletions.inc(writes.length);
    },
    // A stored stream whose id the database held (PostgreSQL): written here, not through the three above.
    saveHeldCompletion: async (projectName, record) => {
      await written.saveHeldCompletion(projectName, record);
      metrics.storedCompletions.inc();
    },
  };
}
