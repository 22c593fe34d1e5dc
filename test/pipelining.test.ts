import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { openSse } from './helpers/fake-sse.ts';
import { type FakeUpstream, fakeCompletion, sendJson, startFakeUpstream } from './helpers/fake-upstream.ts';
import { DEFAULT_KEY, type Service, startService, useServiceEachTest } from './helpers/service.ts';

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started));

/** One raw HTTP/1.1 request, as a pipelining client writes it. */
function rawRequest(method: string, path: string, body?: unknown, last = false): string {
  const text = body === undefined ? '' : JSON.stringify(body);
  const head = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Authorization: Bearer ${DEFAULT_KEY}`];
  if (body !== undefined) head.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(text)}`);
  if (last) head.push('Connection: close');
  return `${head.join('\r\n')}\r\n\r\n${text}`;
}

/** Writes every request at once on one connection (no waiting for answers) and returns everything answered, as text. */
async function pipelinedText(requests: string[], on = service): Promise<string> {
  const url = new URL(on.origin);
  const socket = connect(Number(url.port), url.hostname);
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.write(requests.join(''));
  await new Promise((resolve) => socket.once('close', resolve));
  return received;
}

/** The same, returning the answers' JSON bodies, in order. */
async function pipelined(requests: string[]): Promise<unknown[]> {
  const received = await pipelinedText(requests);
  // Each answer: its head, then its JSON body (content-length framed; the service answers these with whole bodies).
  const bodies: unknown[] = [];
  let rest = received;
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n');
    const length = Number(/content-length: (\d+)/i.exec(rest.slice(0, headEnd))![1]);
    const start = headEnd + 4;
    const body = Buffer.from(rest.slice(start)).subarray(0, length).toString();
    bodies.push(JSON.parse(body));
    rest = rest.slice(start + body.length);
  }
  return bodies;
}

describe('requests pipelined on one connection', () => {
  it('are answered in order, each read seeing the writes sent before it', async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    for (let round = 0; round < 5; round++) {
      upstream.created = 1_700_000_000 + round;
      const [created, listed] = (await pipelined([
        rawRequest('POST', '/v1/chat/completions', { model: 'gpt-4o', messages, store: true }),
        rawRequest('GET', '/v1/chat/completions?order=desc&limit=1', undefined, true),
      ])) as [{ id: string }, { data: { id: string }[] }];
      expect(listed.data.map((c) => c.id)).toEqual([created.id]);

      const [updated, retrieved, deleted, gone] = (await pipelined([
        rawRequest('POST', `/v1/chat/completions/${created.id}`, { metadata: { round: String(round) } }),
        rawRequest('GET', `/v1/chat/completions/${created.id}`),
        rawRequest('DELETE', `/v1/chat/completions/${created.id}`),
        rawRequest('GET', `/v1/chat/completions/${created.id}`, undefined, true),
      ])) as [{ metadata: unknown }, { metadata: unknown }, { deleted: boolean }, { error: { message: string } }];
      expect([updated.metadata, retrieved.metadata, deleted.deleted]).toEqual([{ round: String(round) }, { round: String(round) }, true]);
      expect(gone.error.message).toBe(`No chat completion found with id '${created.id}'.`);
    }
  });

  it('past 32 under way on one connection, the next are refused with a 429 in turn, and the rest are answered', async () => {
    const created = (await service.client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], store: true })).id;
    // A slow answer, then 32 reads and 2 more: the 32 wait their turn; the 2 past them are refused at once (waiting
    // requests, or requests waiting on the provider, write nothing: without a bound, a flood of them behind one slow
    // answer filled the memory, since Node stops reading a connection only when its queued answers pile up).
    upstream.handler = (request, res) => void setTimeout(() => sendJson(res, 200, fakeCompletion(request.json!, 'chatcmpl-slow', 1_700_000_000)), 300);
    const text = await pipelinedText([
      rawRequest('POST', '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'slow' }], store: true }),
      ...Array.from({ length: 32 }, () => rawRequest('GET', `/v1/chat/completions/${created}`)),
      rawRequest('DELETE', `/v1/chat/completions/${created}`),
      rawRequest('GET', `/v1/chat/completions/${created}`, undefined, true),
    ]);
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([200, ...Array.from({ length: 32 }, () => 200), 429, 429]);
    expect(text).toContain('{"error":{"message":"Too many requests pipelined on one connection: at most 32 are handled at a time. Send the rest once answers come back.","type":"invalid_request_error","param":null,"code":null}}');
    expect((await service.request(`/v1/chat/completions/${created}`)).status).toBe(200);
  });

  it('a request the server cannot parse, or a CONNECT, behind one still being answered closes the connection rather than answer for it', async () => {
    upstream.handler = (request, res) => void setTimeout(() => sendJson(res, 200, fakeCompletion(request.json!, 'chatcmpl-slow', 1_700_000_000)), 300);
    for (const next of ['GARBAGE / HTTP/1.1\r\nHost: a\r\n\r\n', 'CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n']) {
      const text = await pipelinedText([rawRequest('POST', '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'slow' }] }), next]);
      // Answered first, the 400 or the 404 would be read as the create's answer.
      expect(text).toBe('');
    }
  });

  it('a request with a body pipelined behind a long stream is read at once: neither is cut by REQUEST_TIMEOUT_MS', async () => {
    const slow = await startFakeUpstream();
    slow.handler = (request, res) => {
      if (!request.json?.stream) return sendJson(res, 200, fakeCompletion(request.json!, 'chatcmpl-after', 1_700_000_000));
      const sse = openSse(res);
      let n = 0;
      const timer = setInterval(() => {
        sse.send({ id: 'chatcmpl-long', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o', choices: [{ index: 0, delta: { content: `${n}` }, finish_reason: n === 5 ? 'stop' : null }] });
        if (++n > 5) {
          clearInterval(timer);
          sse.done();
        }
      }, 300);
    };
    const timed = await startService({ upstreamUrl: slow.url, env: { REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '500' } });
    try {
      const big = { model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(300_000) }], store: true };
      const text = await pipelinedText([
        rawRequest('POST', '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'long' }], stream: true, store: true }),
        rawRequest('POST', '/v1/chat/completions', big, true),
      ], timed);
      expect([...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([200, 200]);
      expect(text).toContain('data: [DONE]');
      expect(text).toContain('"id":"chatcmpl-after"');
    } finally {
      await timed.close();
      await slow.close();
    }
  });

  it('a refused request with a large body has it read and dropped: the answers ahead of it are not cut by REQUEST_TIMEOUT_MS', async () => {
    const slow = await startFakeUpstream();
    slow.handler = (request, res) => void setTimeout(() => sendJson(res, 200, fakeCompletion(request.json!, `chatcmpl-${String(request.json?.model)}`, 1_700_000_000)), request.json?.model === 'slow' ? 1_500 : 0);
    const timed = await startService({ upstreamUrl: slow.url, env: { REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '500' } });
    try {
      const create = (model: string, content = 'hi') => rawRequest('POST', '/v1/chat/completions', { model, messages: [{ role: 'user', content }] });
      const text = await pipelinedText([
        create('slow'),
        ...Array.from({ length: 32 }, (_, i) => create(`fast-${i}`)),
        create('big', 'x'.repeat(200_000)),
        rawRequest('POST', '/v1/chat/completions', { model: 'big', messages: [{ role: 'user', content: 'x'.repeat(200_000) }] }, true),
      ], timed);
      expect([...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([...Array.from({ length: 33 }, () => 200), 429, 429]);
    } finally {
      await timed.close();
      await slow.close();
    }
  });
});
