// First: SIGHUP is listened for before anything else loads (reload-signal.ts says why).
import { onReloadSignal } from './reload-signal.ts';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { unfinishedCopyIn } from './copy-mark.ts';
import { maskDatabaseUrl } from './db/database-url.ts';
import { DatabaseOpenError } from './db/open-errors.ts';
import { createHttpServer } from './http-server.ts';
import { createKeyReload } from './key-reload.ts';
import { PostgresStartError } from './db/postgres-client.ts';
import { createShutdown } from './lifecycle.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { createRetention } from './retention.ts';
import type { Store } from './store/index.ts';
import { openStore } from './store/open.ts';
import { maskUpstreamUrl } from './upstream/base-url.ts';
import { createUpstream } from './upstream/client.ts';

/** The entry point: the only file with side effects at start. */
const startedAt = performance.now();

/** A start that cannot succeed ends here: the message alone (no stack: it is the operator's problem, not the code's), exit 1. */
function startFailed(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) startFailed(err.message);
  throw err;
}

const logger = createLogger(config.logLevel);
let store: Store;
try {
  // PostgreSQL: waits (logging each retry) up to DATABASE_STARTUP_TIMEOUT_MS for a server that is not up yet.
  store = await openStore(config, logger);
} catch (err) {
  if (err instanceof DatabaseOpenError || err instanceof PostgresStartError) startFailed(err.message);
  throw err;
}
// Documented (docs/tenancy.md), but easy to fall into without knowing: an empty API_KEYS (compose passes `API_KEYS=`
// for an unset one) means pass-through mode, where every made-up key is let in on the operator's upstream key.
if (config.apiKeys === undefined && config.upstreamApiKey !== undefined) {
  logger.warn(
    'no API_KEYS: any bearer key is accepted, and every request is sent upstream with UPSTREAM_API_KEY; set API_KEYS unless only trusted clients reach this port',
  );
}
// Served all the same (it may be all an operator has), but not silently: it holds only part of its source.
const unfinishedCopy = await unfinishedCopyIn(store);
if (unfinishedCopy) {
  logger.warn(
    unfinishedCopy,
    'this database holds an unfinished copy (a copy into it was stopped before the end): it has only part of its source; copy again into an empty database',
  );
}
const upstream = createUpstream({ baseUrl: config.upstreamBaseUrl, timeoutMs: config.upstreamTimeoutMs, responseLimitBytes: config.upstreamResponseLimitBytes });
const metrics = createMetrics({ processMetrics: true });
const app = createApp({ store, upstream, config, logger, metrics });
const retention = createRetention({ store, retentionDays: config.retentionDays, logger, metrics });


const server = createHttpServer(app.fetch, config);
server.listen(config.port, config.host, () => {
  logger.info(
    {
      port: (server.address() as AddressInfo).port,
      host: config.host,
      database: maskDatabaseUrl(config.databaseUrl),
      // A base URL may carry credentials (https://user:pass@host): the log shows where, never who.
      upstream: maskUpstreamUrl(config.upstreamBaseUrl),
      retentionDays: config.retentionDays,
      startupMs: Math.round(performance.now() - startedAt),
    },
    'listening',
  );
  retention.start();
});
server.once('error', (err: NodeJS.ErrnoException) => {
  // Only listen() fails this way (a port in use, an address not on this host); a running server reports nothing here.
  startFailed(`PORT/HOST: cannot listen on ${config.host}:${config.port} (${err.code ?? ''}: ${err.message})`);
});

const shutdown = createShutdown({
  server,
  graceMs: config.shutdownGraceMs,
  logger,
  release: async () => {
    retention.stop();
    void upstream.close();
    await store.close();
  },
  exit: (code) => process.exit(code),
});
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
// SIGHUP reads the keys again (API_KEYS_FILE): a key removed is refused from then on, without a restart.
onReloadSignal(createKeyReload({ keys: config.apiKeys, replace: app.replaceApiKeys, logger }));
