import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { completionToChunks, openSse, sseEvent } from './helpers/fake-sse.ts';
import { fakeCompletion, type FakeUpstream } from './helpers/fake-upstream.ts';
import { postCompletion as create, storedCount } from './helpers/create-request.ts';
import { type Service, useServiceEachTest } from './helpers/service.ts';

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started));

const messages = [{ role: 'user', content: 'Hello' }];

function badGateway(message: string) {
  return { error: { message, type: 'server_error', param: null, code: null } };
}

const valid = fakeCompletion({ model: 'gpt-4o', messages }, 'chatcmpl-ok', 1_700_000_000);

/** JSON text of `levels` arrays, one inside the other. */
function nestedArrays(levels: number): string {
  return '['.repeat(levels) + ']'.repeat(levels);
}

/** `valid` with a field nested so that the whole answer is `levels` deep (the answer itself is the first level). */
function answerNested(levels: number): string {
  return JSON.stringify(valid).replace(/}$/, `,"nested":${nestedArrays(levels - 1)}}`);
}

/** 200s no client may take for a stored completion: the body as the provider sent it, and what the 502 says it was. */
const notCompletions: [name: string, body: string, what: string][] = [
  ['an empty body', '', 'an empty body'],
  ['HTML', '<html>Bad gateway</html>', 'a body that is not JSON: "<html>Bad gateway</html>"'],
  ['a JSON array', JSON.stringify([valid]), 'a JSON array'],
  ['a JSON string', '"ok"', 'JSON that is a string'],
  ['an error object', JSON.stringify({ error: { message: 'You exceeded your quota', type: 'insufficient_quota' } }), 'an error: "You exceeded your quota"'],
  ["vLLM's error object", JSON.stringify({ object: 'error', message: 'CUDA out of memory', code: 500 }), 'an error: "CUDA out of memory"'],
  ['a list', JSON.stringify({ object: 'list', data: [] }), "an object of type 'list'"],
  ['choices that is no array', JSON.stringify({ ...valid, choices: 'none' }), "'choices' that is a string"],
  ['no choices', JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion', created: 1 }), "an object without 'choices'"],
  ['a choice that is no object', JSON.stringify({ ...valid, choices: ['hi'] }), 'a choice that is a string'],
  // The model filter and usage could not name it alike on SQLite and PostgreSQL.
  ['a model with half a surrogate pair', JSON.stringify({ ...valid, model: 'gpt-4o-\udc00' }), 'a model name that is not valid Unicode text'],
  // Storing it would overflow the stack serializing the record: a 500 before the limit.
  ['JSON nested 5,000 levels deep', answerNested(5_000), 'JSON nested deeper than 256 levels'],
  ['JSON nested one level past the limit', answerNested(257), 'JSON nested deeper than 256 levels'],
];

describe('a 200 from the provider that is not a chat completion', () => {
  for (const [name, body, what] of notCompletions) {
    it(`${name}: a stored create is a 502 saying so, nothing stored; an unstored one passes it through`, async () => {
      upstream.handler = (_request, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      };
      const stored = await create(service, { store: true });
      // Not to be retried by the SDKs: the same request would most likely be answered the same way, paid each time;
      // an empty body may be a proxy's hiccup, left to their own rule.
      expect([stored.status, stored.headers.get('x-should-retry')]).toEqual([502, name === 'an empty body' ? null : 'false']);
      expect(await stored.json()).toEqual(
        badGateway(`The upstream provider answered 200 with ${what} instead of a chat completion; nothing was stored.`),
      );
      expect(storedCount(service)).toEqual({ n: 0 });

      const unstored = await create(service, {});
      expect(unstored.status).toBe(200);
      expect(await unstored.text()).toBe(body);
      expect(storedCount(service)).toEqual({ n: 0 });
    });
  }

  it('a stored create of a real completion still answers 200 and stores it', async () => {
    upstream.nextIds.push('chatcmpl-ok');
    const res = await create(service, { store: true });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(valid);
    expect(storedCount(service)).toEqual({ n: 1 });
  });

  it('an answer nested as deep as the limit is stored and served back whole', async () => {
    const body = answerNested(256);
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    };
    const res = await create(service, { store: true });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(body);
    const retrieved = await service.client().chat.completions.retrieve('chatcmpl-ok');
    expect((retrieved as unknown as { nested: unknown }).nested).toEqual(JSON.parse(nestedArrays(255)));
  });

  it('a stream that ignored stream: true and answered a non-completion is a 502 when stored', async () => {
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"object":"list","data":[]}');
    };
    const res = await create(service, { stream: true, store: true });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual(
      badGateway("The upstream provider answered 200 with an object of type 'list' instead of a chat completion; nothing was stored."),
    );
    expect(storedCount(service)).toEqual({ n: 0 });
  });
});

describe('a provider that compresses its answer though the proxy asked for no encoding', () => {
  const encodings: [name: string, coding: string, encode: (text: string) => Buffer][] = [
    ['gzip', 'gzip', (text) => gzipSync(text)],
    ['br', 'br', (text) => brotliCompressSync(text)],
    ['deflate', 'deflate', (text) => deflateSync(text)],
    ['deflate without its zlib header', 'deflate', (text) => deflateRawSync(text)],
  ];

  for (const [name, coding, encode] of encodings) {
    it(`${name}: the client gets the decoded answer, stored or not, and the completion is stored`, async () => {
      upstream.handler = (_request, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding });
        res.end(encode(JSON.stringify(valid)));
      };
      const stored = await create(service, { store: true });
      expect(stored.status).toBe(200);
      expect(stored.headers.get('content-encoding')).toBeNull();
      expect(await stored.text()).toBe(JSON.stringify(valid));
      expect(storedCount(service)).toEqual({ n: 1 });
      const retrieved = await service.client().chat.completions.retrieve('chatcmpl-ok');
      expect(retrieved.choices).toEqual(valid.choices);

      const unstored = await create(service, {});
      expect(unstored.status).toBe(200);
      expect(await unstored.text()).toBe(JSON.stringify(valid));
    });
  }

  it("an error body in gzip reaches the client decoded, in OpenAI's shape as the provider wrote it", async () => {
    const error = { error: { message: 'Rate limit reached for gpt-4o', type: 'requests', param: null, code: 'rate_limit_exceeded' } };
    upstream.handler = (_request, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'retry-after': '7' });
      res.end(gzipSync(JSON.stringify(error)));
    };
    const res = await create(service, { store: true });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.json()).toEqual(error);
    expect(storedCount(service)).toEqual({ n: 0 });
  });

  // Names every object has (__proto__, constructor) are codings nobody knows, not decoders to look up.
  for (const coding of ['__proto__', 'constructor']) {
    it(`a coding it does not know (${coding}) leaves the answer as it came, as fetch does`, async () => {
      upstream.handler = (_request, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding });
        res.end(JSON.stringify(valid));
      };
      const unstored = await create(service, {});
      expect(unstored.status).toBe(200);
      expect(await unstored.text()).toBe(JSON.stringify(valid));
      const stored = await create(service, { store: true });
      expect(stored.status).toBe(200);
      expect(await stored.json()).toEqual(valid);
      expect(storedCount(service)).toEqual({ n: 1 });
    });
  }

  it('a body that does not decode is a 502 saying so, nothing stored', async () => {
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(JSON.stringify(valid));
    };
    const res = await create(service, { store: true });
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual(badGateway("The upstream provider's answer could not be decoded (Content-Encoding: gzip)."));
    expect(storedCount(service)).toEqual({ n: 0 });
  });
});

const chunks = completionToChunks(valid, { includeUsage: true });

/** Streams whose events are not chunks: what the provider writes, and what the 502 of a stored stream says. */
const notChunkStreams: [name: string, text: string, message: string][] = [
  ['no event at all', '', 'The upstream provider ended the stream without sending a chunk; nothing was stored.'],
  ['only [DONE]', sseEvent('[DONE]'), 'The upstream provider ended the stream without sending a chunk; nothing was stored.'],
  [
    'an event that is not JSON',
    'data: hello\n\n' + sseEvent('[DONE]'),
    'The upstream provider sent an event that is not JSON: "hello" instead of a chat completion chunk; nothing was stored.',
  ],
  [
    'a whole completion as its event',
    sseEvent(valid) + sseEvent('[DONE]'),
    "The upstream provider sent an object of type 'chat.completion' instead of a chat completion chunk; nothing was stored.",
  ],
  [
    'a chunk nested 5,000 levels deep',
    sseEvent(JSON.stringify(chunks[0]).replace(/}$/, `,"nested":${nestedArrays(4_999)}}`)) + sseEvent('[DONE]'),
    'The upstream provider sent JSON nested deeper than 256 levels instead of a chat completion chunk; nothing was stored.',
  ],
  [
    'chunks without choices',
    sseEvent({ id: 'chatcmpl-ok', object: 'chat.completion.chunk', created: 1 }) + sseEvent('[DONE]'),
    "The upstream provider sent an object without 'choices' instead of a chat completion chunk; nothing was stored.",
  ],
];

describe('a stream whose events are not chunks', () => {
  for (const [name, text, message] of notChunkStreams) {
    it(`${name}: a stored stream is a 502 before anything is relayed; an unstored one is relayed as it came`, async () => {
      upstream.handler = (_request, res) => {
        const sse = openSse(res);
        sse.raw(text);
        res.end();
      };
      const stored = await create(service, { stream: true, store: true });
      // As for a plain create: not to be retried by the SDKs, each try a generation paid for and none stored; a
      // stream that ended without any event is the empty body's case, a proxy's hiccup, left to their own rule.
      const empty = message.includes('without sending a chunk');
      expect([stored.status, stored.headers.get('x-should-retry')]).toEqual([502, empty ? null : 'false']);
      expect(await stored.json()).toEqual(badGateway(message));
      expect(storedCount(service)).toEqual({ n: 0 });

      const unstored = await create(service, { stream: true });
      expect(unstored.status).toBe(200);
      expect(await unstored.text()).toBe(text);
    });
  }

  it("a provider's error as the first event: a stored stream relays it on the 200 as the provider sent it, as an unstored one does; nothing stored", async () => {
    const error = { message: 'You exceeded your current quota.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' };
    const text = ': keep-alive\n\n' + sseEvent({ error }) + sseEvent('[DONE]');
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      sse.raw(text);
      res.end();
    };
    for (const store of [true, false]) {
      const res = await create(service, { stream: true, store });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(store ? ': keep-alive\n\n' + sseEvent({ error }) : text);
    }
    // The SDK raises the provider's error itself: its type and code, no status (so no retry).
    const stream = await service.client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }], stream: true, store: true });
    const raised = await (async () => {
      try {
        for await (const _ of stream);
      } catch (err) {
        return err as APIError;
      }
    })();
    expect(raised).toBeInstanceOf(APIError);
    expect({ status: raised?.status, type: raised?.type, code: raised?.code, message: raised?.message }).toEqual({
      status: undefined,
      type: 'insufficient_quota',
      code: 'insufficient_quota',
      message: 'You exceeded your current quota.',
    });
    expect(upstream.received).toHaveLength(3);
    expect(storedCount(service)).toEqual({ n: 0 });
  });

  it("vLLM's error object as the first event of a stored stream is relayed in OpenAI's shape", async () => {
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      sse.raw('data: {"object":"error","message":"CUDA out of memory","type":"InternalServerError","param":null,"code":500}\n\n');
      sse.done();
    };
    const res = await create(service, { stream: true, store: true });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(sseEvent({ error: { message: 'CUDA out of memory', type: 'server_error', param: null, code: null } }));
    expect(storedCount(service)).toEqual({ n: 0 });
  });

  it('a non-chunk after the first chunk ends a stored stream with an error event, no [DONE], nothing stored', async () => {
    const sent = sseEvent(chunks[0]) + sseEvent({ object: 'list', data: [] }) + sseEvent(chunks[1]) + sseEvent('[DONE]');
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      sse.raw(sent);
      res.end();
    };
    const stored = await create(service, { stream: true, store: true, stream_options: { include_usage: true } });
    expect(stored.status).toBe(200);
    expect(await stored.text()).toBe(
      sseEvent(chunks[0]) +
        sseEvent(badGateway("The upstream provider sent an object of type 'list' instead of a chat completion chunk; nothing was stored.")),
    );
    expect(storedCount(service)).toEqual({ n: 0 });

    const unstored = await create(service, { stream: true, stream_options: { include_usage: true } });
    expect(await unstored.text()).toBe(sent);
  });
});
