import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWatchingTheLoop } from './helpers/event-loop.ts';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.ts';
import { type Service, startService } from './helpers/service.ts';

/**
 * A body of many small values: JSON.parse's cost is in what it builds, about a microsecond a value and more as the heap
 * fills, so 15.6 MB of `{},` held the service's only thread for 5 s and 32 MiB for 25 s (every other request, /livez
 * included, waited), whatever came after. Past BODY_LIMIT_VALUES (100,000 by default) a body is refused before parsing.
 */

let upstream: FakeUpstream;
let service: Service;
/** BODY_LIMIT_VALUES set to count to. */
let small: Service;
const SMALL_LIMIT = 1010;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url });
  small = await startService({ upstreamUrl: upstream.url, env: { BODY_LIMIT_VALUES: String(SMALL_LIMIT) } });
  // The first request loads what every later one finds ready (the key's secret, prepared statements): not measured.
  expect((await service.request('/v1/chat/completions')).status).toBe(200);
});

afterAll(async () => {
  await service.close();
  await small.close();
  await upstream.close();
});

const tooManyValues = (limit: number) => ({
  error: { message: `Invalid body: more than ${limit} JSON values and object keys.`, type: 'invalid_request_error', param: null, code: 'invalid_value' },
});

/** Two million empty objects: 6 MB, well under the body limit. */
const EMPTY_OBJECTS = Array(2_000_000).fill('{}').join(',');

describe('a body of millions of small values', () => {
  for (const [name, path, prefix] of [
    ['create', '/v1/chat/completions', '{"model":"m","store":true,"messages":[{"role":"user","content":"x"}],"tools":['],
    ['streamed create', '/v1/chat/completions', '{"model":"m","store":true,"stream":true,"messages":[{"role":"user","content":"x"}],"tools":['],
    ['update', '/v1/chat/completions/chatcmpl-any', '{"metadata":{},"tools":['],
  ] as const) {
    it(`${name}: gets its 400 without holding the event loop (the service runs in this process)`, async () => {
      // Encoded before the watch starts: encoding is this side's work, not the service's. The measure is a body as
      // long that is refused as soon as it is read (a string never closed), so a busy machine slows both alike.
      const many = Buffer.from(`${prefix}${EMPTY_OBJECTS}]}`);
      const unclosed = Buffer.from(`${prefix}"${'x'.repeat(many.length - prefix.length - 1)}`);
      const read = await sendWatchingTheLoop(service, 'POST', path, unclosed);
      expect(read.status).toBe(400);
      const { status, text, longestMs } = await sendWatchingTheLoop(service, 'POST', path, many);
      expect({ status, body: JSON.parse(text) }).toEqual({ status: 400, body: tooManyValues(100_000) });
      // Parsed first, the loop stood still 2-7 s here, against a few hundred milliseconds to read such a body.
      expect(longestMs, `longest wait ${longestMs.toFixed(1)} ms, ${read.longestMs.toFixed(1)} ms to read a body as long`).toBeLessThan(
        3 * read.longestMs + 500,
      );
      expect(upstream.received).toEqual([]);
    });
  }
});

describe('BODY_LIMIT_VALUES', () => {
  // 7 values and keys around 200 messages of 5 each (the object, two keys, two strings), and `stop`: 3 or 4.
  const messages = Array.from({ length: 200 }, (_, i) => ({ role: 'user', content: `m${i}` }));
  const body = (stop: string[]) => JSON.stringify({ model: 'm', store: true, messages, stop });

  it('takes a body of exactly as many values and keys, and refuses one more before the provider is called', async () => {
    const sent = upstream.received.length;
    const over = await small.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(['a', 'b']) });
    expect({ status: over.status, body: await over.json() }).toEqual({ status: 400, body: tooManyValues(SMALL_LIMIT) });
    expect(upstream.received.length).toBe(sent);

    const at = await small.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(['a']) });
    expect(at.status).toBe(200);
    const { id } = (await at.json()) as { id: string };
    const stored: unknown[] = [];
    for await (const message of small.client().chat.completions.messages.list(id, { limit: 100 })) stored.push(message.content);
    expect(stored).toEqual(messages.map((m) => m.content));
  });

  it('counts what is outside strings only: brackets, commas and colons in a string are its text', async () => {
    const text = '[{},{},"a":1,'.repeat(1000);
    const res = await small.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', store: true, messages: [{ role: 'user', content: text }] }),
    });
    expect(res.status).toBe(200);
  });
});

describe('a legitimately large body', () => {
  it('a 2,000-message conversation of tool calls with 128 tools (42,000 values and keys) is stored whole', async () => {
    const messages = Array.from({ length: 2000 }, (_, i) =>
      i % 2 === 1
        ? { role: 'assistant', content: null, tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ q: `thing ${i}` }) } }] }
        : { role: 'tool', tool_call_id: `call_${i - 1}`, content: `result ${i} `.repeat(20) },
    );
    messages[0] = { role: 'user', content: 'look things up' } as (typeof messages)[number];
    const parameters = {
      type: 'object',
      properties: Object.fromEntries(Array.from({ length: 10 }, (_, j) => [`p${j}`, { type: 'string', description: 'a parameter', enum: ['a', 'b', 'c'] }])),
      required: ['p0', 'p1'],
      additionalProperties: false,
    };
    const tools = Array.from({ length: 128 }, (_, i) => ({ type: 'function' as const, function: { name: `f${i}`, description: 'does a thing', parameters, strict: true } }));
    const completion = await service.client().chat.completions.create({ model: 'm', store: true, messages: messages as never, tools });
    const stored: unknown[] = [];
    for await (const message of service.client().chat.completions.messages.list(completion.id, { limit: 100 })) stored.push(message.content);
    expect(stored).toEqual(messages.map((m) => m.content));
  });

  it('a 5 MB base64 image (a few values) is stored', async () => {
    const url = `data:image/png;base64,${Buffer.alloc(3_750_000, 7).toString('base64')}`;
    const completion = await service.client().chat.completions.create({
      model: 'm',
      store: true,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url } }] }],
    });
    const page = await service.client().chat.completions.messages.list(completion.id);
    expect(page.data.map((m) => m.content_parts)).toEqual([[{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url } }]]);
  });
});
