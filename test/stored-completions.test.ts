import { describe, expect, it } from 'vitest';
import { fakeCompletion, type FakeUpstream } from './helpers/fake-upstream.ts';
import { completionToChunks, openSse, sseEvent, streamingHandler } from './helpers/fake-sse.ts';
import { assertMatchesSchema } from './helpers/openai-schema.ts';
import { type Service, useServiceEachTest } from './helpers/service.ts';
import { storedCompletion } from './helpers/stored-shape.ts';

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started));

function notFound(id: string) {
  return { error: { message: `No chat completion found with id '${id}'.`, type: 'invalid_request_error', param: null, code: null } };
}

async function createStored(metadata: Record<string, string> = {}, model = 'gpt-4o') {
  return service.client().chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'hi' }],
    store: true,
    metadata,
  });
}

describe('get /v1/chat/completions/{id}', () => {
  it('returns 404 with OpenAI text for an unknown id', async () => {
    const res = await service.request('/v1/chat/completions/chatcmpl-nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual(notFound('chatcmpl-nope'));
  });

  it('is reached by the official client, which maps 404 to NotFoundError', async () => {
    await expect(service.client().chat.completions.retrieve('chatcmpl-nope')).rejects.toMatchObject({
      status: 404,
      error: notFound('chatcmpl-nope').error,
    });
  });
});

describe('post /v1/chat/completions/{id}', () => {
  it('replaces the whole metadata map and returns the updated completion', async () => {
    const created = await createStored({ user: 'u1', env: 'prod' });
    const client = service.client();
    const updated = await client.chat.completions.update(created.id, { metadata: { env: 'dev', team: 'a' } });
    expect(updated.metadata).toEqual({ env: 'dev', team: 'a' });
    assertMatchesSchema('CreateChatCompletionResponse', updated);
    const retrieved = await client.chat.completions.retrieve(created.id);
    expect(retrieved).toEqual(updated);

    // The filter index follows the new map: old pairs no longer match, new ones do.
    expect((await client.chat.completions.list({ metadata: { user: 'u1' } })).data).toEqual([]);
    expect((await client.chat.completions.list({ metadata: { team: 'a' } })).data.map((c) => c.id)).toEqual([created.id]);
  });

  it('clears the map with metadata: null', async () => {
    const created = await createStored({ user: 'u1' });
    const updated = await service.client().chat.completions.update(created.id, { metadata: null });
    expect(updated.metadata).toEqual({});
    expect((await service.client().chat.completions.list({ metadata: { user: 'u1' } })).data).toEqual([]);
  });

  it('refuses a body without metadata', async () => {
    const created = await createStored();
    const res = await service.request(`/v1/chat/completions/${created.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: "Missing required parameter: 'metadata'.", type: 'invalid_request_error', param: 'metadata', code: 'missing_required_parameter' },
    });
  });

  it('refuses a parameter other than metadata, naming it, and keeps the completion as it was', async () => {
    const created = await createStored({ user: 'u1' });
    const before = await service.client().chat.completions.retrieve(created.id);
    const res = await service.request(`/v1/chat/completions/${created.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { user: 'u2' }, model: 'other' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: "Unknown parameter: 'model'.", type: 'invalid_request_error', param: 'model', code: 'unknown_parameter' },
    });
    expect(await service.client().chat.completions.retrieve(created.id)).toEqual(before);
  });

  it('refuses invalid metadata and keeps the old map', async () => {
    const created = await createStored({ user: 'u1' });
    const res = await service.request(`/v1/chat/completions/${created.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { k: ['x'] } }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: "Invalid type for 'metadata.k': expected a string, but got an array instead.", type: 'invalid_request_error', param: 'metadata.k', code: 'invalid_type' },
    });
    expect((await service.client().chat.completions.retrieve(created.id)).metadata).toEqual({ user: 'u1' });
  });

  it('returns 404 for an unknown id', async () => {
    const res = await service.request('/v1/chat/completions/chatcmpl-nope', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { a: 'b' } }),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual(notFound('chatcmpl-nope'));
  });
});

describe('delete /v1/chat/completions/{id}', () => {
  it('deletes, then 404s on retrieve, update, messages and a second delete', async () => {
    const created = await createStored({ user: 'u1' });
    const client = service.client();
    const deleted = await client.chat.completions.delete(created.id);
    expect(deleted).toEqual({ object: 'chat.completion.deleted', id: created.id, deleted: true });
    assertMatchesSchema('ChatCompletionDeleted', deleted);

    for (const [path, init] of [
      [`/v1/chat/completions/${created.id}`, { method: 'GET' }],
      [`/v1/chat/completions/${created.id}`, { method: 'DELETE' }],
      [`/v1/chat/completions/${created.id}/messages`, { method: 'GET' }],
      [`/v1/chat/completions/${created.id}`, { method: 'POST', body: '{"metadata":{}}', headers: { 'content-type': 'application/json' } }],
    ] as const) {
      const res = await service.request(path, init);
      expect(res.status, `${init.method} ${path}`).toBe(404);
      expect(await res.json()).toEqual(notFound(created.id));
    }
    expect((await client.chat.completions.list()).data).toEqual([]);
    expect((await client.chat.completions.list({ metadata: { user: 'u1' } })).data).toEqual([]);
    // Every row of the completion is gone, not just hidden.
    for (const table of ['completions', 'input_messages', 'metadata', 'completion_models']) {
      expect(await service.countRows(table), table).toBe(0);
    }
  });
});

describe('get /v1/chat/completions/{id}/messages', () => {
  const input = [
    { role: 'developer' as const, content: 'You are terse.' },
    { role: 'user' as const, content: [{ type: 'text' as const, text: 'first part' }, { type: 'text' as const, text: 'second part' }], name: 'ann' },
    {
      role: 'assistant' as const,
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function' as const, function: { name: 'lookup', arguments: '{"q":"x"}' } }],
    },
    { role: 'tool' as const, content: '42', tool_call_id: 'call_1' },
    { role: 'user' as const, content: [{ type: 'image_url' as const, image_url: { url: 'https://example.com/a.png' } }] },
  ];

  async function createWithMessages() {
    return service.client().chat.completions.create({ model: 'gpt-4o', messages: input, store: true });
  }

  it('returns the input messages in order with ids, refusal, name and content_parts', async () => {
    const created = await createWithMessages();
    const res = await service.request(`/v1/chat/completions/${created.id}/messages`);
    expect(res.status).toBe(200);
    const body = await res.json();
    const id = created.id;
    expect(body).toEqual({
      object: 'list',
      data: [
        { id: `${id}-0`, role: 'developer', content: 'You are terse.', refusal: null, name: null, content_parts: null },
        { id: `${id}-1`, role: 'user', content: 'first part\nsecond part', refusal: null, name: 'ann', content_parts: input[1]!.content },
        { id: `${id}-2`, role: 'assistant', content: null, refusal: null, name: null, content_parts: null, tool_calls: input[2]!.tool_calls },
        { id: `${id}-3`, role: 'tool', content: '42', refusal: null, name: null, content_parts: null, tool_call_id: 'call_1' },
        { id: `${id}-4`, role: 'user', content: null, refusal: null, name: null, content_parts: input[4]!.content },
      ],
      first_id: `${id}-0`,
      last_id: `${id}-4`,
      has_more: false,
    });
    assertMatchesSchema('ChatCompletionMessageList', body);
  });

  it('leaves out a role field sent as null, as a reply sent back the way OpenAI serves it carries them', async () => {
    // OpenAI's own example of a stored reply has `"tool_calls": null, "function_call": null`; a client that appends
    // the reply it received to the next request's messages sends them back so. OpenAI's schema for the messages
    // endpoint's items has no null for either (an array, an object), so served back as null the page did not validate.
    const reply = { role: 'assistant', content: 'Hello', refusal: null, tool_calls: null, function_call: null, audio: null };
    const tool = { role: 'tool', content: '42', tool_call_id: null };
    const messages = [{ role: 'user', content: 'hi' }, reply, tool, { role: 'user', content: 'more' }];
    const client = service.client();
    const created = await client.chat.completions.create({ model: 'gpt-4o', messages: messages as never, store: true });
    const body = await (await client.chat.completions.messages.list(created.id).asResponse()).json();
    const id = created.id;
    expect(body).toEqual({
      object: 'list',
      data: [
        { id: `${id}-0`, role: 'user', content: 'hi', refusal: null, name: null, content_parts: null },
        { id: `${id}-1`, role: 'assistant', content: 'Hello', refusal: null, name: null, content_parts: null },
        { id: `${id}-2`, role: 'tool', content: '42', refusal: null, name: null, content_parts: null },
        { id: `${id}-3`, role: 'user', content: 'more', refusal: null, name: null, content_parts: null },
      ],
      first_id: `${id}-0`,
      last_id: `${id}-3`,
      has_more: false,
    });
    assertMatchesSchema('ChatCompletionMessageList', body);
  });

  it('pages with after, limit and order, through the official client too', async () => {
    const created = await createWithMessages();
    const id = created.id;
    const firstPage = await (await service.request(`/v1/chat/completions/${id}/messages?limit=2&order=desc`)).json();
    expect(firstPage.data.map((m: { id: string }) => m.id)).toEqual([`${id}-4`, `${id}-3`]);
    expect([firstPage.first_id, firstPage.last_id, firstPage.has_more]).toEqual([`${id}-4`, `${id}-3`, true]);
    const next = await (await service.request(`/v1/chat/completions/${id}/messages?limit=2&order=desc&after=${id}-3`)).json();
    expect(next.data.map((m: { id: string }) => m.id)).toEqual([`${id}-2`, `${id}-1`]);
    const last = await (await service.request(`/v1/chat/completions/${id}/messages?limit=2&order=desc&after=${id}-1`)).json();
    expect(last).toMatchObject({ first_id: `${id}-0`, last_id: `${id}-0`, has_more: false });
    const end = await (await service.request(`/v1/chat/completions/${id}/messages?order=desc&after=${id}-0`)).json();
    expect(end).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });

    const seen: string[] = [];
    for await (const message of service.client().chat.completions.messages.list(id, { limit: 2 })) seen.push(message.id);
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `${id}-${i}`));
  });

  it('refuses an after that is not one of the completion message ids', async () => {
    const created = await createWithMessages();
    for (const after of [`${created.id}-9`, 'chatcmpl-other-1', `${created.id}-01`, `${created.id}-`]) {
      const res = await service.request(`/v1/chat/completions/${created.id}/messages?after=${encodeURIComponent(after)}`);
      expect(res.status, after).toBe(400);
      expect(await res.json()).toEqual({
        error: {
          message: `Invalid 'after': no message found with id '${after}' in chat completion '${created.id}'.`,
          type: 'invalid_request_error',
          param: 'after',
          code: null,
        },
      });
    }
  });

  it('returns 404 for an unknown completion', async () => {
    const res = await service.request('/v1/chat/completions/chatcmpl-nope/messages');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual(notFound('chatcmpl-nope'));
  });
});

/** Each `metadata` map of a response's text as written: a parsed object would put `"10"` first, whatever the text. */
function metadataTexts(text: string): string[] {
  return [...text.matchAll(/"metadata":(\{[^{}]*\})/g)].map((match) => match[1]!);
}

describe('metadata keys that read as integers', () => {
  // OpenAI serves a map in the order it was sent; a JavaScript object moves integer-like keys before the others.
  const written = '{"b":"1","10":"x","a":"2","2":"y"}';
  const pairs = { b: '1', 10: 'x', a: '2', 2: 'y' };
  const request = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
  const post = (path: string, body: string) =>
    service.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('keep the order the create wrote on retrieve and list, and the order the update wrote after it', async () => {
    upstream.nextIds = ['chatcmpl-order'];
    const created = await post('/v1/chat/completions', `${JSON.stringify({ ...request, store: true }).slice(0, -1)},"metadata":${written}}`);
    expect(created.status, await created.clone().text()).toBe(200);
    const requestId = created.headers.get('x-request-id')!;
    const expected = storedCompletion(fakeCompletion(request, 'chatcmpl-order', upstream.created), requestId, { metadata: pairs });

    const retrieved = await (await service.request('/v1/chat/completions/chatcmpl-order')).text();
    expect(JSON.parse(retrieved)).toEqual(expected);
    expect(metadataTexts(retrieved)).toEqual([written]);
    const listed = await (await service.request('/v1/chat/completions')).text();
    expect(JSON.parse(listed)).toEqual({ object: 'list', data: [expected], first_id: 'chatcmpl-order', last_id: 'chatcmpl-order', has_more: false });
    expect(metadataTexts(listed)).toEqual([written]);

    // A repeated key keeps its first place and takes its last value, as JSON.parse reads it.
    const updated = await (await post('/v1/chat/completions/chatcmpl-order', '{"metadata":{"z":"1","5":"x","z":"2"}}')).text();
    expect(JSON.parse(updated)).toEqual({ ...expected, metadata: { z: '2', 5: 'x' } });
    expect(metadataTexts(updated)).toEqual(['{"z":"2","5":"x"}']);
    expect(metadataTexts(await (await service.request('/v1/chat/completions/chatcmpl-order')).text())).toEqual(['{"z":"2","5":"x"}']);
  });

  it('keep the order the create wrote in the tools and response format a stored completion echoes, at any depth', async () => {
    // A strict schema's properties are answered in their order: `"2024"` after `"b"`, as the client wrote it.
    const tools = '[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"b":{"type":"string"},"2024":{"type":"object","properties":{"z":{"type":"string"},"7":{"type":"string"}}}},"required":["b","2024"]}}}]';
    const format = '{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object","properties":{"title":{"type":"string"},"1":{"type":"string"}}}}}';
    upstream.nextIds = ['chatcmpl-tools-order'];
    const body = `${JSON.stringify({ ...request, store: true }).slice(0, -1)},"tools":${tools},"response_format":${format}}`;
    const created = await post('/v1/chat/completions', body);
    expect(created.status, await created.clone().text()).toBe(200);
    const requestId = created.headers.get('x-request-id')!;
    const expected = storedCompletion(fakeCompletion(request, 'chatcmpl-tools-order', upstream.created), requestId, {
      tools: JSON.parse(tools),
      response_format: JSON.parse(format),
    });
    for (const text of [
      await (await service.request('/v1/chat/completions/chatcmpl-tools-order')).text(),
      await (await service.request('/v1/chat/completions')).text(),
    ]) {
      expect(JSON.parse(text).id ?? JSON.parse(text).data[0].id).toBe('chatcmpl-tools-order');
      expect(text).toContain(`"tools":${tools},`);
      expect(text).toContain(`"response_format":${format}`);
    }
    expect(await (await service.request('/v1/chat/completions/chatcmpl-tools-order')).json()).toEqual(expected);
  });

  it('keep the order the provider wrote in its answer: vLLM\'s prompt_logprobs, keyed by token ids', async () => {
    const logprobs = '[null,{"50":{"logprob":-1.5,"rank":2},"7":{"logprob":-0.2,"rank":1}}]';
    const answer = JSON.stringify(fakeCompletion(request, 'chatcmpl-provider-order', upstream.created)).replace(/}$/, `,"prompt_logprobs":${logprobs}}`);
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(answer);
    };
    const created = await post('/v1/chat/completions', JSON.stringify({ ...request, store: true }));
    expect(await created.text()).toBe(answer);
    const retrieved = await (await service.request('/v1/chat/completions/chatcmpl-provider-order')).text();
    expect(retrieved).toContain(`"prompt_logprobs":${logprobs}`);
    expect(JSON.parse(retrieved)).toEqual(storedCompletion(JSON.parse(answer), created.headers.get('x-request-id')!));
    // The same id answered again: the completion gets a fresh one, and its answer, written again, keeps the order too.
    const again = await (await post('/v1/chat/completions', JSON.stringify({ ...request, store: true }))).text();
    const fresh = (JSON.parse(again) as { id: string }).id;
    expect(fresh).not.toBe('chatcmpl-provider-order');
    expect(again).toBe(answer.replace('"chatcmpl-provider-order"', JSON.stringify(fresh)));
    expect(await (await service.request(`/v1/chat/completions/${fresh}`)).text()).toContain(`"prompt_logprobs":${logprobs}`);
  });

  it('keep the order a streamed answer wrote in a chunk\'s objects', async () => {
    const logprobs = '[null,{"50":{"logprob":-1.5},"7":{"logprob":-0.2}}]';
    const completion = fakeCompletion(request, 'chatcmpl-streamed-provider-order', upstream.created);
    upstream.handler = (handled, res) => {
      const includeUsage = (handled.json?.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      const sse = openSse(res);
      completionToChunks(completion, { includeUsage }).forEach((chunk, i) => {
        const text = JSON.stringify(chunk);
        sse.raw(sseEvent(i === 0 ? text.replace(/}$/, `,"prompt_logprobs":${logprobs}}`) : text));
      });
      sse.done();
    };
    const created = await post('/v1/chat/completions', JSON.stringify({ ...request, store: true, stream: true }));
    expect(created.status).toBe(200);
    expect(await created.text()).toContain(`"prompt_logprobs":${logprobs}`);
    const retrieved = await (await service.request('/v1/chat/completions/chatcmpl-streamed-provider-order')).text();
    expect(retrieved).toContain(`"prompt_logprobs":${logprobs}`);
  });

  it('keep the order a streamed create wrote', async () => {
    const completion = fakeCompletion(request, 'chatcmpl-streamed-order', upstream.created);
    upstream.handler = streamingHandler(completion);
    const created = await post('/v1/chat/completions', `${JSON.stringify({ ...request, store: true, stream: true }).slice(0, -1)},"metadata":${written}}`);
    expect(created.status).toBe(200);
    await created.text();
    const retrieved = await (await service.request('/v1/chat/completions/chatcmpl-streamed-order')).text();
    expect(metadataTexts(retrieved)).toEqual([written]);
  });
});

describe('get /v1/chat/completions with the largest metadata filter the contract allows', () => {
  // 16 pairs, 64-character keys, 512-character values: the limits apply to the list filter as to create (SPEC.md).
  // The official client percent-encodes each character, 12 bytes for one past U+FFFF, so such a filter makes a
  // request line of about 110 KB; Node's default limit on a request's head (16 KiB) refused it with a 431.
  const largestFilter = (character: string) =>
    Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [String(i).padStart(2, '0') + character.repeat(62), character.repeat(512)]),
    );

  for (const [script, character] of [
    ['spaces', ' '],
    ['accented letters', 'é'],
    ['Chinese', '日'],
    ['emoji', '😀'],
  ] as const) {
    it(`finds the completion tagged with it, in ${script}, through the official client`, async () => {
      const metadata = largestFilter(character);
      const client = service.client();
      const created = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'hi' }],
        store: true,
        metadata,
      });
      await createStored({ other: 'tag' });

      const body = await (await client.chat.completions.list({ metadata }).asResponse()).json();
      expect(body).toEqual({
        object: 'list',
        data: [await client.chat.completions.retrieve(created.id)],
        first_id: created.id,
        last_id: created.id,
        has_more: false,
      });
      assertMatchesSchema('ChatCompletionList', body);
    });
  }
});
