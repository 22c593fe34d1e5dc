import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.ts';
import { type Service, startService } from './helpers/service.ts';

/**
 * A create or an update sent compressed (`Content-Encoding`, as OpenAI's API takes it) is decoded before it is
 * read; the provider gets the service's own JSON text, typed `application/json`, never the client's encoding
 * label on a body it no longer describes.
 */

let upstream: FakeUpstream;
let service: Service;

beforeEach(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url, env: { BODY_LIMIT_BYTES: '100000' } });
});

afterEach(async () => {
  await service.close();
  await upstream.close();
});

const REQUEST = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Packed tight' }], store: true, metadata: { sent: 'compressed' } };
const json = (body: unknown) => Buffer.from(JSON.stringify(body));

function create(body: Uint8Array, headers: Record<string, string>): Promise<Response> {
  return service.request('/v1/chat/completions', { method: 'POST', headers, body });
}

describe('a request body sent compressed', () => {
  const encodings: [string, (body: Buffer) => Buffer][] = [
    ['gzip', gzipSync],
    ['x-gzip', gzipSync],
    ['deflate', deflateSync],
    ['deflate', deflateRawSync],
    ['br', brotliCompressSync],
    ['identity', (body) => body],
    ['identity, gzip', gzipSync],
  ];
  for (const [encoding, compress] of encodings) {
    it(`is decoded (${encoding}${compress === deflateRawSync ? ', raw' : ''}): stored, and sent on as plain JSON`, async () => {
      const res = await create(compress(json(REQUEST)), { 'content-type': 'text/plain', 'content-encoding': encoding });
      expect(res.status).toBe(200);
      const completion = (await res.json()) as { id: string };
      expect(upstream.received).toHaveLength(1);
      const [sent] = upstream.received;
      expect(sent!.json).toEqual({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Packed tight' }] });
      expect(sent!.headers['content-type']).toBe('application/json');
      expect(sent!.headers['content-encoding']).toBeUndefined();
      const stored = await service.client().chat.completions.retrieve(completion.id);
      expect(stored.metadata).toEqual({ sent: 'compressed' });
    });
  }

  it('streams too, the provider getting plain JSON', async () => {
    upstream.handler = (request, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = { id: 'chatcmpl-packed', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o', choices: [{ index: 0, delta: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] };
      res.end(`data: ${JSON.stringify(chunk)}\n\ndata: ${JSON.stringify({ ...chunk, choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })}\n\ndata: [DONE]\n\n`);
    };
    const res = await create(gzipSync(json({ ...REQUEST, stream: true })), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('data: [DONE]');
    expect(upstream.received[0]!.headers['content-encoding']).toBeUndefined();
    expect(upstream.received[0]!.json).toMatchObject({ model: 'gpt-4o', stream: true });
    expect((await service.client().chat.completions.retrieve('chatcmpl-packed')).metadata).toEqual({ sent: 'compressed' });
  });

  it('updates metadata sent gzipped', async () => {
    const created = (await (await create(json(REQUEST), { 'content-type': 'application/json' })).json()) as { id: string };
    const res = await service.request(`/v1/chat/completions/${created.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(json({ metadata: { tagged: 'yes' } })),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { metadata: unknown }).metadata).toEqual({ tagged: 'yes' });
  });

  it('is refused, and nothing sent on, when it is not what its Content-Encoding says', async () => {
    const res = await create(json(REQUEST), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: 'We could not decode the body of your request: it is not valid gzip data, as its Content-Encoding says.',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
    expect(upstream.received).toEqual([]);
  });

  it('is refused with a 415 in an encoding the service cannot undo, or compressed more than once', async () => {
    const res = await create(json(REQUEST), { 'content-type': 'application/json', 'content-encoding': 'zstd' });
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual({
      error: {
        message: "Unsupported Content-Encoding 'zstd': send the body uncompressed, or compressed with gzip, deflate or br.",
        type: 'invalid_request_error',
        param: null,
        code: 'unsupported_content_encoding',
      },
    });
    // Each layer decoded up to the body limit: thousands of them cost minutes of CPU for one request.
    const layers = Array.from({ length: 3 }).reduce<Buffer>((body) => gzipSync(body), json(REQUEST));
    const stacked = await create(layers, { 'content-type': 'application/json', 'content-encoding': 'gzip, gzip, gzip' });
    expect(stacked.status).toBe(415);
    expect(await stacked.json()).toEqual({
      error: {
        message: "Unsupported Content-Encoding 'gzip, gzip, gzip': compress the body once, with gzip, deflate or br.",
        type: 'invalid_request_error',
        param: null,
        code: 'unsupported_content_encoding',
      },
    });
    expect(upstream.received).toEqual([]);
  });

  it('sends the provider application/json even when the client names Content-Type as hop-by-hop, and no digest of the body it sent', async () => {
    const { request } = await import('node:http');
    const body = gzipSync(json(REQUEST));
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${service.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer sk-test-key-0001',
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          connection: 'keep-alive, content-type',
          'content-md5': 'bm90IHRoaXMgYm9keQ==',
          'content-length': String(body.length),
        },
      }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
    expect(upstream.received[0]!.headers['content-type']).toBe('application/json');
    expect(upstream.received[0]!.headers['content-md5']).toBeUndefined();
  });

  it('counts the body limit on the decoded bytes: a small bomb gets the 413 a large body does', async () => {
    const bomb = gzipSync(json({ ...REQUEST, padding: ' '.repeat(5_000_000) }));
    expect(bomb.length).toBeLessThan(10_000);
    const res = await create(bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: { message: 'Request body too large: the maximum is 100000 bytes.', type: 'invalid_request_error', param: null, code: 'request_too_large' },
    });
    expect(upstream.received).toEqual([]);
  });

  it('keeps a pass-through request as the client sent it, encoding and all', async () => {
    upstream.handler = (request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ encoding: request.headers['content-encoding'] ?? null, type: request.headers['content-type'] ?? null }));
    };
    const res = await service.request('/v1/embeddings', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(json({ model: 'text-embedding-3-small', input: 'x' })),
    });
    expect(await res.json()).toEqual({ encoding: 'gzip', type: 'application/json' });
  });
});
