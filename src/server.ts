import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { answerClientError } from './client-error.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { connectionTimeouts } from './connection-timeouts.ts';
import { openDatabase } from './db/client.ts';
import { createShutdown } from './lifecycle.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { createRetention } from './retention.ts';
import { createSqliteStore } from './store/index.ts';
import { createUpstream } from './upstream.ts';

/** The entry point: the only file with side effects at start. */
const startedAt = performance.now();

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

const logger = createLogger(config.logLevel);
const store = createSqliteStore(openDatabase(config.databaseUrl));
const upstream = createUpstream({ baseUrl: config.upstreamBaseUrl, timeoutMs: config.upstreamTimeoutMs });
const metrics = createMetrics({ processMetrics: true });
const app = createApp({ store, upstream, config, logger, metrics });
const retention = createRetention({ store, retentionDays: config.retentionDays, logger, metrics });

function withoutCredentials(url: string): string {
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return url;
  parsed.username = '***';
  parsed.password = '';
  return parsed.toString();
}

const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host, serverOptions: connectionTimeouts(config) }, (info) => {
  logger.info(
    {
      port: info.port,
      host: config.host,
      database: config.databaseUrl,
      // A base URL may carry credentials (https://user:pass@host): the log shows where, never who.
      upstream: withoutCredentials(config.upstreamBaseUrl),
      retentionDays: config.retentionDays,
      startupMs: Math.round(performance.now() - startedAt),
    },
    'listening',
  );
  retention.start();
}) as Server;
server.on('clientError', answerClientError);

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
