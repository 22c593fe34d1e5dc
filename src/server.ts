import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { answerClientError } from './client-error.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { openDatabase } from './db/client.ts';
import { createLogger } from './logger.ts';
import { createStore } from './store.ts';
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
const db = openDatabase(config.databaseUrl);
const store = createStore(db);
const upstream = createUpstream({ baseUrl: config.upstreamBaseUrl, timeoutMs: config.upstreamTimeoutMs });
const app = createApp({ store, upstream, config, logger });

const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
  logger.info(
    { port: info.port, host: config.host, database: config.databaseUrl, upstream: config.upstreamBaseUrl, startupMs: Math.round(performance.now() - startedAt) },
    'listening',
  );
});
server.on('clientError', answerClientError);

let stopping = false;
function shutdown(signal: string): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    logger.warn('grace period over, closing remaining connections');
    (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
  }, config.shutdownGraceMs);
  force.unref();
  server.close(() => {
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    logger.info('stopped');
    process.exit(0);
  });
  (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
