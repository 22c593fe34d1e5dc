import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Agent } from 'undici';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { openStore } from '../src/store/open.ts';
import { createUpstream } from '../src/upstream/client.ts';
import { LIST_PATH } from './data.ts';

/**
 * The service as the benchmark serves it, in its own process so that the load
 * generator does not share its event loop and its resident memory is the
 * service's alone. Beside the real app, the same process serves bare Hono
 * endpoints, the ceilings measured in the same run: `/trivial`, a tiny JSON
 * body (the framework's floor cost per request), and `/ceiling`, the very bytes
 * of a 20-item list page served from memory (the cost of serving that payload),
 * and `/bare-proxy/chat/completions`, a create forwarded to the same upstream
 * through undici as the service forwards it, with no key, validation or store
 * (the cost of proxying at all: the ceiling for creates on this machine).
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
// The bare proxy: the request's bytes to the upstream and its answer back, through an undici Agent set up as
// src/upstream/client.ts sets up its own, reading the Node request as the service does (no web stream).
const proxyAgent = new Agent({ headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 10_000 });
const upstreamOrigin = new URL(upstreamUrl).origin;
const upstreamPath = `${upstreamUrl.slice(upstreamOrigin.length)}/chat/completions`;
const readNodeBody = (incoming: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.once('end', () => resolve(Buffer.concat(chunks)));
    incoming.once('error', reject);
  });
bare.post('/bare-proxy/chat/completions', async (c) => {
  const body = await readNodeBody((c.env as { incoming: IncomingMessage }).incoming);
  const answer = await proxyAgent.request({
    origin: upstreamOrigin,
    path: upstreamPath,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-upstream' },
    body,
  });
  const text = await answer.body.text();
  return c.body(text, answer.statusCode as 200, { 'content-type': String(answer.headers['content-type']) });
});
const BARE_PATHS = new Set(['/trivial', '/ceiling', '/bare-proxy/chat/completions']);
const pathOf = (url: string) => {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
};

const server = serve({
  // The adapter's second argument (the Node request and response) goes on to both apps, as `serve({ fetch: app.fetch })` in
  // src/server.ts hands it on: the app reads request bodies and sets its headers through it.
  // The path from the Node request's own URL text: a `new URL` per request cost ~4 µs of every request in the
  // list's profile, the ceiling's included, which made the ceiling look dearer than bare Hono is.
  fetch: (request: Request, env: unknown) =>
    BARE_PATHS.has(pathOf((env as { incoming: IncomingMessage }).incoming.url ?? '')) ? bare.fetch(request, env) : app.fetch(request, env),
  port: 0,
  hostname: '127.0.0.1',
}) as Server;
await once(server, 'listening');
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);

process.on('SIGTERM', () => {
  void proxyAgent.close();
  server.closeAllConnections();
  server.close(() => {
    void store.close().then(() => process.exit(0));
  });
});
