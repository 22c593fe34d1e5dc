import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { completionToChunks, openSse, sseEvent } from './helpers/fake-sse.ts';
import { fakeCompletion, type FakeUpstream } from './helpers/fake-upstream.ts';
import { postCompletion as create, storedCount, tooLargeBody } from './helpers/create-request.ts';
import OpenAI from 'openai';
import { DEFAULT_KEY, type Service, useServiceEachTest } from './helpers/service.ts';

let upstream: FakeUpstream;
let service: Service;

const LIMIT = 1024 * 1024;

useServiceEachTest((started) => ({ upstream, service } = started), { UPSTREAM_RESPONSE_LIMIT_BYTES: String(LIMIT) });

const messages = [{ role: 'user', content: 'Write a lot' }];

const tooLarge = tooLargeBody(LIMIT);

function completionOf(size: number): Record<string, unknown> {
  const completion = fakeCompletion({ model: 'gpt-4o', messages }, 'chatcmpl-big', 1_700_000_000);
  (completion.choices as { message: { content: string } }[])[0]!.message.content = 'x'.repeat(size);
  return completion;
}

/** Writes `piece` for as long as the connection takes it, minding backpressure; resolves with how the response ended. */
function writeForever(res: ServerResponse, piece: string): Promise<{ finished: boolean }> {
  const closed = new Promise<{ finished: boolean }>((resolve) => res.on('close', () => resolve({ finished: res.writableFinished })));
  const pump = () => {
    while (!res.destroyed && res.write(piece));
    if (!res.destroyed) res.once('drain', pump);
  };
  pump();
  return closed;
}

describe('UPSTREAM_RESPONSE_LIMIT_BYTES', () => {
  it('a stored answer over the limit is a 502 saying so, and nothing is stored', async () => {
    const text = JSON.stringify(completionOf(2 * LIMIT));
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const res = await create(service, { store: true });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual(tooLarge);
    expect(storedCount(service)).toEqual({ n: 0 });
  });

  it("tells the SDKs not to retry it: a retry would pay for as long an answer again (x-should-retry: false, which they obey)", async () => {
    const text = JSON.stringify(completionOf(2 * LIMIT));
    upstream.handler = (request, res) => {
      if (request.json?.stream) {
        // All at once with the first chunk: too large before anything was relayed, so a 502 rather than an error event.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = { id: 'chatcmpl-big', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o', choices: [{ index: 0, delta: { role: 'assistant', content: 'x'.repeat(2 * LIMIT) }, finish_reason: null }] };
        res.end(sseEvent(chunk));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(text);
    };
    const res = await create(service, { store: true });
    expect([res.status, res.headers.get('x-should-retry')]).toEqual([502, 'false']);
    const client = new OpenAI({ apiKey: DEFAULT_KEY, baseURL: service.baseURL, maxRetries: 2 });
    for (const stream of [false, true]) {
      const before = upstream.received.length;
      const error = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Write a lot' }], store: true, stream }).catch((err: unknown) => err);
      expect([(error as { status?: number }).status, upstream.received.length - before]).toEqual([502, 1]);
    }
    expect(storedCount(service)).toEqual({ n: 0 });
  });

  it('an answer that never ends is cut at the limit, not read to the end: 502, and the provider connection is closed', async () => {
    let upstreamClosed: Promise<{ finished: boolean }> | undefined;
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":"chatcmpl-endless","object":"chat.completion","choices":[{"message":{"content":"');
      upstreamClosed = writeForever(res, 'y'.repeat(64 * 1024));
    };
    const res = await create(service, { store: true });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual(tooLarge);
    expect(await upstreamClosed).toEqual({ finished: false });
    expect(storedCount(service)).toEqual({ n: 0 });
  });

  it('a compressed answer is held to the limit once decoded: a small gzip of a large completion is a 502, nothing stored', async () => {
    const packed = gzipSync(JSON.stringify(completionOf(2 * LIMIT)));
    expect(packed.length).toBeLessThan(LIMIT / 100);
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(packed);
    };
    const res = await create(service, { model: 'gpt-4o', messages, store: true });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual(tooLarge);
    expect(storedCount(service)).toEqual({ n: 0 });
  });

  it('an answer just under the limit is stored', async () => {
    const completion = completionOf(LIMIT - 4096);
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion));
    };
    const res = await create(service, { store: true });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(completion);
    expect(storedCount(service)).toEqual({ n: 1 });
  });

  it('a stored stream that grows past the limit ends with an error event, no [DONE], nothing stored, the provider cut off', async () => {
    const [first] = completionToChunks(completionOf(10));
    let upstreamClosed: Promise<{ finished: boolean }> | undefined;
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      sse.send(first);
      upstreamClosed = writeForever(res, sseEvent({ ...first, choices: [{ index: 0, delta: { content: 'z'.repeat(60_000) }, finish_reason: null }] }));
    };
    const res = await create(service, { stream: true, store: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.startsWith(sseEvent(first))).toBe(true);
    expect(text.endsWith(sseEvent(tooLarge))).toBe(true);
    expect(text).not.toContain('[DONE]');
    expect(await upstreamClosed).toEqual({ finished: false });
    expect(storedCount(service)).toEqual({ n: 0 });
  });

  it('an unstored stream larger than the limit is relayed whole: it is never held in memory', async () => {
    const [first] = completionToChunks(completionOf(10));
    const piece = sseEvent({ ...first, choices: [{ index: 0, delta: { content: 'z'.repeat(60_000) }, finish_reason: null }] });
    const pieces = Math.ceil((3 * LIMIT) / piece.length);
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      for (let i = 0; i < pieces; i++) sse.raw(piece);
      sse.done();
    };
    const res = await create(service, { stream: true });
    expect(await res.text()).toBe(piece.repeat(pieces) + sseEvent('[DONE]'));
  });

  it('an event that never ends is cut at the limit even in an unstored stream, with an error event', async () => {
    const [first] = completionToChunks(completionOf(10));
    let upstreamClosed: Promise<{ finished: boolean }> | undefined;
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      sse.send(first);
      sse.raw('data: {"never":"');
      upstreamClosed = writeForever(res, 'n'.repeat(64 * 1024));
    };
    const res = await create(service, { stream: true });
    expect(await res.text()).toBe(sseEvent(first) + sseEvent(tooLarge));
    expect(await upstreamClosed).toEqual({ finished: false });
  });
});
