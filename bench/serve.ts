import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { createLogger } from '../src/logger.ts';
import { createSqliteStore } from '../src/store/index.ts';
import { createUpstream } from '../src/upstream.ts';

/**
 * The service as the benchmark serves it, in its own process so that the load
 * generator does not share its event loop and its resident memory is the
 * service's alone. Beside the real app, the same process serves a trivial Hono
 * JSON endpoint: the framework's ceiling, measured in the same run.
 * Arguments: <database path> <upstream base URL> <API_KEYS>. Prints `{"port":N}`.
 */
const [databaseUrl, upstreamUrl, apiKeys] = process.argv.slice(2) as [string, string, string];
const config = loadConfig({ DATABASE_URL: databaseUrl, UPSTREAM_BASE_URL: upstreamUrl, API_KEYS: apiKeys, LOG_LEVEL: 'silent' });
const db = openDatabase(config.databaseUrl);
const store = createSqliteStore(db);
const upstream = createUpstream({ baseUrl: config.upstreamBaseUrl, timeoutMs: config.upstreamTimeoutMs });
const app = createApp({ store, upstream, config, logger: createLogger(config.logLevel) });

const trivial = new Hono();
trivial.get('/trivial', (c) => c.json({ object: 'list', data: [], first_id: null, last_id: null, has_more: false }));

const server = serve({
  fetch: (request: Request) => (request.url.endsWith('/trivial') ? trivial.fetch(request) : app.fetch(request)),
  port: 0,
  hostname: '127.0.0.1',
}) as Server;
await once(server, 'listening');
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);

process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => {
    db.close();
    process.exit(0);
  });
});
