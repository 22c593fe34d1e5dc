import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { openStore } from '../src/store/open.ts';
import { createUpstream } from '../src/upstream.ts';
import { LIST_PATH } from './data.ts';

/**
 * The service as the benchmark serves it, in its own process so that the load
 * generator does not share its event loop and its resident memory is the
 * service's alone. Beside the real app, the same process serves bare Hono
 * endpoints, the ceilings measured in the same run: `/trivial`, a tiny JSON
 * body (the framework's floor cost per request), and `/ceiling`, the very bytes
 * of a 20-item list page served from memory (the cost of serving that payload).
 * Arguments: <DATABASE_URL (SQLite path or postgres://)> <upstream base URL> <API_KEYS> [SQLITE_SYNCHRONOUS]. Prints `{"port":N}`.
 */
const [databaseUrl, upstreamUrl, apiKeys, synchronous] = process.argv.slice(2) as [string, string, string, string | undefined];
const config = loadConfig({
  DATABASE_URL: databaseUrl,
  UPSTREAM_BASE_URL: upstreamUrl,
  API_KEYS: apiKeys,
  LOG_LEVEL: 'silent',
  SQLITE_SYNCHRONOUS: synchronous,
});
const store = await openStore(config);
const upstream = createUpstream({ baseUrl: config.upstreamBaseUrl, timeoutMs: config.upstreamTimeoutMs, responseLimitBytes: config.upstreamResponseLimitBytes });
const app = createApp({ store, upstream, config, logger: createLogger(config.logLevel) });

// The ceiling for a list page's payload: the same bytes the app serves for LIST_PATH, from memory.
const benchKey = apiKeys.split(',')[0]!.split(':')[0]!;
const listPage = await app.fetch(new Request(`http://bench${LIST_PATH}`, { headers: { authorization: `Bearer ${benchKey}` } }));
const listBytes = await listPage.text();

const bare = new Hono();
bare.get('/trivial', (c) => c.json({ object: 'list', data: [], first_id: null, last_id: null, has_more: false }));
bare.get('/ceiling', (c) => c.body(listBytes, 200, { 'content-type': 'application/json' }));
const BARE_PATHS = new Set(['/trivial', '/ceiling']);

const server = serve({
  // The adapter's second argument (the Node request and response) goes on to both apps, as `serve({ fetch: app.fetch })` in
  // src/server.ts hands it on: the app reads request bodies and sets its headers through it.
  fetch: (request: Request, env: unknown) =>
    BARE_PATHS.has(new URL(request.url).pathname) ? bare.fetch(request, env) : app.fetch(request, env),
  port: 0,
  hostname: '127.0.0.1',
}) as Server;
await once(server, 'listening');
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);

process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => {
    void store.close().then(() => process.exit(0));
  });
});
