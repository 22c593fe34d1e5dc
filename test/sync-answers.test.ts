import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase, type SqliteDatabase } from '../src/db/client.ts';
import { createLogger } from '../src/logger.ts';
import { createSqliteStore } from '../src/store/index.ts';
import { createUpstream } from '../src/upstream/client.ts';
import { toCompletionRecord } from '../src/wire.ts';

/**
 * On SQLite a list page and a retrieve are answered in the turn they are asked (the store's
 * `Answered` reads): under the Node adapter, `app.fetch` returns the Response itself, never a
 * promise, so the adapter writes it at once instead of through its promise path. What a client sees
 * must not change with it: a refusal thrown in that turn is still OpenAI's error, with its exact
 * status and body. A real server, with the app's answers watched on their way to the adapter.
 */

const KEY = 'sk-sync-answers-key';
const PROJECT = 'team-a';
let db: SqliteDatabase;
let server: Server;
let origin: string;
/** Whether each answer the app gave the adapter was a promise, in request order. */
let promised: boolean[];

const get = (path: string) => fetch(`${origin}${path}`, { headers: { authorization: `Bearer ${KEY}` } });

beforeEach(async () => {
  db = openDatabase(':memory:');
  const store = createSqliteStore(db);
  const config = loadConfig({ DATABASE_URL: ':memory:', UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', API_KEYS: `${KEY}:${PROJECT}`, LOG_LEVEL: 'silent' });
  const upstream = createUpstream({ baseUrl: config.upstreamBaseUrl, timeoutMs: 1000, responseLimitBytes: 1_000_000 });
  const app = createApp({ store, upstream, config, logger: createLogger('silent') });
  promised = [];
  server = serve({
    fetch: (request: Request, env: unknown) => {
      const answer = app.fetch(request, env);
      promised.push(answer instanceof Promise);
      return answer;
    },
    port: 0,
    hostname: '127.0.0.1',
  }) as Server;
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await store.saveCompletion(
    PROJECT,
    toCompletionRecord({
      request: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] },
      response: { id: 'chatcmpl-sync', object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o', choices: [] },
      id: 'chatcmpl-sync',
      requestId: 'req_1',
      metadata: { topic: 'sync' },
      now: 0,
    }),
  );
  // The first /v1 request loads the project-hash secret (a promise, once); every later one authenticates at once.
  expect((await get('/v1/chat/completions')).status).toBe(200);
  promised = [];
});

afterEach(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
  db.close();
});

describe('the hot reads on SQLite', () => {
  it('a list page and a retrieve come back as Responses, not promises, and the page holds the retrieved completion', async () => {
    const retrieved = await get('/v1/chat/completions/chatcmpl-sync');
    expect(retrieved.status).toBe(200);
    const completion = (await retrieved.json()) as { id: string; metadata: unknown };
    expect(completion.id).toBe('chatcmpl-sync');
    expect(completion.metadata).toEqual({ topic: 'sync' });

    const page = await get('/v1/chat/completions?limit=1');
    expect(page.status).toBe(200);
    expect(await page.json()).toEqual({ object: 'list', data: [completion], first_id: 'chatcmpl-sync', last_id: 'chatcmpl-sync', has_more: false });
    expect(promised).toEqual([false, false]);
  });

  it("a refusal thrown in that same turn is still OpenAI's error, with its exact status and body", async () => {
    const unknown = await get('/v1/chat/completions/chatcmpl-missing');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: { message: "No chat completion found with id 'chatcmpl-missing'.", type: 'invalid_request_error', param: null, code: null },
    });

    const badCursor = await get('/v1/chat/completions?after=chatcmpl-never');
    expect(badCursor.status).toBe(400);
    expect(await badCursor.json()).toEqual({
      error: { message: "Invalid 'after': no chat completion found with id 'chatcmpl-never'.", type: 'invalid_request_error', param: 'after', code: null },
    });
    expect(promised).toEqual([false, false]);
  });
});
