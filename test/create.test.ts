import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { fakeCompletion, holdNextCall, sendJson, startFakeUpstream, type FakeUpstream, UNREACHABLE_UPSTREAM_URL } from './helpers/fake-upstream.ts';
import { assertMatchesSchema } from './helpers/openai-schema.ts';
import { storedCompletion } from './helpers/stored-shape.ts';
import { DEFAULT_KEY, startService, type Service, useServiceEachTest } from './helpers/service.ts';
import { projectOf } from './helpers/source-service.ts';
import { toCompletionRecord } from '../src/wire.ts';

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started));

const messages = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Hello there' },
];

/** What a stored completion made by the default fake upstream looks like, given what varies. */
function expectedStored(id: string, requestId: string, extra: Record<string, unknown> = {}) {
  return storedCompletion(fakeCompletion({ model: 'gpt-4o', messages }, id, 1_700_000_000), requestId, extra);
}

describe('post /v1/chat/completions', () => {
  it('returns the upstream completion unchanged and stores it with store: true', async () => {
    const client = service.client();
    const { data: created, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages, store: true, metadata: { user: 'u1', env: 'prod' }, temperature: 0.5, seed: 7, user: 'end-user-1' })
      .withResponse();
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^req_[0-9a-f]{32}$/);
    expect(created).toEqual(fakeCompletion({ model: 'gpt-4o', messages }, 'chatcmpl-fake-1', 1_700_000_000));
    assertMatchesSchema('CreateChatCompletionResponse', created);

    const res = await service.request('/v1/chat/completions/chatcmpl-fake-1');
    expect(res.status).toBe(200);
    const stored = await res.json();
    expect(stored).toEqual(
      expectedStored('chatcmpl-fake-1', requestId, { metadata: { user: 'u1', env: 'prod' }, temperature: 0.5, seed: 7, input_user: 'end-user-1' }),
    );
    assertMatchesSchema('CreateChatCompletionResponse', stored);
    expect(await client.chat.completions.retrieve('chatcmpl-fake-1')).toEqual(stored);
  });

  it('sends and stores integers past 2^53 as the client and the provider wrote them, not rounded to doubles', async () => {
    // An int64 seed (common from Python) and a tool schema's int64 bounds: rounded, the seed would reach the
    // provider as 9223372036854776000, past int64, which OpenAI refuses.
    const tool = '{"type":"function","function":{"name":"pick","parameters":{"type":"object","properties":{"n":{"type":"integer","maximum":9223372036854775807,"minimum":-9223372036854775808}}}}}';
    const body = `{"model":"gpt-4o","messages":[{"role":"user","content":"Hello there"}],"store":true,"seed":9223372036854775807,"tools":[${tool}]}`;
    const answer = JSON.stringify(fakeCompletion(JSON.parse(body), 'chatcmpl-big', 1_700_000_000))
      .replace('"system_fingerprint"', '"trace_id":18446744073709551615,"system_fingerprint"')
      .replace('"finish_reason"', '"choice_trace":98765432109876543211,"finish_reason"');
    expect(answer).toContain('"choice_trace"');
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(answer);
    };
    const res = await service.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(answer);
    expect(upstream.received.map((r) => r.body)).toEqual([body.replace(',"store":true', '')]);

    const stored = await service.request('/v1/chat/completions/chatcmpl-big');
    expect(stored.status).toBe(200);
    const text = await stored.text();
    for (const exact of ['"trace_id":18446744073709551615', '"choice_trace":98765432109876543211', '"seed":9223372036854775807', `"tools":[${tool}]`]) expect(text).toContain(exact);
    const { request_id: requestId } = JSON.parse(text) as { request_id: string };
    expect(JSON.parse(text)).toEqual(storedCompletion(JSON.parse(answer), requestId, { seed: 9223372036854775807, tools: JSON.parse(`[${tool}]`) }));

    // A streamed request goes upstream with them too.
    const streamed = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body.replace('"store":true', '"store":true,"stream":true'),
    });
    expect(streamed.status).toBe(200);
    await streamed.text();
    expect(upstream.received[1]!.body).toBe(
      body.replace(',"store":true', '').replace('"seed"', '"stream":true,"seed"').replace(/}$/, ',"stream_options":{"include_usage":true}}'),
    );
  });

  it("sends the provider the client's own text: keys in its order, numbers as written, only store and metadata taken out", async () => {
    // A strict schema's properties are answered in their order; "2024" and "1" read as integers, which a parsed
    // object puts first. 1e400 is no double: written again from the parsed body it went upstream as null
    // (the provider's default) where OpenAI, sent it directly, refuses it.
    const schema =
      '{"type":"object","properties":{"title":{"type":"string"},"2024":{"type":"string"},"1":{"type":"string"}},"required":["title","2024","1"],"additionalProperties":false}';
    const head = `{"model":"gpt-4o","messages":[{"role":"user","content":"Hello there"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","strict":true,"schema":${schema}}}`;
    const sent = `${head},"store":true,"temperature":1e400,"metadata":{"b":"1","2":"x"},"logit_bias":{"50256":-100,"13":5},"top_p":1.0}`;
    const res = await service.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: sent });
    expect(res.status).toBe(200);
    expect(upstream.received.map((r) => r.body)).toEqual([`${head},"temperature":1e400,"logit_bias":{"50256":-100,"13":5},"top_p":1.0}`]);

    // Streamed and stored, the proxy's include_usage takes the client's stream_options' place, the rest as written.
    const streamed = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `${head},"stream":true,"stream_options":{"include_obfuscation":false},"store":true,"top_p":1.0}`,
    });
    expect(streamed.status).toBe(200);
    await streamed.text();
    expect(upstream.received[1]!.body).toBe(`${head},"stream":true,"stream_options":{"include_obfuscation":false,"include_usage":true},"top_p":1.0}`);
  });

  it('does not forward store and metadata upstream, and forwards everything else and the key', async () => {
    await service.client().chat.completions.create({ model: 'gpt-4o', messages, store: true, metadata: { a: 'b' }, max_completion_tokens: 5 });
    expect(upstream.received).toHaveLength(1);
    const [sent] = upstream.received;
    expect(sent!.path).toBe('/v1/chat/completions');
    expect(sent!.json).toEqual({ model: 'gpt-4o', messages, max_completion_tokens: 5 });
    expect(sent!.headers.authorization).toBe(`Bearer ${DEFAULT_KEY}`);
  });

  it("forwards the client's own headers as sent, without hop-by-hop ones, the encoding or the client's key", async () => {
    const body = JSON.stringify({ model: 'gpt-4o', messages, store: true });
    // node:http, to send a header twice and a Connection header that names another (fetch sends neither).
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${service.origin}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${DEFAULT_KEY}`,
          'Content-Type': 'application/json',
          'OpenAI-Beta': ['first', 'second'],
          'X-Stainless-Lang': 'js',
          Connection: 'keep-alive, X-Only-This-Hop',
          'X-Only-This-Hop': 'secret',
          'Accept-Encoding': 'gzip',
        },
      }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
    const { headers } = upstream.received[0]!;
    expect(headers['openai-beta']).toBe('first, second');
    expect(headers['x-stainless-lang']).toBe('js');
    expect(headers['content-type']).toBe('application/json');
    expect(headers.authorization).toBe(`Bearer ${DEFAULT_KEY}`);
    expect(headers['x-only-this-hop']).toBeUndefined();
    // undici's own, not the client's.
    expect(headers.connection).toBe('keep-alive');
    expect(headers['accept-encoding']).toBeUndefined();
  });

  it('forwards store and metadata with UPSTREAM_FORWARD_STORE=true', async () => {
    const forwarding = await startService({ upstreamUrl: upstream.url, env: { UPSTREAM_FORWARD_STORE: 'true' } });
    try {
      await forwarding.client().chat.completions.create({ model: 'gpt-4o', messages, store: true, metadata: { a: 'b' } });
      expect(upstream.received[0]!.json).toEqual({ model: 'gpt-4o', messages, store: true, metadata: { a: 'b' } });
    } finally {
      await forwarding.close();
    }
  });

  it('with STORE_DEFAULT=true too, tells the provider store: true for a request stored by default, as OpenAI refuses metadata without it', async () => {
    const forwarding = await startService({ upstreamUrl: upstream.url, env: { UPSTREAM_FORWARD_STORE: 'true', STORE_DEFAULT: 'true' } });
    try {
      const client = forwarding.client();
      await client.chat.completions.create({ model: 'gpt-4o', messages, metadata: { a: 'b' } });
      await forwarding.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"store":null,"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"store":null}',
      });
      await client.chat.completions.create({ model: 'gpt-4o', messages, store: false, metadata: {} });
      expect(upstream.received.map((r) => r.body)).toEqual([
        JSON.stringify({ model: 'gpt-4o', messages, metadata: { a: 'b' } }).replace(/}$/, ',"store":true}'),
        '{"store":true,"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}',
        JSON.stringify({ model: 'gpt-4o', messages, store: false, metadata: {} }),
      ]);
      // Both stored by default here; the one with store: false not.
      expect((await client.chat.completions.list()).data.map((c) => JSON.stringify(c.metadata)).sort()).toEqual(['{"a":"b"}', '{}']);
    } finally {
      await forwarding.close();
    }
  });

  it('authenticates upstream with UPSTREAM_API_KEY when set', async () => {
    const withKey = await startService({ upstreamUrl: upstream.url, env: { UPSTREAM_API_KEY: 'sk-upstream-secret' } });
    try {
      await withKey.client().chat.completions.create({ model: 'gpt-4o', messages });
      expect(upstream.received[0]!.headers.authorization).toBe('Bearer sk-upstream-secret');
    } finally {
      await withKey.close();
    }
  });

  it('stores nothing without store, or with store: false', async () => {
    const client = service.client();
    await client.chat.completions.create({ model: 'gpt-4o', messages });
    await client.chat.completions.create({ model: 'gpt-4o', messages, store: false, metadata: {} });
    const list = await service.request('/v1/chat/completions');
    expect(await list.json()).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
    const res = await service.request('/v1/chat/completions/chatcmpl-fake-1');
    expect(res.status).toBe(404);
  });

  it('stores requests that omit store when STORE_DEFAULT=true, but never an explicit store: false', async () => {
    const storing = await startService({ upstreamUrl: upstream.url, env: { STORE_DEFAULT: 'true' } });
    try {
      const client = storing.client();
      await client.chat.completions.create({ model: 'gpt-4o', messages });
      await client.chat.completions.create({ model: 'gpt-4o', messages, store: false });
      const page = await client.chat.completions.list();
      expect(page.data.map((c) => c.id)).toEqual(['chatcmpl-fake-1']);
    } finally {
      await storing.close();
    }
  });

  it('stores a provider\'s fractional created cut to its second, and the arrival time for a created that is no number', async () => {
    const answers = [1_700_000_000.75, 'soon', 2 ** 60];
    upstream.handler = (request, res) => sendJson(res, 200, { ...fakeCompletion(request.json!, `chatcmpl-t${answers.length}`, 0), created: answers.shift() });
    const before = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 3; i++) await service.client().chat.completions.create({ model: 'gpt-4o', messages, store: true });
    const after = Math.floor(Date.now() / 1000);
    const createdOf = async (id: string) => ((await (await service.request(`/v1/chat/completions/${id}`)).json()) as { created: number }).created;
    expect(await createdOf('chatcmpl-t3')).toBe(1_700_000_000);
    for (const id of ['chatcmpl-t2', 'chatcmpl-t1']) {
      const created = await createdOf(id);
      expect(created).toBeGreaterThanOrEqual(before);
      expect(created).toBeLessThanOrEqual(after);
    }
  });

  it("stores the arrival time for a provider's created outside the years 0000 to 9999, which no usage day could name", async () => {
    const answers = [253_402_300_799, -62_167_219_200, 253_402_300_800, -62_167_219_201, 2 ** 53 - 1, -(2 ** 53 - 1)];
    let n = 0;
    upstream.handler = (request, res) => sendJson(res, 200, { ...fakeCompletion(request.json!, `chatcmpl-far${n++}`, 0), created: answers.shift() });
    const before = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 6; i++) {
      const res = await service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, store: true }),
      });
      expect(res.status, await res.text()).toBe(200);
    }
    const after = Math.floor(Date.now() / 1000);
    const createdOf = async (id: string) => ((await (await service.request(`/v1/chat/completions/${id}`)).json()) as { created: number }).created;
    expect([await createdOf('chatcmpl-far0'), await createdOf('chatcmpl-far1')]).toEqual([253_402_300_799, -62_167_219_200]);
    for (const id of ['chatcmpl-far2', 'chatcmpl-far3', 'chatcmpl-far4', 'chatcmpl-far5']) {
      const created = await createdOf(id);
      expect(created).toBeGreaterThanOrEqual(before);
      expect(created).toBeLessThanOrEqual(after);
    }
    const usage = await service.request('/v1/stored-completions/usage');
    const body = (await usage.json()) as { data: { day: string; completions: number }[] };
    expect(usage.status).toBe(200);
    expect(body.data.map((row) => row.day).filter((day) => day.length !== 10 || !day.startsWith('20'))).toEqual(['0000-01-01', '9999-12-31']);
    expect(body.data.reduce((sum, row) => sum + row.completions, 0)).toBe(6);
  });

  it("stores a choice whose provider gave no finish_reason with the one its reply implies, as OpenAI's schema requires one", async () => {
    const call = { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } };
    upstream.handler = (request, res) => {
      const answer = fakeCompletion(request.json!, 'chatcmpl-unsaid', 1_700_000_000) as { choices: Record<string, unknown>[] };
      answer.choices = [
        { index: 0, message: { role: 'assistant', content: 'Done.' }, finish_reason: null },
        { index: 1, message: { role: 'assistant', content: null, tool_calls: [call] } },
        { index: 2, message: { role: 'assistant', content: 'Cut', refusal: null }, finish_reason: 'length', logprobs: null },
      ];
      sendJson(res, 200, answer);
    };
    const created = await service.client().chat.completions.create({ model: 'gpt-4o', messages, store: true, n: 3 });
    // The create's own answer is the provider's, as it came.
    expect(created.choices.map((c) => c.finish_reason)).toEqual([null, undefined, 'length']);
    const stored = await (await service.request('/v1/chat/completions/chatcmpl-unsaid')).json();
    expect(stored.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'Done.', refusal: null }, finish_reason: 'stop', logprobs: null },
      { index: 1, message: { role: 'assistant', content: null, refusal: null, tool_calls: [call] }, finish_reason: 'tool_calls', logprobs: null },
      { index: 2, message: { role: 'assistant', content: 'Cut', refusal: null }, finish_reason: 'length', logprobs: null },
    ]);
    assertMatchesSchema('CreateChatCompletionResponse', stored);
  });

  it("stores other providers' names for OpenAI's finish reasons as OpenAI's, and a reason OpenAI has no name for as it came", async () => {
    const call = { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } };
    const given = ['eos', 'EOS_TOKEN', 'end_turn', 'max_tokens', 'tool_use', '', 'abort', 'stop', 'COMPLETE', 'SAFETY', 'guardrail_intervened'];
    upstream.handler = (request, res) => {
      const answer = fakeCompletion(request.json!, 'chatcmpl-named', 1_700_000_000) as { choices: Record<string, unknown>[] };
      answer.choices = given.map((reason, index) => ({
        index,
        message: reason === 'tool_use' ? { role: 'assistant', content: null, tool_calls: [call] } : { role: 'assistant', content: 'Done.' },
        finish_reason: reason,
      }));
      sendJson(res, 200, answer);
    };
    const created = await service.client().chat.completions.create({ model: 'gpt-4o', messages, store: true, n: given.length });
    // The create's own answer is the provider's, as it came.
    expect(created.choices.map((c) => c.finish_reason)).toEqual(given);
    const stored = await (await service.request('/v1/chat/completions/chatcmpl-named')).json();
    expect(stored.choices.map((c: { finish_reason: unknown }) => c.finish_reason)).toEqual([
      'stop', 'stop', 'stop', 'length', 'tool_calls', 'stop', 'abort', 'stop', 'stop', 'content_filter', 'content_filter',
    ]);
    const listed = await service.client().chat.completions.list();
    expect(listed.data.find((c) => c.id === 'chatcmpl-named')?.choices.map((c) => c.finish_reason)).toEqual(stored.choices.map((c: { finish_reason: unknown }) => c.finish_reason));
  });

  it('keeps every choice when n > 1, and unknown upstream fields as they came', async () => {
    upstream.handler = (request, res) =>
      sendJson(res, 200, { ...fakeCompletion(request.json!, 'chatcmpl-n2', 1_700_000_000), provider_extra: { x: [1, 2] } });
    await service.client().chat.completions.create({ model: 'gpt-4o', messages, n: 2, store: true });
    const stored = await (await service.request('/v1/chat/completions/chatcmpl-n2')).json();
    expect(stored.choices.map((c: { index: number; message: { content: string } }) => [c.index, c.message.content])).toEqual([
      [0, 'echo 0: Hello there'],
      [1, 'echo 1: Hello there'],
    ]);
    expect(stored.provider_extra).toEqual({ x: [1, 2] });
  });

  it('keeps fields named __proto__ as fields: sent upstream, and stored in the completion and its choice', async () => {
    upstream.handler = (request, res) => {
      // Written as text: in an object literal `__proto__` would set the prototype, not a field.
      const text = JSON.stringify(fakeCompletion(request.json!, 'chatcmpl-proto', 1_700_000_000))
        .replace(/^\{/, '{"__proto__":{"top":1},')
        .replace('"message":{', '"__proto__":{"choice":1},"message":{"__proto__":{"message":1},');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(text);
    };
    const body = JSON.stringify({ model: 'gpt-4o', messages, store: true }).replace(/^\{/, '{"__proto__":{"request":1},');
    const res = await service.request('/v1/chat/completions', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(upstream.received[0]!.body).toContain('"__proto__":{"request":1}');

    const stored = await (await service.request('/v1/chat/completions/chatcmpl-proto')).text();
    expect(stored).toContain('"__proto__":{"top":1}');
    expect(stored).toContain('"__proto__":{"choice":1}');
    expect(stored).toContain('"__proto__":{"message":1}');
  });

  it('gives a fresh id when the upstream reuses a stored id, and tells the client', async () => {
    upstream.nextIds = ['chatcmpl-same', 'chatcmpl-same'];
    const client = service.client();
    const first = await client.chat.completions.create({ model: 'gpt-4o', messages, store: true, metadata: { n: '1' } });
    const second = await client.chat.completions.create({ model: 'gpt-4o', messages, store: true, metadata: { n: '2' } });
    expect(first.id).toBe('chatcmpl-same');
    expect(second.id).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
    expect((await client.chat.completions.retrieve('chatcmpl-same')).metadata).toEqual({ n: '1' });
    expect((await client.chat.completions.retrieve(second.id)).metadata).toEqual({ n: '2' });
  });

  it('gives a fresh id when the upstream reuses an id stored by another process, in the middle of concurrent creates', async () => {
    // Written straight to the store, as another instance on the same database would: this process never saw the id.
    await service.store.saveCompletion(
      await projectOf(service, DEFAULT_KEY),
      toCompletionRecord({
        request: { model: 'gpt-4o', messages },
        response: fakeCompletion({ model: 'gpt-4o', messages }, 'chatcmpl-elsewhere', 1_700_000_000),
        id: 'chatcmpl-elsewhere',
        requestId: 'req_elsewhere',
        metadata: { by: 'other' },
        now: 1_700_000_000,
      }),
    );
    upstream.nextIds = ['chatcmpl-before', 'chatcmpl-elsewhere', 'chatcmpl-after'];
    const client = service.client();
    // Concurrent, so that they can share one commit, which the taken id then fails for all three.
    const created = await Promise.all(
      ['1', '2', '3'].map((n) => client.chat.completions.create({ model: 'gpt-4o', messages, store: true, metadata: { n } })),
    );
    const ids = created.map((completion) => completion.id).sort();
    expect(ids.filter((id) => id === 'chatcmpl-before' || id === 'chatcmpl-after')).toEqual(['chatcmpl-after', 'chatcmpl-before']);
    const fresh = ids.find((id) => id !== 'chatcmpl-before' && id !== 'chatcmpl-after')!;
    expect(fresh).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
    expect((await client.chat.completions.retrieve('chatcmpl-elsewhere')).metadata).toEqual({ by: 'other' });
    for (const completion of created) expect((await client.chat.completions.retrieve(completion.id)).id).toBe(completion.id);
  });

  it('counts an id as taken after its completion is deleted', async () => {
    upstream.nextIds = ['chatcmpl-reused', 'chatcmpl-reused'];
    const client = service.client();
    await client.chat.completions.create({ model: 'gpt-4o', messages, store: true });
    await client.chat.completions.delete('chatcmpl-reused');
    const second = await client.chat.completions.create({ model: 'gpt-4o', messages, store: true });
    expect(second.id).not.toBe('chatcmpl-reused');
    expect((await client.chat.completions.retrieve(second.id)).id).toBe(second.id);
  });

  it('refuses bad metadata with a 400 before calling the upstream', async () => {
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, store: true, metadata: tooMany }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead.",
        type: 'invalid_request_error',
        param: 'metadata',
        code: 'object_above_max_properties',
      },
    });

    const long = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, store: true, metadata: { note: 'x'.repeat(600) } }),
    });
    expect(long.status).toBe(400);
    expect(await long.json()).toEqual({
      error: {
        message: "Invalid 'metadata.note': string too long. Expected a string with maximum length 512, but got a string with length 600 instead.",
        type: 'invalid_request_error',
        param: 'metadata.note',
        code: 'string_above_max_length',
      },
    });

    const notString = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, store: true, metadata: { n: 5 } }),
    });
    expect(notString.status).toBe(400);
    expect(await notString.json()).toEqual({
      error: {
        message: "Invalid type for 'metadata.n': expected a string, but got an integer instead.",
        type: 'invalid_request_error',
        param: 'metadata.n',
        code: 'invalid_type',
      },
    });
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses metadata for a completion it will not store, as OpenAI does, before asking the provider', async () => {
    const refusal = {
      error: {
        message: "The 'metadata' parameter is only allowed when 'store' is enabled.",
        type: 'invalid_request_error',
        param: 'metadata',
        code: null,
      },
    };
    for (const body of [
      { model: 'gpt-4o', messages, metadata: { a: 'b' } },
      { model: 'gpt-4o', messages, store: false, metadata: { a: 'b' } },
      { model: 'gpt-4o', messages, store: null, metadata: { a: 'b' } },
      { model: 'gpt-4o', messages, store: false, stream: true, metadata: { a: 'b' } },
    ]) {
      const res = await service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual(refusal);
    }
    expect(upstream.received).toHaveLength(0);
    // The official client's error carries it as OpenAI's would.
    const error = await service
      .client()
      .chat.completions.create({ model: 'gpt-4o', messages, store: false, metadata: { a: 'b' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('metadata');
    // Nothing to lose in an empty map or a null one: those go on.
    for (const metadata of [{}, null]) {
      await service.client().chat.completions.create({ model: 'gpt-4o', messages, store: false, metadata });
    }
    expect(upstream.received.map((r) => r.json)).toEqual([
      { model: 'gpt-4o', messages },
      { model: 'gpt-4o', messages },
    ]);
  });

  it('refuses stream_options without stream', async () => {
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream_options: { include_usage: true } }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        type: 'invalid_request_error',
        param: 'stream_options',
        code: null,
      },
    });
    expect(upstream.received).toHaveLength(0);
  });

  it('passes an upstream error in OpenAI shape through unchanged and stores nothing', async () => {
    const body = { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } };
    upstream.handler = (_request, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' });
      res.end(JSON.stringify(body));
    };
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, store: true }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(await res.json()).toEqual(body);
    expect(await service.countRows('completions')).toBe(0);
  });

  it('rewrites a non-OpenAI upstream error body into the error shape', async () => {
    upstream.handler = (_request, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'error', message: 'maximum context length is 4096 tokens', type: 'BadRequestError', param: null, code: 400 }));
    };
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, store: true }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: 'maximum context length is 4096 tokens', type: 'invalid_request_error', param: null, code: null },
    });

    upstream.handler = (_request, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
    };
    const html = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, store: true }),
    });
    expect(html.status).toBe(502);
    expect(html.headers.get('content-type')).toBe('application/json');
    expect(await html.json()).toEqual({ error: { message: '502 Bad Gateway', type: 'server_error', param: null, code: null } });

    // Gemini's OpenAI-compatible endpoint: its error as an array of one.
    upstream.handler = (_request, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify([{ error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT' } }]));
    };
    const gemini = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, store: true }),
    });
    expect({ status: gemini.status, body: await gemini.json() }).toEqual({
      status: 400,
      body: { error: { message: 'API key not valid. Please pass a valid API key.', type: 'invalid_request_error', param: null, code: null } },
    });
    expect(await service.countRows('completions')).toBe(0);
  });

  it("rewrites a provider's plain-text 401, 403, 404 and 429 with the types OpenAI answers them with", async () => {
    const expected: Record<number, { type: string; code: string | null }> = {
      401: { type: 'invalid_request_error', code: null },
      403: { type: 'invalid_request_error', code: null },
      404: { type: 'invalid_request_error', code: null },
      // OpenAI's own 429: "Rate limit reached for requests ...", type `requests`, code `rate_limit_exceeded`.
      429: { type: 'requests', code: 'rate_limit_exceeded' },
    };
    for (const [status, { type, code }] of Object.entries(expected)) {
      upstream.handler = (_request, res) => {
        res.writeHead(Number(status), { 'content-type': 'text/plain' });
        res.end(`provider says ${status}`);
      };
      const res = await service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, store: true }),
      });
      expect(res.status).toBe(Number(status));
      expect(await res.json()).toEqual({ error: { message: `provider says ${status}`, type, param: null, code } });
    }
    // OpenAI's quota error is a 429 too, `insufficient_quota` as its type and code: named as either, it is that.
    upstream.handler = (_request, res) => {
      res.writeHead(429, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'You exceeded your current quota', code: 'insufficient_quota' }));
    };
    const quota = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, store: true }),
    });
    expect(await quota.json()).toEqual({ error: { message: 'You exceeded your current quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } });
    expect(await service.countRows('completions')).toBe(0);
  });

  it('completes an error body that has only some of the four fields', async () => {
    upstream.handler = (_request, res) => sendJson(res, 429, { error: { message: 'slow down' } });
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, store: true }),
    });
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({ error: { message: 'slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } });
  });

  it('answers 502 when the upstream breaks off after its headers, and 504 when it stalls there', async () => {
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"id":"chatcmpl-1",');
      setTimeout(() => res.destroy(), 20);
    };
    const post = (target: Service) =>
      target.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, store: true }),
      });
    const broken = await post(service);
    expect(broken.status).toBe(502);
    expect(await broken.json()).toEqual({
      error: { message: 'The upstream provider closed the connection before its response was complete.', type: 'server_error', param: null, code: null },
    });

    const impatient = await startService({ upstreamUrl: upstream.url, env: { UPSTREAM_TIMEOUT_MS: '300' } });
    try {
      upstream.handler = (_request, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
        res.write('{"id":"chatcmpl-1",');
      };
      const stalled = await post(impatient);
      expect(stalled.status).toBe(504);
      expect(await stalled.json()).toEqual({
        error: { message: 'The upstream provider did not answer in time.', type: 'server_error', param: null, code: null },
      });
      expect(await impatient.countRows('completions')).toBe(0);
    } finally {
      await impatient.close();
    }
    expect(await service.countRows('completions')).toBe(0);
  });

  it('aborts the upstream call when the client goes away before the answer, and stores nothing', async () => {
    // Never answers: only the proxy closing the connection ends this call.
    const held = holdNextCall(upstream);
    const client = new AbortController();
    const response = service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, store: true }),
      signal: client.signal,
    });
    await held.arrived;
    client.abort();
    await expect(response).rejects.toThrow();
    expect(await held.closedUnanswered).toBe(true);
    expect(await service.countRows('completions')).toBe(0);
  });

  it('answers a redirect from the provider with a 502 without its Location, streamed or not: the SDK would follow it around the proxy', async () => {
    upstream.handler = (_request, res) => {
      res.writeHead(308, { location: 'http://internal.example/direct/v1/chat/completions' });
      res.end();
    };
    const client = new OpenAI({ apiKey: DEFAULT_KEY, baseURL: service.baseURL, maxRetries: 2 });
    for (const stream of [false, true]) {
      const raw = await service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, store: true, stream }),
      });
      expect([raw.status, raw.headers.get('location'), raw.headers.get('x-should-retry')]).toEqual([502, null, 'false']);
      expect(await raw.json()).toEqual({
        error: {
          message: "The upstream provider answered a create with a redirect (HTTP 308), which is not followed: check that UPSTREAM_BASE_URL is the provider's own address.",
          type: 'server_error',
          param: null,
          code: null,
        },
      });
      const before = upstream.received.length;
      const error = await client.chat.completions.create({ model: 'gpt-4o', messages, store: true, stream }).catch((err: unknown) => err);
      expect([(error as { status?: number }).status, upstream.received.length - before]).toEqual([502, 1]);
    }
    expect(await service.countRows('completions')).toBe(0);
  });

  it("answers a provider's oversized headers with a 502 that says so and is not retried, streamed or not", async () => {
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-padding': 'p'.repeat(70_000) });
      res.end('{}');
    };
    for (const stream of [false, true]) {
      const before = upstream.received.length;
      const raw = await service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, store: true, stream }),
      });
      expect([raw.status, raw.headers.get('x-should-retry'), upstream.received.length - before]).toEqual([502, 'false', 1]);
      expect(await raw.json()).toEqual({
        error: { message: "The upstream provider's response headers were larger than this service reads.", type: 'server_error', param: null, code: null },
      });
    }
    expect(await service.countRows('completions')).toBe(0);
  });

  it('answers 502 in the error shape when the upstream cannot be reached', async () => {
    const unreachable = await startService({ upstreamUrl: UNREACHABLE_UPSTREAM_URL });
    try {
      const res = await unreachable.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, store: true }),
      });
      expect(res.status).toBe(502);
      expect(await res.json()).toEqual({
        error: { message: 'Could not reach the upstream provider (ECONNREFUSED).', type: 'server_error', param: null, code: null },
      });
      expect(await unreachable.countRows('completions')).toBe(0);
    } finally {
      await unreachable.close();
    }
  });
});

describe('post /v1/chat/completions with ids no client can address', () => {
  it('stores under a fresh id, and tells the client, when the upstream id is empty, . , .. or has control characters or half a surrogate pair', async () => {
    const upstream = await startFakeUpstream();
    const service = await startService({ upstreamUrl: upstream.url });
    try {
      upstream.nextIds = ['', '.', '..', 'chatcmpl-a\nb', 'x'.repeat(300), 'lone-\ud800', 'lone-\udc00-tail', '\udc00\ud800'];
      const client = service.client();
      for (let i = 0; i < 8; i++) {
        const created = await client.chat.completions.create({ model: 'gpt-4o', messages, store: true });
        expect(created.id).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
        expect((await client.chat.completions.retrieve(created.id)).id).toBe(created.id);
      }
    } finally {
      await service.close();
      await upstream.close();
    }
  });
});
