import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { holdNextCall, listenOnLoopback, sendJson, type FakeUpstream } from './helpers/fake-upstream.ts';
import { DEFAULT_KEY, startService, type Service, useServiceEachTest } from './helpers/service.ts';

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started));

/** A provider that hands each raw request to the test as it arrives, before its body is read, for the streaming cases. */
function startRawUpstream(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  return listenOnLoopback(createServer(handle));
}

async function storedCount(): Promise<{ n: number }> {
  return { n: await service.countRows('completions') };
}

describe('other /v1 routes go to the upstream', () => {
  it('get /v1/models through the official client, with the query string and the tenant credentials', async () => {
    const models = { object: 'list', data: [{ id: 'gpt-4o', object: 'model', created: 1_700_000_000, owned_by: 'openai' }] };
    upstream.handler = (request, res) => sendJson(res, 200, models);
    const page = await service.client().models.list();
    expect(page.data).toEqual(models.data);

    const res = await service.request('/v1/models?limit=5&x=a%20b');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(res.headers.get('x-upstream-request-id')).toBe('req_upstream');
    expect(await res.json()).toEqual(models);
    expect(upstream.received.map((r) => [r.method, r.path, r.headers.authorization])).toEqual([
      ['GET', '/v1/models', `Bearer ${DEFAULT_KEY}`],
      ['GET', '/v1/models?limit=5&x=a%20b', `Bearer ${DEFAULT_KEY}`],
    ]);
    expect(await storedCount()).toEqual({ n: 0 });
  });

  it('post /v1/embeddings through the official client, body unchanged', async () => {
    const embedding = { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5, -0.25] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 2, total_tokens: 2 } };
    upstream.handler = (request, res) => sendJson(res, 200, embedding);
    const result = await service.client().embeddings.create({ model: 'text-embedding-3-small', input: 'hello world', encoding_format: 'float' });
    expect(result).toEqual(embedding);
    expect(upstream.received[0]!.path).toBe('/v1/embeddings');
    expect(upstream.received[0]!.json).toEqual({ model: 'text-embedding-3-small', input: 'hello world', encoding_format: 'float' });
  });

  it('uses UPSTREAM_API_KEY for pass-through routes too', async () => {
    const withKey = await startService({ upstreamUrl: upstream.url, env: { UPSTREAM_API_KEY: 'sk-upstream-secret' } });
    try {
      upstream.handler = (request, res) => sendJson(res, 200, { object: 'list', data: [] });
      await withKey.client().models.list();
      expect(upstream.received[0]!.headers.authorization).toBe('Bearer sk-upstream-secret');
    } finally {
      await withKey.close();
    }
  });

  it('forwards a multipart upload as sent', async () => {
    const file = { id: 'file-abc', object: 'file', bytes: 24, created_at: 1_700_000_000, filename: 'train.jsonl', purpose: 'fine-tune', status: 'processed' };
    upstream.handler = (request, res) => sendJson(res, 200, file);
    const content = '{"messages":[]}\n{"a":1}\n';
    const created = await service.client().files.create({ file: await toFile(Buffer.from(content), 'train.jsonl'), purpose: 'fine-tune' });
    expect(created).toEqual(file);
    const [sent] = upstream.received;
    expect(sent!.method).toBe('POST');
    expect(sent!.path).toBe('/v1/files');
    const boundary = /boundary=(.+)$/.exec(sent!.headers['content-type']!)![1]!;
    expect(sent!.body).toContain(`--${boundary}\r\n`);
    expect(sent!.body).toContain('name="purpose"\r\n\r\nfine-tune\r\n');
    expect(sent!.body).toContain(`filename="train.jsonl"`);
    expect(sent!.body).toContain(`\r\n\r\n${content}\r\n--${boundary}`);
    expect(sent!.body.endsWith(`--${boundary}--\r\n`)).toBe(true);
    // Sized as the client sized it, not re-chunked.
    expect(sent!.headers['content-length']).toBe(String(Buffer.byteLength(sent!.body)));
    expect(sent!.headers['transfer-encoding']).toBeUndefined();
  });

  it('streams the request body: the upstream has the first part before the client sends the rest', async () => {
    let firstPartArrived!: () => void;
    const arrived = new Promise<void>((resolve) => (firstPartArrived = resolve));
    const raw = await startRawUpstream(async (req, res) => {
      const parts: string[] = [];
      for await (const chunk of req) {
        parts.push(String(chunk));
        if (parts.length === 1) firstPartArrived();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ received: parts.join('') }));
    });
    const streaming = await startService({ upstreamUrl: raw.url });
    try {
      const encoder = new TextEncoder();
      let sendRest!: () => void;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode('part one;'));
          sendRest = () => {
            controller.enqueue(encoder.encode('part two'));
            controller.close();
          };
        },
      });
      const responsePromise = streaming.request('/v1/audio/transcriptions', {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body,
        duplex: 'half',
      } as RequestInit);
      // Would never resolve if the proxy waited for the whole body.
      await arrived;
      sendRest();
      const res = await responsePromise;
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ received: 'part one;part two' });
    } finally {
      await streaming.close();
      await raw.close();
    }
  });

  it('streams a non-JSON response: the client reads the first bytes before the upstream sends the rest', async () => {
    let sendRest!: () => void;
    const raw = await startRawUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'x-request-id': 'req_audio' });
      res.write(Buffer.from([0xff, 0xfb, 0x90, 0x00]));
      sendRest = () => res.end(Buffer.from([0x01, 0x02]));
    });
    const streaming = await startService({ upstreamUrl: raw.url });
    try {
      const res = await streaming.request('/v1/audio/speech', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tts-1', input: 'hi', voice: 'alloy' }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('audio/mpeg');
      expect(res.headers.get('x-upstream-request-id')).toBe('req_audio');
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect([...first.value!]).toEqual([0xff, 0xfb, 0x90, 0x00]);
      sendRest();
      const rest: number[] = [];
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(...r.value);
      expect(rest).toEqual([0x01, 0x02]);
    } finally {
      await streaming.close();
      await raw.close();
    }
  });

  it('passes any method through, and an upstream error status with its error body', async () => {
    upstream.handler = (request, res) => sendJson(res, 404, { error: { message: `No such file: file-x (${request.method})`, type: 'invalid_request_error', param: 'id', code: null } });
    const res = await service.request('/v1/files/file-x', { method: 'DELETE' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message: 'No such file: file-x (DELETE)', type: 'invalid_request_error', param: 'id', code: null } });
    expect(upstream.received.map((r) => [r.method, r.path])).toEqual([['DELETE', '/v1/files/file-x']]);
  });

  it('rewrites a non-OpenAI error body into the error shape', async () => {
    upstream.handler = (_request, res) => {
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html><body>Service Unavailable</body></html>');
    };
    const res = await service.request('/v1/models');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { message: 'Service Unavailable', type: 'server_error', param: null, code: null } });
  });

  it('answers 413 for a declared body above BODY_LIMIT_BYTES without calling the upstream', async () => {
    const small = await startService({ upstreamUrl: upstream.url, env: { BODY_LIMIT_BYTES: '2048' } });
    try {
      const res = await small.request('/v1/embeddings', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: 'x'.repeat(4000) }),
      });
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual({
        error: { message: 'Request body too large: the maximum is 2048 bytes.', type: 'invalid_request_error', param: null, code: 'request_too_large' },
      });
      expect(upstream.received).toHaveLength(0);
    } finally {
      await small.close();
    }
  });

  it('answers 413 when a streamed body without a length grows past BODY_LIMIT_BYTES', async () => {
    const small = await startService({ upstreamUrl: upstream.url, env: { BODY_LIMIT_BYTES: '2048' } });
    try {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new Uint8Array(1500));
          controller.enqueue(new Uint8Array(1500));
          controller.close();
        },
      });
      const res = await small.request('/v1/files', { method: 'POST', body, duplex: 'half' } as RequestInit);
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual({
        error: { message: 'Request body too large: the maximum is 2048 bytes.', type: 'invalid_request_error', param: null, code: 'request_too_large' },
      });
    } finally {
      await small.close();
    }
  });

  it('answers 504 when the upstream does not answer in time', async () => {
    const impatient = await startService({ upstreamUrl: upstream.url, env: { UPSTREAM_TIMEOUT_MS: '100' } });
    try {
      upstream.handler = () => {};
      const res = await impatient.request('/v1/models');
      expect(res.status).toBe(504);
      expect(await res.json()).toEqual({
        error: { message: 'The upstream provider did not answer in time.', type: 'server_error', param: null, code: null },
      });
    } finally {
      await impatient.close();
    }
  });

  it('closes the upstream call when the client goes away before the upstream answers', async () => {
    // Never answers: only the proxy closing the connection ends this call.
    const held = holdNextCall(upstream);
    const client = new AbortController();
    const response = service.request('/v1/models', { signal: client.signal });
    await held.arrived;
    client.abort();
    await expect(response).rejects.toThrow();
    expect(await held.closedUnanswered).toBe(true);
  });

  it('requires a key before forwarding anything', async () => {
    const res = await service.request('/v1/models', { auth: false });
    expect(res.status).toBe(401);
    expect(upstream.received).toHaveLength(0);
  });

  it('keeps our own chat-completions paths local: a method we do not serve is our 404', async () => {
    for (const [method, path] of [
      ['PUT', '/v1/chat/completions/x'],
      ['PATCH', '/v1/chat/completions'],
      ['POST', '/v1/chat/completions/x/messages'],
      ['GET', '/v1/chat/completions/x/messages/y'],
    ] as const) {
      const res = await service.request(path, { method });
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ error: { message: `Invalid URL (${method} ${path})`, type: 'invalid_request_error', param: null, code: null } });
    }
    expect(upstream.received).toHaveLength(0);
  });

  it('keeps other spellings of our paths local, so store and metadata never reach the provider by them', async () => {
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], store: true, metadata: { k: 'v' } });
    for (const path of [
      '/v1//chat/completions',
      '/v1/chat//completions/',
      '/v1/chat%2Fcompletions',
      '/v1/chat%2fcompletions',
      '/v1/chat/completions;x',
      '/v1/Chat/Completions',
      '//v1/stored-completions/export',
      '/v1/stored-completions;a/usage',
    ]) {
      const res = await service.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect({ path, status: res.status, body: await res.json() }).toEqual({
        path,
        status: 404,
        body: { error: { message: `Invalid URL (POST ${path})`, type: 'invalid_request_error', param: null, code: null } },
      });
    }
    expect(upstream.received).toHaveLength(0);
  });

  it('keeps our paths local when a lenient server could end them early: at an escaped ? or #, blanks, control characters, a trailing . or ~', async () => {
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], store: true, metadata: { k: 'v' } });
    for (const path of [
      '/v1/chat/completions%3Fx',
      '/v1/chat/completions%3F',
      '/v1/chat/completions%23',
      '/v1/chat/completions%23x',
      '/v1/chat/completions%253F',
      '/v1/chat/completions%20',
      '/v1/chat/completions%09',
      '/v1/chat/completions%0a',
      '/v1/chat/completions%00',
      '/v1/chat/completions%C2%A0',
      '/v1/chat/completions%E3%80%80',
      '/v1/chat/completions%EF%BC%9F',
      '/v1/chat/completions.',
      '/v1/chat/completions%2E',
      '/v1/chat/completions~',
      '/v1/chat/completions%3Fx/y',
      '/v1/stored-completions%3Fx',
      // Fullwidth letters and slashes are the same path to a server that normalizes Unicode (NFKC).
      '/v1/%EF%BD%83hat/completions',
      '/v1/chat%EF%BC%8Fcompletions',
    ]) {
      const res = await service.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      // The message names the path as the router read it: escapes decoded except reserved ones (`%3F`, `%23`) and `%25`.
      const shown = decodeURI(path.replaceAll('%25', '%2525'));
      expect({ path, status: res.status, body: await res.json() }).toEqual({
        path,
        status: 404,
        body: { error: { message: `Invalid URL (POST ${shown})`, type: 'invalid_request_error', param: null, code: null } },
      });
    }
    expect(upstream.received).toEqual([]);
    // A name that only begins like ours is another route: it goes to the provider.
    for (const path of ['/v1/chat/completions-like', '/v1/chat/completions_v2', '/v1/stored-completionsx']) {
      const res = await service.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect({ path, status: res.status, body: await res.json() }).toEqual({
        path,
        status: 404,
        body: { error: { message: `fake upstream: no route POST ${path}`, type: 'invalid_request_error', param: null, code: null } },
      });
    }
    expect(upstream.received.map((r) => r.path)).toEqual(['/v1/chat/completions-like', '/v1/chat/completions_v2', '/v1/stored-completionsx']);
  });

  it('keeps paths whose . or .. segments hide behind escapes local: a provider that decodes before it resolves would leave /v1 with the upstream key', async () => {
    for (const path of [
      '/v1/..%2Fadmin',
      '/v1/..%2fadmin/%zz',
      '/v1/files%2F..%2F..%2Fadmin',
      '/v1/..%5Cadmin',
      '/v1/%2e%2e%2Fadmin',
      '/v1/models/%252e%252e%252fadmin',
      '/v1/x/..;/admin',
      '/v1/models/.%2F..%2Fkeys',
    ]) {
      const res = await service.request(path);
      // The message names the path as the router read it: `%5C` and `%2e` decoded, reserved escapes (`%2F`) kept.
      const shown = path.replace(/%(5C|2e)/gi, (escape) => decodeURIComponent(escape));
      expect({ path, status: res.status, body: await res.json() }).toEqual({
        path,
        status: 404,
        body: { error: { message: `Invalid URL (GET ${shown})`, type: 'invalid_request_error', param: null, code: null } },
      });
    }
    // A malformed escape elsewhere in the path leaves the escapes before it read all the same.
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], store: true, metadata: { k: 'v' } });
    const own = await service.request('/v1/chat%2Fcompletions/%zz', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(own.status).toBe(404);
    expect(upstream.received).toHaveLength(0);
    // Dots inside a segment are no dot segment: such paths still go to the provider.
    const dotted = await service.request('/v1/files/file-a..b%2Ec/content');
    expect(await dotted.json()).toEqual({
      error: { message: 'fake upstream: no route GET /v1/files/file-a..b%2Ec/content', type: 'invalid_request_error', param: null, code: null },
    });
    expect(upstream.received.map((r) => r.path)).toEqual(['/v1/files/file-a..b%2Ec/content']);
    // Dot segments in the query are no path: a cursor or a search that holds ../ goes to the provider as sent.
    const queried = await service.request('/v1/files?after=..%2F..%2Fadmin&q=%2E%2E%5C..;x');
    expect(queried.status).toBe(404);
    expect(upstream.received.map((r) => r.path)).toEqual(['/v1/files/file-a..b%2Ec/content', '/v1/files?after=..%2F..%2Fadmin&q=%2E%2E%5C..;x']);
  });

  it('never forwards TRACE: the provider would echo the request back, the upstream key with it', async () => {
    // node:http: fetch refuses to send it.
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${service.origin}/v1/models`, { method: 'TRACE', headers: { authorization: `Bearer ${DEFAULT_KEY}` } }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toEqual({
      error: { message: 'Invalid URL (TRACE /v1/models)', type: 'invalid_request_error', param: null, code: null },
    });
    expect(upstream.received).toEqual([]);
  });

  it('keeps unknown paths outside /v1 local', async () => {
    const res = await service.request('/v2/models');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message: 'Invalid URL (GET /v2/models)', type: 'invalid_request_error', param: null, code: null } });
    expect(upstream.received).toHaveLength(0);
  });
});

describe('pass-through faults', () => {
  it('breaks the client response when the upstream drops mid-body, and closes both connections', async () => {
    const raw = await startRawUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('first part', () => res.destroy());
    });
    const streaming = await startService({ upstreamUrl: raw.url });
    try {
      const res = await streaming.request('/v1/files/file-1/content');
      expect(res.status).toBe(200);
      await expect(res.text()).rejects.toThrow();
    } finally {
      await streaming.close();
      await raw.close();
    }
  });

  it('breaks the client response when the upstream goes silent mid-body for UPSTREAM_TIMEOUT_MS, and closes the upstream', async () => {
    let upstreamClosed!: Promise<boolean>;
    const raw = await startRawUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('first part');
      upstreamClosed = new Promise((resolve) => res.on('close', () => resolve(res.writableFinished)));
    });
    const impatient = await startService({ upstreamUrl: raw.url, env: { UPSTREAM_TIMEOUT_MS: '150' } });
    try {
      const res = await impatient.request('/v1/files/file-1/content');
      expect(res.status).toBe(200);
      await expect(res.text()).rejects.toThrow();
      expect(await upstreamClosed).toBe(false);
    } finally {
      await impatient.close();
      await raw.close();
    }
  });
});

describe('headers across the proxy', () => {
  /** A request with exactly these headers (node:http adds none but Host): fetch would add its own. */
  const sendExactly = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${service.origin}${path}`, { method, headers, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(body);
    });

  it("sends streamed calls upstream with the client's headers only, none added on the way", async () => {
    const own = { authorization: `Bearer ${DEFAULT_KEY}`, 'x-stainless-lang': 'js', connection: 'keep-alive' };
    const json = (body: string) => ({ ...own, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    const create = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, store: true });
    const embed = JSON.stringify({ model: 'text-embedding-3-small', input: 'x' });
    upstream.handler = (request, res) =>
      request.path === '/v1/chat/completions'
        ? sendJson(res, 200, { id: 'chatcmpl-h', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [] })
        : sendJson(res, 200, { object: 'list', data: [] });
    expect(await sendExactly('POST', '/v1/chat/completions', json(create), create)).toBe(200);
    expect(await sendExactly('GET', '/v1/models', own)).toBe(200);
    expect(await sendExactly('POST', '/v1/embeddings', json(embed), embed)).toBe(200);
    // Host and Connection are the proxy's own connection's (undici's), with the same names; nothing else is added
    // (Node's fetch added sec-fetch-mode, accept-language, accept, user-agent and accept-encoding).
    const names = upstream.received.map((r) => [r.path, Object.keys(r.headers).sort()]);
    const withBody = ['authorization', 'connection', 'content-length', 'content-type', 'host', 'x-stainless-lang'];
    expect(names).toEqual([
      ['/v1/chat/completions', withBody],
      ['/v1/models', ['authorization', 'connection', 'host', 'x-stainless-lang']],
      ['/v1/embeddings', withBody],
    ]);
  });

  it("keeps the length of a HEAD answer, and drops the provider's cookies, which would land on this service's origin", async () => {
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '12345', 'set-cookie': ['a=1; Path=/', 'b=2; Path=/'] });
      res.end();
    };
    const res = await service.request('/v1/files/file-1/content', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('12345');
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it('decodes an answer the provider compressed though the proxy asked for no encoding, and hands on bodiless answers', async () => {
    const models = { object: 'list', data: [{ id: 'gpt-4o', object: 'model', created: 1_700_000_000, owned_by: 'openai' }] };
    upstream.handler = (request, res) => {
      if (request.method === 'DELETE') {
        res.writeHead(204, { 'x-request-id': 'req_deleted' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(request.method === 'HEAD' ? undefined : gzipSync(JSON.stringify(models)));
    };
    const res = await service.request('/v1/models');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(await res.json()).toEqual(models);
    const head = await service.request('/v1/models', { method: 'HEAD' });
    expect([head.status, head.headers.get('content-encoding'), await head.text()]).toEqual([200, null, '']);
    const deleted = await service.request('/v1/files/file-1', { method: 'DELETE' });
    expect([deleted.status, deleted.headers.get('x-upstream-request-id'), await deleted.text()]).toEqual([204, 'req_deleted', '']);
  });

  it('serves clients that send Expect: 100-continue (curl does for large bodies), on every kind of route', async () => {
    const { request } = await import('node:http');
    const post = (path: string, body: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${service.origin}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${DEFAULT_KEY}`, 'content-type': 'application/json', expect: '100-continue' },
        });
        req.on('continue', () => req.end(body));
        req.on('response', (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
      });
    const chat = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], store: true });
    const plain = await post('/v1/chat/completions', chat);
    expect(plain.status, plain.body).toBe(200);
    expect(JSON.parse(plain.body).object).toBe('chat.completion');
    const embeddings = await post('/v1/embeddings', JSON.stringify({ model: 'text-embedding-3-small', input: 'x' }));
    expect(embeddings.status).toBe(404); // the fake upstream has no embeddings route: its 404 came back, so the call went through
    expect(JSON.parse(embeddings.body)).toEqual({
      error: { message: 'fake upstream: no route POST /v1/embeddings', type: 'invalid_request_error', param: null, code: null },
    });
    expect(upstream.received.map((r) => [r.path, r.headers.expect])).toEqual([
      ['/v1/chat/completions', undefined],
      ['/v1/embeddings', undefined],
    ]);
  });
});
