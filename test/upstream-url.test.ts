import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { baseQueryPairs, maskUpstreamUrl, withBaseQuery } from '../src/upstream/base-url.ts';
import { createUpstream } from '../src/upstream/client.ts';
import { streamingHandler } from './helpers/fake-sse.ts';
import { fakeCompletion, startFakeUpstream } from './helpers/fake-upstream.ts';
import { startService } from './helpers/service.ts';

describe("the provider's URL in the log", () => {
  it('hides its user, password and every query value, keeping the names', () => {
    expect(maskUpstreamUrl('http://user:pw@127.0.0.1:47701/v1?api-key=SECRETQ&api-version=2024-10-21')).toBe(
      'http://***@127.0.0.1:47701/v1?api-key=***&api-version=***',
    );
    expect(maskUpstreamUrl('https://gateway.example/v1?token=abc&token=def')).toBe('https://gateway.example/v1?token=***');
  });

  it('leaves a URL without credentials as it is', () => {
    expect(maskUpstreamUrl('https://api.openai.com/v1')).toBe('https://api.openai.com/v1');
  });
});

describe("the provider's base URL with a query (Azure's api-version, a gateway's key)", () => {
  const base = baseQueryPairs('api-version=2024-10-21&key=a%20b');

  it('adds its parameters after each call\'s path, as written; a name the call already has is the call\'s', () => {
    expect(withBaseQuery('/v1/chat/completions', base)).toBe('/v1/chat/completions?api-version=2024-10-21&key=a%20b');
    expect(withBaseQuery('/v1/models?x=1', base)).toBe('/v1/models?x=1&api-version=2024-10-21&key=a%20b');
    expect(withBaseQuery('/v1/models?api-version=preview', base)).toBe('/v1/models?api-version=preview&key=a%20b');
    expect(withBaseQuery('/v1/models?', base)).toBe('/v1/models?api-version=2024-10-21&key=a%20b');
    expect(withBaseQuery('/v1/models?x=1', [])).toBe('/v1/models?x=1');
  });

  it('reaches the provider on every route: stored creates, streamed ones and forwarded routes, with the client\'s own query sent on', async () => {
    const upstream = await startFakeUpstream();
    const service = await startService({ upstreamUrl: `${upstream.url}/?api-version=2024-10-21#ignored` });
    try {
      const client = service.client();
      const created = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], store: true });
      expect((await client.chat.completions.retrieve(created.id)).id).toBe(created.id);
      const plain = upstream.handler;
      upstream.handler = (request, res) => streamingHandler(fakeCompletion(request.json!, 'chatcmpl-streamed', 1_700_000_000))(request, res);
      const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, store: true });
      for await (const chunk of stream) void chunk;
      expect((await client.chat.completions.retrieve('chatcmpl-streamed')).id).toBe('chatcmpl-streamed');
      upstream.handler = plain;
      const withQuery = await service.request('/v1/chat/completions?trace=1&api-version=preview', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(withQuery.status).toBe(200);
      expect((await service.request('/v1/models?limit=2')).status).toBe(404);
      expect(upstream.received.map((r) => `${r.method} ${r.path}`)).toEqual([
        'POST /v1/chat/completions?api-version=2024-10-21',
        'POST /v1/chat/completions?api-version=2024-10-21',
        'POST /v1/chat/completions?trace=1&api-version=preview',
        'GET /v1/models?limit=2&api-version=2024-10-21',
      ]);
    } finally {
      await service.close();
      await upstream.close();
    }
  });

  it('keeps a query value that ends in a slash, and sends no fragment a raw client put in its own query', async () => {
    const upstream = await startFakeUpstream();
    const service = await startService({ upstreamUrl: `${upstream.url}?next=/` });
    try {
      const { port } = new URL(service.origin);
      const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
      const socket = (await import('node:net')).connect(Number(port), '127.0.0.1');
      socket.write(`POST /v1/chat/completions?x=1#frag HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer sk-test-key-0001\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      socket.resume();
      await new Promise((resolve) => socket.once('close', resolve));
      expect(upstream.received.map((r) => r.path)).toEqual(['/v1/chat/completions?x=1&next=/']);
    } finally {
      await service.close();
      await upstream.close();
    }
  });

  it("takes each call's path from the parsed URL: a user in it (or an explicit default port) is not in URL.origin", async () => {
    const upstream = await startFakeUpstream();
    const { port } = new URL(upstream.url);
    const client = createUpstream({ baseUrl: `http://someone:pw@127.0.0.1:${port}/v1`, timeoutMs: 5_000, responseLimitBytes: 1_000_000 });
    try {
      await client.send('/models?x=1', { method: 'GET', headers: [], authorization: 'Bearer k' } as never);
      expect(upstream.received.map((r) => r.path)).toEqual(['/v1/models?x=1']);
    } finally {
      await client.close();
      await upstream.close();
    }
  });

  it('is refused at start when it holds a user or password, which would never be sent', () => {
    expect(() => loadConfig({ UPSTREAM_BASE_URL: 'https://user:secret@gateway.example/v1' })).toThrow(
      "UPSTREAM_BASE_URL: a user or password in the URL is not sent to the provider, which is called with a Bearer key (UPSTREAM_API_KEY, or the client's own): leave them out",
    );
    // A URL that does not parse is the URL check's, named as such, not a crash that prints it.
    for (const url of ['notaurl', 'api.openai.com/v1', 'https://user:s3cret@api.example.com:99999/v1']) {
      expect(() => loadConfig({ UPSTREAM_BASE_URL: url })).toThrow('UPSTREAM_BASE_URL: expected an http(s) URL');
      expect(() => loadConfig({ UPSTREAM_BASE_URL: url })).not.toThrow(/s3cret/);
    }
    expect(loadConfig({ UPSTREAM_BASE_URL: 'https://gateway.example/v1/?next=/' }).upstreamBaseUrl).toBe('https://gateway.example/v1/?next=/');
    expect(loadConfig({ UPSTREAM_BASE_URL: 'https://gateway.example/v1//' }).upstreamBaseUrl).toBe('https://gateway.example/v1');
  });
});
