import { describe, expect, it } from 'vitest';
import { planCreate, upstreamBody } from '../src/routes/create-plan.ts';
import { sendWatchingTheLoop } from './helpers/event-loop.ts';
import { fakeCompletion, type FakeUpstream, sendJson } from './helpers/fake-upstream.ts';
import { DEFAULT_KEY, type Service, useServiceEachTest } from './helpers/service.ts';

/**
 * A large body of few values (a base64 image of megabytes): what is sent on is the client's bytes with `store` and
 * `metadata` cut out, spliced from slices of them, not written again as a text and encoded back, which held the
 * service's only thread for a second per 28 MB create.
 */

const IMAGE = `data:image/png;base64,${Buffer.alloc(6 * 1024 * 1024, 7).toString('base64')}`;
const MESSAGES = `[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"${IMAGE}"}}]}]`;
const CONFIG = { storeDefault: false, upstreamForwardStore: false, bodyLimitBytes: 32 * 1024 * 1024, bodyLimitValues: 100_000 };

/** The plan for `text` (a valid JSON object) as the service makes it, over the bytes it read. */
function planOf(text: string) {
  const bytes = Buffer.from(text);
  return { bytes, plan: planCreate(JSON.parse(text) as Record<string, unknown>, bytes, CONFIG) };
}

/** The pieces of a spliced body, and whether each large one is a view of `bytes` (no copy). */
function piecesOf(body: Uint8Array | Uint8Array[], bytes: Buffer) {
  const pieces = Array.isArray(body) ? body : [body];
  return {
    text: Buffer.concat(pieces).toString(),
    largeViews: pieces.filter((piece) => piece.byteLength > 64 * 1024).map((piece) => piece.buffer === bytes.buffer),
  };
}

describe('the body sent upstream for a large create', () => {
  it('is the client bytes with store and metadata cut out, the image a view of the bytes read, never copied', () => {
    const { bytes, plan } = planOf(`{"model":"gpt-4o","store":true,"messages":${MESSAGES},"metadata":{"k":"v"},"seed":1}`);
    expect(piecesOf(upstreamBody(plan), bytes)).toEqual({ text: `{"model":"gpt-4o","messages":${MESSAGES},"seed":1}`, largeViews: [true] });
  });

  it('is the client bytes themselves when nothing is cut', () => {
    const { bytes, plan } = planOf(`{"model":"gpt-4o","messages":${MESSAGES}}`);
    expect(upstreamBody(plan)).toBe(bytes);
  });

  it('takes stream_options put in place, and spacing between members goes as it always did', () => {
    const { bytes, plan } = planOf(`{ "model" : "gpt-4o",\n "stream":true, "stream_options":{"include_usage":false},\n "messages" : ${MESSAGES} , "store":true }`);
    expect(piecesOf(upstreamBody(plan, { include_usage: true }), bytes)).toEqual({
      text: `{"model" : "gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages" : ${MESSAGES}}`,
      largeViews: [true],
    });
  });
});

describe('a large create through the service', () => {
  let upstream: FakeUpstream;
  let service: Service;

  useServiceEachTest((started) => ({ upstream, service } = started));

  it('sends the provider the bytes as written, sized, store and metadata cut, and stores the image whole', async () => {
    const body = `{"model":"gpt-4o","store":true,"metadata":{"k":"v"},"messages":${MESSAGES},"temperature":0.5}`;
    const unclosed = Buffer.from(`{"model":"gpt-4o","messages":"${'x'.repeat(body.length - 31)}`);
    // The first request loads what every later one finds ready (the key's secret, prepared statements): not measured.
    expect((await service.request('/v1/chat/completions')).status).toBe(200);
    const read = await sendWatchingTheLoop(service, 'POST', '/v1/chat/completions', unclosed);
    expect(read.status).toBe(400);
    const { status, text, longestMs } = await sendWatchingTheLoop(service, 'POST', '/v1/chat/completions', Buffer.from(body));
    expect(status).toBe(200);
    const sent = `{"model":"gpt-4o","messages":${MESSAGES},"temperature":0.5}`;
    expect(upstream.received.map((r) => ({ body: r.body, length: r.headers['content-length'], chunked: r.headers['transfer-encoding'] }))).toEqual([
      { body: sent, length: String(Buffer.byteLength(sent)), chunked: undefined },
    ]);
    const id = (JSON.parse(text) as { id: string }).id;
    const messages = await service.request(`/v1/chat/completions/${id}/messages`);
    expect(((await messages.json()) as { data: { content_parts: unknown }[] }).data.map((m) => m.content_parts)).toEqual([
      [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: IMAGE } }],
    ]);
    // Generous: the loop's longest stand is the parse and the write, on a machine as busy as it is to read such a body.
    expect(longestMs, `longest wait ${longestMs.toFixed(1)} ms, ${read.longestMs.toFixed(1)} ms to read a body as long`).toBeLessThan(
      10 * read.longestMs + 2000,
    );
  });

  it('parses a stored create\'s body once: its search text is found in the values read, not by parsing its messages again', async () => {
    const body = `{"model":"gpt-4o","store":true,"messages":${MESSAGES}}`;
    // A short answer, as a provider gives (the default one echoes the image back).
    upstream.handler = (_request, res) => sendJson(res, 200, fakeCompletion({ model: 'gpt-4o', messages: [{ role: 'user', content: 'an image' }] }, 'chatcmpl-image', 1));
    const parse = JSON.parse;
    const parsedLengths: number[] = [];
    JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
      if (text.length > 1024 * 1024) parsedLengths.push(text.length);
      return parse(text, reviver);
    }) as typeof JSON.parse;
    let res: Response;
    try {
      res = await service.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    } finally {
      JSON.parse = parse;
    }
    expect(res.status, await res.clone().text()).toBe(200);
    // The service's one parse of what it read, then the fake provider's of what it was sent (it runs in this process).
    expect(parsedLengths).toEqual([body.length, upstream.received[0]!.body.length]);
    const { id } = (await res.json()) as { id: string };
    const found = await service.request('/v1/chat/completions?search=what%20is%20this');
    expect(((await found.json()) as { data: { id: string }[] }).data.map((c) => c.id)).toEqual([id]);
  });

  it('leaves out a byte order mark and keeps UTF-8 text byte for byte', async () => {
    const body = `{ "model": "gpt-4o", "messages": [{"role":"user","content":"héllo 😀 \\u00e9"}], "store": false }`;
    const res = await fetch(`${service.origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEFAULT_KEY}`, 'content-type': 'application/json' },
      body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]),
    });
    expect(res.status).toBe(200);
    expect(upstream.received.map((r) => r.body)).toEqual(['{"model": "gpt-4o","messages": [{"role":"user","content":"héllo 😀 \\u00e9"}]}']);
  });
});
