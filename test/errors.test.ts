import { describe, expect, it } from 'vitest';
import { completionToChunks, sseEvent } from './helpers/fake-sse.ts';
import { fakeCompletion, type FakeUpstream } from './helpers/fake-upstream.ts';
import { assertMatchesSchema } from './helpers/openai-schema.ts';
import { type Service, startService, useServiceEachTest } from './helpers/service.ts';

/** What a browser page may read of an answer: what the SDKs act on (retry or not, and when), the request id, OpenAI's documented headers. */
const EXPOSED = [
  'x-request-id',
  'x-should-retry',
  'retry-after',
  'retry-after-ms',
  'openai-organization',
  'openai-processing-ms',
  'openai-version',
  'x-ratelimit-limit-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-requests',
  'x-ratelimit-reset-tokens',
].join(',');

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started), { BODY_LIMIT_BYTES: '4096' });

function invalid(message: string, param: string | null = null, code: string | null = null) {
  return { error: { message, type: 'invalid_request_error', param, code } };
}

async function expectError(res: Response, status: number, body: unknown): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
  const parsed = JSON.parse(text);
  expect(parsed).toEqual(body);
  assertMatchesSchema('ErrorResponse', parsed);
}

const listCases: [query: string, body: unknown][] = [
  ['limit=101', invalid("Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 101 instead.", 'limit', 'integer_above_max_value')],
  ['limit=0', invalid("Invalid 'limit': integer below minimum value. Expected a value >= 1, but got 0 instead.", 'limit', 'integer_below_min_value')],
  ['limit=-5', invalid("Invalid 'limit': integer below minimum value. Expected a value >= 1, but got -5 instead.", 'limit', 'integer_below_min_value')],
  ['limit=abc', invalid("Invalid 'limit': expected an integer, but got 'abc' instead.", 'limit', 'invalid_type')],
  ['limit=2.5', invalid("Invalid 'limit': expected an integer, but got '2.5' instead.", 'limit', 'invalid_type')],
  ['order=sideways', invalid("Invalid value: 'sideways'. Supported values are: 'asc' and 'desc'.", 'order', 'invalid_value')],
  ['limit=1&limit=2', invalid("Invalid 'limit': expected a single value, but got 2 values.", 'limit', 'invalid_type')],
  ['metadata=abc', invalid("Invalid type for 'metadata': expected an object, but got a string instead.", 'metadata', 'invalid_type')],
  [
    `metadata[note]=${'x'.repeat(600)}`,
    invalid("Invalid 'metadata.note': string too long. Expected a string with maximum length 512, but got a string with length 600 instead.", 'metadata.note', 'string_above_max_length'),
  ],
  [
    `metadata[${'k'.repeat(65)}]=v`,
    invalid("Invalid 'metadata': key too long. Expected a key with maximum length 64, but got a key with length 65 instead.", 'metadata', 'string_above_max_length'),
  ],
  [
    Array.from({ length: 17 }, (_, i) => `metadata[k${i}]=v`).join('&'),
    invalid("Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead.", 'metadata', 'object_above_max_properties'),
  ],
];

describe('errors in OpenAI shape', () => {
  for (const [query, body] of listCases) {
    it(`get /v1/chat/completions?${query.slice(0, 40)} is a 400`, async () => {
      await expectError(await service.request(`/v1/chat/completions?${query}`), 400, body);
    });
  }

  it('the messages endpoint validates limit and order the same way', async () => {
    await expectError(
      await service.request('/v1/chat/completions/chatcmpl-x/messages?limit=1000'),
      400,
      invalid("Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 1000 instead.", 'limit', 'integer_above_max_value'),
    );
    await expectError(
      await service.request('/v1/chat/completions/chatcmpl-x/messages?order=up'),
      400,
      invalid("Invalid value: 'up'. Supported values are: 'asc' and 'desc'.", 'order', 'invalid_value'),
    );
  });

  it('malformed JSON is a 400 with OpenAI text, and the upstream is not called', async () => {
    const parseError = invalid(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please visit https://help.openai.com.)",
    );
    for (const body of ['{"model": "gpt-4o",', '', 'not json', '\uFEFF{}x']) {
      await expectError(
        await service.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
        400,
        parseError,
      );
    }
    await expectError(
      await service.request('/v1/chat/completions/chatcmpl-x', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }),
      400,
      parseError,
    );
    expect(upstream.received).toHaveLength(0);
  });

  it('a JSON body that is not an object is a 400', async () => {
    await expectError(
      await service.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1,2]' }),
      400,
      invalid('Invalid body: expected a JSON object, but got an array instead.', null, 'invalid_type'),
    );
    await expectError(
      await service.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '"text"' }),
      400,
      invalid('Invalid body: expected a JSON object, but got a string instead.', null, 'invalid_type'),
    );
  });

  it('a store that is not a boolean is a 400', async () => {
    await expectError(
      await service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [], store: 'yes' }),
      }),
      400,
      invalid("Invalid type for 'store': expected a boolean, but got a string instead.", 'store', 'invalid_type'),
    );
  });

  it('a stream that is not a boolean is a 400 naming stream, before stream_options is looked at', async () => {
    for (const [stream, described] of [['true', 'a string'], [1, 'an integer']] as const) {
      await expectError(
        await service.request('/v1/chat/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', messages: [], stream, stream_options: { include_usage: true } }),
        }),
        400,
        invalid(`Invalid type for 'stream': expected a boolean, but got ${described} instead.`, 'stream', 'invalid_type'),
      );
    }
    expect(upstream.received).toHaveLength(0);
  });

  it('a stored create whose model holds half a surrogate pair is a 400 before the provider is asked; an unstored one goes on', async () => {
    // Written as JSON escapes: `\ud800` alone is valid JSON, and the one way such a string reaches the service.
    for (const stream of [false, true]) {
      await expectError(
        await service.request('/v1/chat/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: `{"model":"gpt-4o-\\ud800","messages":[],"store":true,"stream":${stream}}`,
        }),
        400,
        invalid("Invalid 'model': a stored completion's model must be valid Unicode text.", 'model', 'invalid_value'),
      );
    }
    expect(upstream.received).toHaveLength(0);

    const unstored = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":"gpt-4o-\\ud800","messages":[]}',
    });
    expect(unstored.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
    expect((await service.client().chat.completions.list()).data).toEqual([]);
  });

  const storedInputCases: [messages: string, body: unknown][] = [
    ['', invalid("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter')],
    [',"messages":null', invalid("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter')],
    [',"messages":"Hi"', invalid("Invalid type for 'messages': expected an array, but got a string instead.", 'messages', 'invalid_type')],
    [',"messages":[null]', invalid("Invalid type for 'messages[0]': expected an object, but got null instead.", 'messages[0]', 'invalid_type')],
    [
      ',"messages":[{"role":"user","content":"a"},{"content":"x"}]',
      invalid("Missing required parameter: 'messages[1].role'.", 'messages[1].role', 'missing_required_parameter'),
    ],
    [',"messages":[{"role":7,"content":"x"}]', invalid("Invalid type for 'messages[0].role': expected a string, but got an integer instead.", 'messages[0].role', 'invalid_type')],
    [
      ',"messages":[{"role":"assistant","content":"x","refusal":{}}]',
      invalid("Invalid type for 'messages[0].refusal': expected a string, but got an object instead.", 'messages[0].refusal', 'invalid_type'),
    ],
    [
      ',"messages":[{"role":"assistant","tool_calls":{"id":"call_1"}}]',
      invalid("Invalid type for 'messages[0].tool_calls': expected an array, but got an object instead.", 'messages[0].tool_calls', 'invalid_type'),
    ],
    [
      ',"messages":[{"role":"assistant","tool_calls":["call_1"]}]',
      invalid("Invalid type for 'messages[0].tool_calls[0]': expected an object, but got a string instead.", 'messages[0].tool_calls[0]', 'invalid_type'),
    ],
    [',"messages":[{"role":"user","name":["a"],"content":"x"}]', invalid("Invalid type for 'messages[0].name': expected a string, but got an array instead.", 'messages[0].name', 'invalid_type')],
    [',"messages":[{"role":"assistant","audio":"a"}]', invalid("Invalid type for 'messages[0].audio': expected an object, but got a string instead.", 'messages[0].audio', 'invalid_type')],
    [
      ',"messages":[{"role":"tool","tool_call_id":1,"content":"x"}]',
      invalid("Invalid type for 'messages[0].tool_call_id': expected a string, but got an integer instead.", 'messages[0].tool_call_id', 'invalid_type'),
    ],
    [
      ',"messages":[{"role":"user","content":5}]',
      invalid("Invalid type for 'messages[0].content': expected one of a string or array of objects, but got an integer instead.", 'messages[0].content', 'invalid_type'),
    ],
    [
      ',"messages":[{"role":"user","content":"a"},{"role":"user","content":{"type":"text","text":"b"}}]',
      invalid("Invalid type for 'messages[1].content': expected one of a string or array of objects, but got an object instead.", 'messages[1].content', 'invalid_type'),
    ],
    [
      ',"messages":[{"role":"user","content":"a"},{"role":"user","content":true}]',
      invalid("Invalid type for 'messages[1].content': expected one of a string or array of objects, but got a boolean instead.", 'messages[1].content', 'invalid_type'),
    ],
    [
      ',"messages":[{"role":"user","content":[{"type":"text","text":"a"},null]}]',
      invalid("Invalid type for 'messages[0].content[1]': expected an object, but got null instead.", 'messages[0].content[1]', 'invalid_type'),
    ],
    [
      ',"messages":[{"role":"user","content":[{"text":"a"}]}]',
      invalid("Missing required parameter: 'messages[0].content[0].type'.", 'messages[0].content[0].type', 'missing_required_parameter'),
    ],
    [
      ',"messages":[{"role":"user","content":[{"type":"text"}]}]',
      invalid("Missing required parameter: 'messages[0].content[0].text'.", 'messages[0].content[0].text', 'missing_required_parameter'),
    ],
    [
      ',"messages":[{"role":"user","content":[{"type":"text","text":["a"]}]}]',
      invalid("Invalid type for 'messages[0].content[0].text': expected a string, but got an array instead.", 'messages[0].content[0].text', 'invalid_type'),
    ],
    [
      ',"messages":[{"role":"user","content":[{"type":"image_url","image_url":"https://x/y.png"}]}]',
      invalid("Invalid type for 'messages[0].content[0].image_url': expected an object, but got a string instead.", 'messages[0].content[0].image_url', 'invalid_type'),
    ],
    [
      ',"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]',
      invalid("Missing required parameter: 'messages[0].content[0].image_url.url'.", 'messages[0].content[0].image_url.url', 'missing_required_parameter'),
    ],
  ];

  it('a stored create whose input messages the messages endpoint could not serve in the schema is a 400 before the provider is asked', async () => {
    for (const [messages, body] of storedInputCases) {
      for (const stream of [false, true]) {
        await expectError(
          await service.request('/v1/chat/completions', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: `{"model":"gpt-4o"${messages},"store":true,"stream":${stream}}`,
          }),
          400,
          body,
        );
      }
    }
    expect(upstream.received).toHaveLength(0);
  });

  it("a stored create whose model is no string is OpenAI's 400 before the provider is asked; an unstored one goes on", async () => {
    const cases: [model: string, got: string][] = [
      ['5', 'an integer'],
      ['{"name":"gpt-4o"}', 'an object'],
      ['["gpt-4o"]', 'an array'],
      ['true', 'a boolean'],
    ];
    for (const [model, got] of cases) {
      for (const stream of [false, true]) {
        await expectError(
          await service.request('/v1/chat/completions', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: `{"model":${model},"messages":[{"role":"user","content":"Hi"}],"store":true,"stream":${stream}}`,
          }),
          400,
          invalid(`Invalid type for 'model': expected a string, but got ${got} instead.`, 'model', 'invalid_type'),
        );
      }
    }
    expect(upstream.received).toHaveLength(0);
    const unstored = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":5,"messages":[{"role":"user","content":"Hi"}]}',
    });
    expect(unstored.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
  });

  it('an unstored create goes on with messages as it came, for the provider to judge', async () => {
    for (const [messages] of storedInputCases) {
      const res = await service.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"model":"gpt-4o"${messages}}` });
      expect(res.status).toBe(200);
    }
    expect(upstream.received).toHaveLength(storedInputCases.length);
  });

  it('a stored create with roles and content parts other providers take goes on and is served back as sent', async () => {
    const messages = [
      { role: 'ipython', content: 'x' },
      { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }, { type: 'text', text: 'a' }] },
      { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'r' },
      { role: 'assistant', content: null, audio: { id: 'audio_1' } },
    ];
    const res = await service.request('/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'gpt-4o', messages, store: true }) });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    expect((await (await service.request(`/v1/chat/completions/${id}/messages`)).json()).data).toEqual([
      { id: `${id}-0`, role: 'ipython', content: 'x', refusal: null, name: null, content_parts: null },
      { id: `${id}-1`, role: 'user', content: 'a', refusal: null, name: null, content_parts: messages[1]!.content },
      { id: `${id}-2`, role: 'assistant', content: null, refusal: null, name: null, content_parts: null, tool_calls: messages[2]!.tool_calls },
      { id: `${id}-3`, role: 'tool', content: 'r', refusal: null, name: null, content_parts: null, tool_call_id: 'call_1' },
      { id: `${id}-4`, role: 'assistant', content: null, refusal: null, name: null, content_parts: null, audio: { id: 'audio_1' } },
    ]);
  });

  it("a stored stream's stream_options that is no object, or whose include_usage is no boolean, is a 400 before the provider is asked", async () => {
    const cases: [options: string, body: unknown][] = [
      ['"x"', invalid("Invalid type for 'stream_options': expected an object, but got a string instead.", 'stream_options', 'invalid_type')],
      ['5', invalid("Invalid type for 'stream_options': expected an object, but got an integer instead.", 'stream_options', 'invalid_type')],
      ['[]', invalid("Invalid type for 'stream_options': expected an object, but got an array instead.", 'stream_options', 'invalid_type')],
      [
        '{"include_usage":1}',
        invalid("Invalid type for 'stream_options.include_usage': expected a boolean, but got an integer instead.", 'stream_options.include_usage', 'invalid_type'),
      ],
    ];
    for (const [options, body] of cases) {
      await expectError(
        await service.request('/v1/chat/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: `{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"store":true,"stream":true,"stream_options":${options}}`,
        }),
        400,
        body,
      );
    }
    expect(upstream.received).toHaveLength(0);
  });

  it('a body over BODY_LIMIT_BYTES is a 413, whether Content-Length says so or not', async () => {
    const big = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(5000) }] });
    const tooLarge = { error: { message: 'Request body too large: the maximum is 4096 bytes.', type: 'invalid_request_error', param: null, code: 'request_too_large' } };
    await expectError(
      await service.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: big }),
      413,
      tooLarge,
    );
    // A streamed (chunked) body carries no Content-Length: the limit is counted as it arrives.
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    await expectError(
      await service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: chunked,
        duplex: 'half',
      } as RequestInit),
      413,
      tooLarge,
    );
    expect(upstream.received).toHaveLength(0);
  });

  it('unknown routes outside /v1 and unsupported methods are a 404 Invalid URL', async () => {
    await expectError(await service.request('/nope', { auth: false }), 404, invalid('Invalid URL (GET /nope)'));
    await expectError(
      await service.request('/v1/chat/completions/chatcmpl-x', { method: 'PUT', body: '{}' }),
      404,
      invalid('Invalid URL (PUT /v1/chat/completions/chatcmpl-x)'),
    );
  });

  it('a request without a key is a 401 with OpenAI text, and the upstream is not called', async () => {
    const noKey = invalid(
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
    );
    await expectError(await service.request('/v1/chat/completions', { auth: false }), 401, noKey);
    await expectError(
      await service.request('/v1/chat/completions', { method: 'POST', auth: false, body: '{"model":"gpt-4o","messages":[]}' }),
      401,
      noKey,
    );
    await expectError(await service.request('/v1/chat/completions', { headers: { authorization: 'Basic abc' } }), 401, noKey);
    expect(upstream.received).toHaveLength(0);
  });
});

describe('cross-origin requests', () => {
  it('answers a CORS preflight without a key, and real requests still need one', async () => {
    const preflight = await service.request('/v1/chat/completions', {
      method: 'OPTIONS',
      auth: false,
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-stainless-os',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization,content-type,x-stainless-os');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(upstream.received).toHaveLength(0);

    const withoutKey = await service.request('/v1/chat/completions', { auth: false, headers: { origin: 'https://app.example.com' } });
    expect(withoutKey.status).toBe(401);
    expect(withoutKey.headers.get('access-control-allow-origin')).toBe('*');
    const withKey = await service.request('/v1/chat/completions', { headers: { origin: 'https://app.example.com' } });
    expect(withKey.status).toBe(200);
    expect(withKey.headers.get('access-control-expose-headers')).toBe(EXPOSED);
  });

  it('answers only the origins CORS_ORIGINS names, with Vary: Origin, and none at all with none', async () => {
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
      res.end(JSON.stringify({ object: 'list', data: [] }));
    };
    const preflight = (target: Service, origin: string) =>
      target.request('/v1/chat/completions', {
        method: 'OPTIONS',
        auth: false,
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
    const narrow = await startService({ upstreamUrl: upstream.url, env: { CORS_ORIGINS: 'https://app.example.com,http://localhost:3000' } });
    const closed = await startService({ upstreamUrl: upstream.url, env: { CORS_ORIGINS: 'none' } });
    try {
      const allowedPreflight = await preflight(narrow, 'http://localhost:3000');
      expect(allowedPreflight.status).toBe(204);
      expect(allowedPreflight.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
      expect((await preflight(narrow, 'https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
      expect((await preflight(closed, 'https://app.example.com')).headers.get('access-control-allow-origin')).toBeNull();

      for (const path of ['/v1/chat/completions', '/v1/models']) {
        const allowed = await narrow.request(path, { headers: { origin: 'https://app.example.com' } });
        expect(allowed.status, path).toBe(200);
        expect(allowed.headers.get('access-control-allow-origin'), path).toBe('https://app.example.com');
        expect(allowed.headers.get('access-control-expose-headers'), path).toBe(EXPOSED);
        expect(allowed.headers.get('vary'), path).toBe('Origin');
        // Served (a key is what guards the data), but with nothing that lets the page read it; the provider's * is dropped.
        for (const [target, origin] of [[narrow, 'https://evil.example'], [closed, 'https://app.example.com']] as const) {
          const refused = await target.request(path, { headers: { origin } });
          expect(refused.status, path).toBe(200);
          expect(refused.headers.get('access-control-allow-origin'), path).toBeNull();
          expect(refused.headers.get('access-control-expose-headers'), path).toBeNull();
        }
      }
    } finally {
      await narrow.close();
      await closed.close();
    }
  });

  it("answers with its own CORS headers and none of the provider's, nor its cookies, on every answer it relays", async () => {
    upstream.handler = (request, res) => {
      const providerHeaders = {
        'access-control-allow-origin': 'https://platform.example.com',
        'access-control-expose-headers': 'openai-processing-ms',
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'GET, POST, DELETE',
        'access-control-allow-headers': 'authorization',
        'access-control-max-age': '86400',
        'access-control-allow-private-network': 'true',
        'set-cookie': ['__cf_bm=abc; Path=/; HttpOnly', 'session=s1; Path=/; Secure'],
        'openai-processing-ms': '12',
      };
      if (request.path === '/v1/files/missing') {
        res.writeHead(404, { ...providerHeaders, 'content-type': 'application/json' });
        res.end(JSON.stringify(invalid('No such File object: missing')));
      } else if (request.json?.stream === true) {
        res.writeHead(200, { ...providerHeaders, 'content-type': 'text/event-stream' });
        for (const chunk of completionToChunks(fakeCompletion(request.json, 'chatcmpl-cors-stream', 1_767_225_600), { includeUsage: true })) res.write(sseEvent(chunk));
        res.end(sseEvent('[DONE]'));
      } else {
        const body = request.path === '/v1/models' ? { object: 'list', data: [] } : fakeCompletion(request.json!, 'chatcmpl-cors', 1_767_225_600);
        res.writeHead(200, { ...providerHeaders, 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      }
    };
    const origin = { origin: 'https://app.example.com' };
    const create = (extra: Record<string, unknown>) =>
      service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { ...origin, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], ...extra }),
      });
    const forwarded = {
      'pass-through': await service.request('/v1/models', { headers: origin }),
      'pass-through HEAD': await service.request('/v1/models', { method: 'HEAD', headers: origin }),
      'stored create': await create({ store: true }),
      'unstored create': await create({ store: false }),
      'stored stream': await create({ store: true, stream: true }),
      'unstored stream': await create({ store: false, stream: true }),
      'provider error': await service.request('/v1/files/missing', { headers: origin }),
    };
    const seen = [];
    for (const [label, res] of Object.entries(forwarded)) {
      await res.arrayBuffer();
      const accessControl: [string, string][] = [];
      res.headers.forEach((value, name) => {
        if (name.startsWith('access-control-')) accessControl.push([name, value]);
      });
      seen.push({ label, status: res.status, accessControl, cookies: res.headers.getSetCookie(), processingMs: res.headers.get('openai-processing-ms') });
    }
    const ours: [string, string][] = [
      ['access-control-allow-origin', '*'],
      ['access-control-expose-headers', EXPOSED],
    ];
    // The provider's other headers still come through.
    expect(seen).toEqual(
      Object.keys(forwarded).map((label) => ({
        label,
        status: label === 'provider error' ? 404 : 200,
        accessControl: ours,
        cookies: [],
        processingMs: '12',
      })),
    );
  });
});
