import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWatchingTheLoop } from './helpers/event-loop.ts';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.ts';
import { type Service, startService } from './helpers/service.ts';

/**
 * A body of nothing but brackets, as large as the body limit lets it be: JSON.parse takes V8 about a
 * microsecond per level, so 20 MB of them held the service's only thread for seconds (every other
 * request, /livez included, waited) before the 400 it got anyway. It is refused before parsing.
 */

let upstream: FakeUpstream;
let service: Service;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url });
  // The first request loads what every later one finds ready (the key's secret, prepared statements): not measured.
  expect((await service.request('/v1/chat/completions')).status).toBe(200);
});

afterAll(async () => {
  await service.close();
  await upstream.close();
});

const LEVELS = 2_000_000;

describe('a body nested millions of levels deep', () => {
  const tooDeep = {
    error: { message: 'Invalid body: JSON nested deeper than 128 levels.', type: 'invalid_request_error', param: null, code: 'invalid_value' },
  };

  for (const [name, method, path] of [
    ['create', 'POST', '/v1/chat/completions'],
    ['update', 'POST', '/v1/chat/completions/chatcmpl-any'],
  ] as const) {
    it(`${name}: gets its 400 without holding the event loop (the service runs in this process)`, async () => {
      // Encoded before the watch starts: encoding is this side's work, not the service's. The measure is a body as
      // long that is refused as soon as it is read (a string never closed), so a busy machine slows both alike.
      const prefix = '{"model":"m","messages":[{"role":"user","content":"x"}],"metadata":{},"tools":';
      const deep = Buffer.from(`${prefix}${'['.repeat(LEVELS)}${']'.repeat(LEVELS)}}`);
      const unclosed = Buffer.from(`${prefix}"${'x'.repeat(2 * LEVELS)}`);
      const read = await sendWatchingTheLoop(service, method, path, unclosed);
      expect(read.status).toBe(400);
      const { status, text, longestMs } = await sendWatchingTheLoop(service, method, path, deep);
      expect({ status, body: JSON.parse(text) }).toEqual({ status: 400, body: tooDeep });
      // Parsed first, the loop stood still 3-8 s here, against a few hundred milliseconds to read such a body.
      expect(longestMs, `longest wait ${longestMs.toFixed(1)} ms, ${read.longestMs.toFixed(1)} ms to read a body as long`).toBeLessThan(
        3 * read.longestMs + 500,
      );
      expect(upstream.received).toEqual([]);
    });
  }

  it('brackets and quotes inside strings are text, not nesting: a body deep only in its strings is stored', async () => {
    const content = `${'['.repeat(1000)} \\" ${'{'.repeat(1000)} \\\\`;
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"model":"m","store":true,"messages":[{"role":"user","content":"${content}"}]}`,
    });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    const messages = await service.client().chat.completions.messages.list(id);
    expect(messages.data.map((m) => m.content)).toEqual([`${'['.repeat(1000)} " ${'{'.repeat(1000)} \\`]);
  });
});
