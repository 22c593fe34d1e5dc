import type { Transform } from 'node:stream';
import { createBrotliCompress, createDeflate, createDeflateRaw, createGzip, type Zlib } from 'node:zlib';
import { APIError, RateLimitError } from 'openai';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { completionToChunks, openSse, parseSseText, sseEvent, streamingHandler } from './helpers/fake-sse.ts';
import { holdNextCall, sendJson, startFakeUpstream, type FakeUpstream, UNREACHABLE_UPSTREAM_URL } from './helpers/fake-upstream.ts';
import { assertMatchesSchema } from './helpers/openai-schema.ts';
import { storedCompletion } from './helpers/stored-shape.ts';
import { startService, type Service, useServiceEachTest } from './helpers/service.ts';
import { FIRST_EVENT_WAIT_MS } from '../src/routes/stream-first-events.ts';

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started));

const messages = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Weather in Paris?' },
];

type Json = Record<string, unknown>;

const usage = {
  prompt_tokens: 19,
  completion_tokens: 10,
  total_tokens: 29,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};

function completion(id: string, choices: Json[], extra: Json = {}): Json {
  return {
    id,
    object: 'chat.completion',
    created: 1_700_000_100,
    model: 'gpt-4o-2024-08-06',
    choices,
    usage,
    service_tier: 'default',
    system_fingerprint: 'fp_stream',
    ...extra,
  };
}

const textChoice = (index: number, content: string): Json => ({
  index,
  message: { role: 'assistant', content, refusal: null },
  logprobs: null,
  finish_reason: 'stop',
});

const plainText = completion('chatcmpl-text', [textChoice(0, 'It is sunny in Paris, 21 degrees and a light breeze.')], {
  provider_extra: { region: 'eu' },
});

const toolCalls = completion('chatcmpl-tools', [
  {
    index: 0,
    message: {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' } },
        { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"timezone":"Europe/Paris"}' } },
      ],
    },
    logprobs: null,
    finish_reason: 'tool_calls',
  },
]);

const twoChoices = completion('chatcmpl-n2', [textChoice(0, 'Sunny, 21 degrees.'), textChoice(1, 'Clear skies and mild.')]);

const withLogprobs = completion('chatcmpl-logprobs', [
  {
    index: 0,
    message: { role: 'assistant', content: 'Sunny today', refusal: null },
    logprobs: {
      content: [
        { token: 'Sunny', logprob: -0.1, bytes: [83, 117, 110, 110, 121], top_logprobs: [] },
        { token: ' today', logprob: -0.2, bytes: [32, 116, 111, 100, 97, 121], top_logprobs: [] },
      ],
      refusal: null,
    },
    finish_reason: 'stop',
  },
]);

const refusal = completion('chatcmpl-refusal', [
  { index: 0, message: { role: 'assistant', content: null, refusal: "I'm sorry, I can't help with that." }, logprobs: null, finish_reason: 'stop' },
]);

const legacyFunctionCall = completion('chatcmpl-function', [
  {
    index: 0,
    message: { role: 'assistant', content: null, refusal: null, function_call: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    logprobs: null,
    finish_reason: 'function_call',
  },
]);

async function collect(stream: AsyncIterable<unknown>): Promise<Json[]> {
  const chunks: Json[] = [];
  for await (const chunk of stream) {
    assertMatchesSchema('CreateChatCompletionStreamResponse', chunk);
    chunks.push(chunk as Json);
  }
  return chunks;
}

async function storedCount(s: Service = service): Promise<{ n: number }> {
  return { n: await s.countRows('completions') };
}

describe('post /v1/chat/completions with stream: true', () => {
  it('streams plain text: the client sees the upstream chunks, usage hidden, and the assembled completion is stored', async () => {
    upstream.handler = streamingHandler(plainText);
    const client = service.client();
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages, stream: true, store: true, metadata: { user: 'u1' } })
      .withResponse();
    const requestId = response.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^req_[0-9a-f]{32}$/);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('x-upstream-request-id')).toBe('req_upstream_stream');

    // Exactly what a direct call without include_usage would have streamed.
    expect(await collect(stream)).toEqual(completionToChunks(plainText));
    // ...although the upstream was asked for usage.
    expect(upstream.received[0]!.json).toEqual({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } });

    const stored = await client.chat.completions.retrieve('chatcmpl-text');
    expect(stored).toEqual(storedCompletion(plainText, requestId, { metadata: { user: 'u1' } }));
    assertMatchesSchema('CreateChatCompletionResponse', stored);
  });

  it('counts a stored stream in stored_completions_written_total, as a stored create is, on either backend', async () => {
    upstream.handler = streamingHandler(plainText);
    const client = service.client();
    await collect(await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true }));
    await collect(await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true }));
    const metrics = await (await service.request('/metrics', { auth: false })).text();
    expect(metrics.split('\n').filter((line) => line.startsWith('stored_completions_written_total'))).toEqual(['stored_completions_written_total 1']);
  });

  it('passes every chunk through, usage chunk included, when the client asks for include_usage', async () => {
    upstream.handler = streamingHandler(plainText);
    const client = service.client();
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages,
      stream: true,
      store: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    expect(chunks).toEqual(completionToChunks(plainText, { includeUsage: true }));
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage });
    expect((await client.chat.completions.retrieve('chatcmpl-text')).usage).toEqual(usage);
  });

  it.each([['without choices', undefined], ['with choices: null', null]])('stores a stream whose usage chunk comes %s, hiding it from a client that asked for none', async (_, choices) => {
    upstream.handler = (request, res) => {
      const sse = openSse(res);
      for (const chunk of completionToChunks(plainText)) sse.send(chunk);
      const last: Json = { id: 'chatcmpl-text', object: 'chat.completion.chunk', created: plainText.created, model: plainText.model, usage };
      if (choices !== undefined) last.choices = choices;
      if ((request.json?.stream_options as Json | undefined)?.include_usage) sse.send(last);
      sse.done();
    };
    const client = service.client();
    // A client that asked for usage gets the chunk as OpenAI sends it, `choices: []`: the SDK iterates them.
    const asked = await collect(await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true, stream_options: { include_usage: true } }));
    expect(asked.at(-1)).toEqual({ id: 'chatcmpl-text', object: 'chat.completion.chunk', created: plainText.created, model: plainText.model, usage, choices: [] });
    expect((await client.chat.completions.retrieve('chatcmpl-text')).usage).toEqual(usage);
    // One that did not sees none of it (this stream is stored under a fresh id: the provider's is taken).
    const unasked = await collect(await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true }));
    expect(unasked.map(({ id, ...chunk }) => chunk)).toEqual(completionToChunks(plainText).map(({ id, ...chunk }) => chunk));
    expect((await client.chat.completions.retrieve(unasked[0]!.id as string)).usage).toEqual(usage);
  });

  it("ends a stored stream with a plain data: [DONE] when the provider's is padded with spaces, which the SDKs would raise on", async () => {
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      for (const chunk of completionToChunks(plainText)) sse.send(chunk);
      sse.raw('data:  [DONE] \n\n');
      res.end();
    };
    const client = service.client();
    expect(await collect(await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true }))).toEqual(completionToChunks(plainText));
    expect((await client.chat.completions.retrieve('chatcmpl-text')).id).toBe('chatcmpl-text');
  });

  it('merges tool calls split across many deltas', async () => {
    upstream.handler = streamingHandler(toolCalls, { pieceLength: 2 });
    const client = service.client();
    const chunks = await collect(await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true }));
    expect(chunks.length).toBeGreaterThan(20);
    expect(chunks).toEqual(completionToChunks(toolCalls, { pieceLength: 2 }));
    const stored = await client.chat.completions.retrieve('chatcmpl-tools');
    expect(stored.choices).toEqual(toolCalls.choices);
    expect(stored.usage).toEqual(usage);
  });

  it('stores every choice of n: 2, interleaved in the stream', async () => {
    upstream.handler = streamingHandler(twoChoices);
    const client = service.client();
    const chunks = await collect(await client.chat.completions.create({ model: 'gpt-4o', messages, n: 2, stream: true, store: true }));
    expect(chunks.map((c) => (c.choices as { index: number }[])[0]!.index).slice(0, 4)).toEqual([0, 1, 0, 1]);
    const stored = await client.chat.completions.retrieve('chatcmpl-n2');
    expect(stored.choices).toEqual(twoChoices.choices);
  });

  for (const [name, upstreamCompletion] of Object.entries({ plainText, toolCalls, twoChoices, withLogprobs, refusal, legacyFunctionCall })) {
    it(`stores the same completion as a non-streamed call would (${name})`, async () => {
      // Two keys, two projects: the same upstream id is free in each.
      upstream.handler = (request, res) =>
        request.json?.stream === true ? streamingHandler(upstreamCompletion, { pieceLength: 3 })(request, res) : sendJson(res, 200, upstreamCompletion);
      const plainClient = service.client('sk-plain-0000001');
      const streamClient = service.client('sk-stream-000001');
      const params = { model: 'gpt-4o', messages, store: true, metadata: { case: name }, temperature: 0.2 };
      await plainClient.chat.completions.create(params);
      await collect(await streamClient.chat.completions.create({ ...params, stream: true }));

      const id = upstreamCompletion.id as string;
      const { request_id: _plainRequestId, ...plainStored } = await plainClient.chat.completions.retrieve(id) as unknown as Json;
      const { request_id: _streamRequestId, ...streamStored } = await streamClient.chat.completions.retrieve(id) as unknown as Json;
      expect(streamStored).toEqual(plainStored);
      // Byte for byte in content, not only in meaning.
      const raw = (s: string) => service.request(`/v1/chat/completions/${id}`, { key: s }).then((r) => r.text());
      expect((await raw('sk-stream-000001')).replace(/req_[0-9a-f]{32}/, 'REQ')).toBe((await raw('sk-plain-0000001')).replace(/req_[0-9a-f]{32}/, 'REQ'));
    });
  }

  describe("stores what a provider's unstreamed answer has, from its own stream's shape", () => {
    const safe = { filtered: false, severity: 'safe' };
    const filtered = { hate: safe, self_harm: safe, sexual: safe, violence: safe };
    const azureBase = { created: 1_700_000_100, id: 'chatcmpl-azure', model: 'gpt-4o-2024-08-06', object: 'chat.completion.chunk', system_fingerprint: 'fp_azure' };
    const vllmBase = { id: 'chatcmpl-vllm', object: 'chat.completion.chunk', created: 1_700_000_100, model: 'meta-llama/Llama-3.1-8B-Instruct' };
    const openRouterBase = { id: 'gen-1700000100-abcdEFGH', provider: 'Anthropic', model: 'anthropic/claude-sonnet-4', object: 'chat.completion.chunk', created: 1_700_000_100 };
    const thinking = (text: string, extra: Json = {}) => [{ type: 'reasoning.text', text, format: 'anthropic-claude-v1', index: 0, ...extra }];
    const openRouterDelta = (delta: Json, finish: string | null = null): Json => ({
      ...openRouterBase,
      choices: [{ index: 0, delta: { role: 'assistant', content: '', ...delta }, finish_reason: finish, native_finish_reason: finish === null ? null : 'end_turn', logprobs: null }],
    });
    const shapes: [string, (Json | string)[], Json][] = [
      [
        // OpenRouter: comments while it waits, the reasoning streamed both as `reasoning` and as pieces of
        // `reasoning_details` entries (the signature last), usage on a chunk after the one that finishes.
        'OpenRouter',
        [
          ': OPENROUTER PROCESSING\n\n',
          openRouterDelta({ reasoning: 'Let me', reasoning_details: thinking('Let me') }),
          openRouterDelta({ reasoning: ' think.', reasoning_details: thinking(' think.') }),
          openRouterDelta({ reasoning: null, reasoning_details: thinking('', { signature: 'sig123' }) }),
          openRouterDelta({ content: 'Four.', reasoning_details: [] }),
          openRouterDelta({}, 'stop'),
          { ...openRouterDelta({}), usage },
        ],
        {
          id: 'gen-1700000100-abcdEFGH',
          object: 'chat.completion',
          created: 1_700_000_100,
          model: 'anthropic/claude-sonnet-4',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'Four.', refusal: null, reasoning: 'Let me think.', reasoning_details: thinking('Let me think.', { signature: 'sig123' }) },
              logprobs: null,
              finish_reason: 'stop',
              native_finish_reason: 'end_turn',
            },
          ],
          usage,
          provider: 'Anthropic',
        },
      ],
      [
        // Azure OpenAI: a first chunk without choices or id for the prompt's filter results, each choice chunk with its
        // own filter results, `{}` on the chunks that carry no text.
        'Azure',
        [
          { choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: [{ prompt_index: 0, content_filter_results: filtered }] },
          { choices: [{ content_filter_results: {}, delta: { content: '', refusal: null, role: 'assistant' }, finish_reason: null, index: 0, logprobs: null }], ...azureBase },
          { choices: [{ content_filter_results: filtered, delta: { content: 'Hello' }, finish_reason: null, index: 0, logprobs: null }], ...azureBase },
          { choices: [{ content_filter_results: filtered, delta: { content: ' there' }, finish_reason: null, index: 0, logprobs: null }], ...azureBase },
          { choices: [{ content_filter_results: {}, delta: {}, finish_reason: 'stop', index: 0, logprobs: null }], ...azureBase },
          { choices: [], ...azureBase, usage },
        ],
        {
          id: 'chatcmpl-azure',
          object: 'chat.completion',
          created: 1_700_000_100,
          model: 'gpt-4o-2024-08-06',
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there', refusal: null }, logprobs: null, finish_reason: 'stop', content_filter_results: filtered }],
          usage,
          system_fingerprint: 'fp_azure',
          prompt_filter_results: [{ prompt_index: 0, content_filter_results: filtered }],
        },
      ],
      [
        // vLLM asked for `return_token_ids`: each chunk's choice carries the tokens of its delta.
        'vLLM',
        [
          { ...vllmBase, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], prompt_token_ids: [1, 2, 3] },
          { ...vllmBase, choices: [{ index: 0, delta: { content: 'Hi' }, logprobs: null, finish_reason: null, token_ids: [101] }] },
          { ...vllmBase, choices: [{ index: 0, delta: { content: ' you' }, logprobs: null, finish_reason: null, token_ids: [102] }] },
          // `stop_reason: null`: stopped at the end of text, not at a stop string or token (its unstreamed choice says so too).
          { ...vllmBase, choices: [{ index: 0, delta: { content: '' }, logprobs: null, finish_reason: 'stop', stop_reason: null, token_ids: [128009] }] },
          { ...vllmBase, choices: [], usage },
        ],
        {
          id: 'chatcmpl-vllm',
          object: 'chat.completion',
          created: 1_700_000_100,
          model: 'meta-llama/Llama-3.1-8B-Instruct',
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hi you', refusal: null }, logprobs: null, finish_reason: 'stop', token_ids: [101, 102, 128009], stop_reason: null }],
          usage,
          prompt_token_ids: [1, 2, 3],
        },
      ],
    ];
    for (const [provider, chunks, unstreamed] of shapes) {
      it(provider, async () => {
        upstream.handler = (_request, res) => {
          const sse = openSse(res);
          for (const chunk of chunks) if (typeof chunk === 'string') sse.raw(chunk); else sse.send(chunk);
          sse.done();
        };
        const client = service.client();
        const received: Json[] = [];
        // Not checked against OpenAI's schema: Azure's first chunk is not one OpenAI sends.
        for await (const chunk of await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true })) received.push(chunk as unknown as Json);
        // The id is decided at the first chunk: Azure's is empty, so the completion is stored under a fresh one.
        const id = received[0]!.id as string;
        expect(received.map((chunk) => chunk.id)).toEqual(received.map(() => id));
        const stored = (await client.chat.completions.retrieve(id)) as unknown as Json;
        expect(stored).toEqual(storedCompletion({ ...unstreamed, id }, stored.request_id as string));
      });
    }
  });

  it('gives a fresh id, in every chunk, when the upstream id is already stored', async () => {
    upstream.handler = streamingHandler(plainText);
    const client = service.client();
    await collect(await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true, metadata: { n: '1' } }));
    const second = await collect(await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true, metadata: { n: '2' } }));
    const freshId = second[0]!.id as string;
    expect(freshId).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
    expect(second).toEqual(completionToChunks(plainText).map((chunk) => ({ ...chunk, id: freshId })));
    expect((await client.chat.completions.retrieve('chatcmpl-text')).metadata).toEqual({ n: '1' });
    expect((await client.chat.completions.retrieve(freshId)).metadata).toEqual({ n: '2' });
  });

  it('gives a fresh id to the second of two concurrent streams with the same upstream id', async () => {
    const chunks = completionToChunks(plainText);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    upstream.handler = async (_request, res) => {
      const sse = openSse(res);
      sse.send(chunks[0]);
      await gate;
      for (const chunk of chunks.slice(1)) sse.send(chunk);
      sse.done();
    };
    const client = service.client();
    const first = (await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true }))[Symbol.asyncIterator]();
    const second = (await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true }))[Symbol.asyncIterator]();
    const firstId = (await first.next()).value!.id;
    const secondId = (await second.next()).value!.id;
    expect(firstId).toBe('chatcmpl-text');
    expect(secondId).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
    release();
    for (let r = await first.next(); !r.done; r = await first.next()) expect(r.value.id).toBe(firstId);
    for (let r = await second.next(); !r.done; r = await second.next()) expect(r.value.id).toBe(secondId);
    const stored = await client.chat.completions.list();
    expect(stored.data.map((c) => c.id).sort()).toEqual([firstId, secondId].sort());
  });

  describe('a stored stream whose first chunk is slow to come', () => {
    /** Reads a raw response's body until `text` has arrived; returns all read so far. */
    async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, text: string, sofar = ''): Promise<string> {
      const decoder = new TextDecoder();
      while (!sofar.includes(text)) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`the body ended before ${JSON.stringify(text)}: ${JSON.stringify(sofar)}`);
        sofar += decoder.decode(value, { stream: true });
      }
      return sofar;
    }

    const streamRequest = () =>
      service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true, metadata: { slow: 'yes' } }),
      });

    it("begins the answer at the provider's first keep-alive and relays each as it comes, then stores the completion", async () => {
      const chunks = completionToChunks(plainText);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      upstream.handler = async (_request, res) => {
        const sse = openSse(res);
        sse.raw(': PROCESSING\n\n');
        // The provider works on: the client must have had its answer begun, and this keep-alive, meanwhile.
        await gate;
        sse.raw(': PROCESSING\n\n');
        for (const chunk of completionToChunks(plainText, { includeUsage: true })) sse.send(chunk);
        sse.done();
      };
      const res = await streamRequest();
      expect(res.status).toBe(200);
      const requestId = res.headers.get('x-request-id')!;
      const reader = res.body!.getReader();
      expect(await readUntil(reader, ': PROCESSING\n\n')).toBe(': PROCESSING\n\n');
      release();
      let rest = '';
      const decoder = new TextDecoder();
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest += decoder.decode(r.value, { stream: true });
      expect(rest).toBe(': PROCESSING\n\n' + chunks.map((chunk) => sseEvent(chunk)).join('') + sseEvent('[DONE]'));
      const stored = await service.client().chat.completions.retrieve('chatcmpl-text');
      expect(stored).toEqual(storedCompletion(plainText, requestId, { metadata: { slow: 'yes' } }));
    });

    it(`begins the answer after ${FIRST_EVENT_WAIT_MS} ms of silence, and still gives a fresh id when the upstream's is taken`, async () => {
      upstream.handler = streamingHandler(plainText);
      const client = service.client();
      await collect(await client.chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true, metadata: { n: '1' } }));
      const chunks = completionToChunks(plainText);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      upstream.handler = async (_request, res) => {
        const sse = openSse(res);
        await gate;
        for (const chunk of completionToChunks(plainText, { includeUsage: true })) sse.send(chunk);
        sse.done();
      };
      // Headers before any event: the provider is still silent, and stays so until they have arrived.
      const res = await streamRequest();
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      release();
      const events = parseSseText(await res.text());
      const freshId = (JSON.parse(events[0]!) as Json).id as string;
      expect(freshId).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
      expect(events).toEqual([...chunks.map((chunk) => JSON.stringify({ ...chunk, id: freshId })), '[DONE]']);
      expect((await client.chat.completions.retrieve(freshId)).metadata).toEqual({ slow: 'yes' });
      expect((await client.chat.completions.retrieve('chatcmpl-text')).metadata).toEqual({ n: '1' });
    });

    it('ends an answer begun by a keep-alive with an error event when no chunk follows, and stores nothing', async () => {
      upstream.handler = (_request, res) => {
        const sse = openSse(res);
        sse.raw(': keep-alive\n\n');
        setTimeout(() => sse.done(), 50);
      };
      const res = await streamRequest();
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(
        ': keep-alive\n\n' +
          sseEvent({
            error: {
              message: 'The upstream provider ended the stream without sending a chunk; nothing was stored.',
              type: 'server_error',
              param: null,
              code: null,
            },
          }),
      );
      expect(await storedCount()).toEqual({ n: 0 });
    });
  });

  it("hides the running usage a provider puts on the chunks that finish nothing from a client that asked for none, keeping each event's other lines", async () => {
    // Some providers, asked for usage, send the running totals on content chunks (from the first or from a later
    // one, after a usage-only chunk even) and no usage-only chunk at the end. The chunk that finishes keeps its usage.
    const last = completionToChunks(plainText).length - 1;
    const running = (i: number) => ({ prompt_tokens: 19, completion_tokens: i + 1, total_tokens: 20 + i });
    const event = (data: string) => `: tick\r\nevent: message\r\nid: 7\r\ndata: ${data}\r\n\r\n`;
    const shapes: [string, (i: number) => boolean, boolean][] = [
      ['from the first chunk', () => true, false],
      ['from the second chunk', (i) => i > 0, false],
      ['after a usage-only chunk', () => true, true],
    ];
    for (const [k, [shape, hasUsage, usageFirst]] of shapes.entries()) {
      // Each shape its own id (a deleted one would be taken).
      const chunks = completionToChunks({ ...plainText, id: `chatcmpl-shape-${k}` });
      upstream.handler = (_request, res) => {
        const sse = openSse(res);
        if (usageFirst) sse.raw(event(JSON.stringify({ ...chunks[0]!, choices: [], usage: running(0) })));
        chunks.forEach((chunk, i) => sse.raw(event(JSON.stringify(hasUsage(i) ? { ...chunk, usage: running(i) } : chunk))));
        sse.done();
      };
      const res = await service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
      });
      const expected = chunks.map((chunk, i) => event(JSON.stringify(i === last ? { ...chunk, usage: running(last) } : chunk))).join('');
      expect(await res.text(), shape).toBe(expected + sseEvent('[DONE]'));
      const stored = await service.client().chat.completions.retrieve(`chatcmpl-shape-${k}`);
      expect(stored.usage, shape).toEqual(running(last));
    }
  });

  it('shows unasked usage at most once, on the chunk that finishes the last choice: not where one of two choices ends, nor where "" is the finish reason', async () => {
    const base = { id: 'chatcmpl-two', object: 'chat.completion.chunk', created: 1_700_000_100, model: 'gpt-4o-2024-08-06' };
    const running = (n: number) => ({ prompt_tokens: 19, completion_tokens: n, total_tokens: 19 + n });
    const sent = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'A' }, finish_reason: '' }, { index: 1, delta: { role: 'assistant', content: 'B' }, finish_reason: '' }], usage: running(2) },
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: running(3) },
      { ...base, choices: [{ index: 1, delta: { content: 'b' }, finish_reason: '' }], usage: running(4) },
      { ...base, choices: [{ index: 1, delta: {}, finish_reason: 'length' }], usage: running(5) },
      { ...base, choices: [{ index: 1, delta: {}, finish_reason: 'length' }], usage: running(5) },
      // After every choice finished, a chunk that finishes nothing: its usage is not the finishing one.
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: null }], usage: running(5) },
    ];
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      for (const chunk of sent) sse.send(chunk);
      sse.done();
    };
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
    });
    const received = parseSseText(await res.text());
    expect(received.pop()).toBe('[DONE]');
    expect(received.map((data) => (JSON.parse(data) as Json).usage ?? 'none')).toEqual(['none', 'none', 'none', running(5), 'none', 'none']);

    // The finish with `usage: null`, then a chunk that finishes nothing with the usage the proxy asked for.
    const one = { ...base, id: 'chatcmpl-one' };
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      sse.send({ ...one, choices: [{ index: 0, delta: { role: 'assistant', content: 'A' }, finish_reason: null }], usage: null });
      sse.send({ ...one, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null });
      sse.send({ ...one, choices: [{ index: 0, delta: {}, finish_reason: null }], usage: running(1) });
      sse.done();
    };
    const trailing = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
    });
    expect(parseSseText(await trailing.text()).map((data) => (data === '[DONE]' ? data : ((JSON.parse(data) as Json).usage ?? 'none')))).toEqual(['none', 'none', 'none', '[DONE]']);
  });

  it('takes an `event: error` without data for the provider\'s error, first or midway, storing nothing, rather than passing it by as a keep-alive', async () => {
    for (const before of [0, 1]) {
      upstream.handler = (_request, res) => {
        const sse = openSse(res);
        for (const chunk of completionToChunks(plainText).slice(0, before)) sse.send(chunk);
        sse.raw('event: error\n\n');
        for (const chunk of completionToChunks(plainText).slice(before)) sse.send(chunk);
        sse.done();
      };
      const failure = await collect(await service.client().chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true })).catch((err: unknown) => err);
      expect((failure as APIError).error, `after ${before} chunks`).toEqual({ message: 'The upstream provider sent an error event without a message.', type: 'server_error', param: null, code: null });
      expect(await storedCount()).toEqual({ n: 0 });
    }
  });

  it('keeps the usage a provider puts on its last chunk unasked, as the client would have had it from that provider', async () => {
    const chunks = completionToChunks(plainText);
    const last = { ...chunks.at(-1)!, usage };
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      chunks.slice(0, -1).forEach((chunk) => sse.send({ ...chunk, usage: null }));
      sse.send(last);
      sse.done();
    };
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
    });
    expect(parseSseText(await res.text())).toEqual([...chunks.slice(0, -1), last].map((chunk) => JSON.stringify(chunk)).concat('[DONE]'));
    expect((await service.client().chat.completions.retrieve('chatcmpl-text')).usage).toEqual(usage);
  });

  it("gives every chunk the id the completion is stored under when the provider's chunks carry different ones", async () => {
    const chunks = completionToChunks(plainText);
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      chunks.forEach((chunk, i) => sse.send({ ...chunk, id: `chatcmpl-text_${i}` }));
      sse.done();
    };
    const client = service.client();
    const stream = client.chat.completions.stream({ model: 'gpt-4o', messages, store: true });
    const final = await stream.finalChatCompletion();
    expect(final.id).toBe('chatcmpl-text_0');
    expect((await client.chat.completions.retrieve(final.id)).choices[0]!.message.content).toBe('It is sunny in Paris, 21 degrees and a light breeze.');
  });

  it("relays a provider's `event: error` as the error the SDK raises, first or midway, after one call, storing nothing", async () => {
    for (const before of [0, 2]) {
      upstream.received.length = 0;
      upstream.handler = (_request, res) => {
        const sse = openSse(res);
        completionToChunks(plainText).slice(0, before).forEach((chunk) => sse.send(chunk));
        sse.raw('event: error\ndata: {"message":"Overloaded","code":529}\n\n');
        res.end();
      };
      const failure = await collect(await service.client().chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true })).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(APIError);
      expect((failure as APIError).message).toBe('Overloaded');
      expect((failure as APIError).error).toEqual({ message: 'Overloaded', type: 'server_error', param: null, code: null });
      expect(upstream.received).toHaveLength(1);
      expect(await storedCount()).toEqual({ n: 0 });
    }
    // An error event with nothing in it is said so, not given a status the provider (which answered 200) never sent.
    upstream.handler = (_request, res) => {
      openSse(res).raw('event: error\ndata:\n\n');
      res.end();
    };
    const failure = await collect(await service.client().chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true })).catch((err: unknown) => err);
    expect((failure as APIError).error).toEqual({ message: 'The upstream provider sent an error event without a message.', type: 'server_error', param: null, code: null });
  });

  it('does not ask twice when a rate limit or server error only echoes stream_options back', async () => {
    for (const status of [429, 500]) {
      upstream.received.length = 0;
      upstream.handler = (request, res) =>
        sendJson(res, status, { error: { message: `Busy; request was ${JSON.stringify(request.json)}`, type: 'rate_limit_error', param: null, code: null } });
      const res = await service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
      });
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('stream_options');
      expect(upstream.received).toHaveLength(1);
    }
  });

  it('forwards an unstored stream untouched and does not ask for usage', async () => {
    upstream.handler = streamingHandler(plainText);
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream: true }),
    });
    expect(res.status).toBe(200);
    const expected = completionToChunks(plainText).map(sseEvent).join('') + sseEvent('[DONE]');
    expect(await res.text()).toBe(expected);
    expect(upstream.received[0]!.json).toEqual({ model: 'gpt-4o', messages, stream: true });
    expect(await storedCount()).toEqual({ n: 0 });
  });

  it('hands on a JSON answer from a provider that ignored stream: true, and stores it when asked to', async () => {
    upstream.handler = (_request, res) => sendJson(res, 200, plainText);
    const request = (store: boolean) =>
      service.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store }),
      });
    const unstored = await request(false);
    expect(unstored.status).toBe(200);
    expect(await unstored.json()).toEqual(plainText);
    expect(await storedCount()).toEqual({ n: 0 });

    const stored = await request(true);
    expect(stored.status).toBe(200);
    expect(await stored.json()).toEqual(plainText);
    expect(await storedCount()).toEqual({ n: 1 });
    expect((await service.client().chat.completions.retrieve('chatcmpl-text')).choices).toEqual(plainText.choices);
  });

  it('aborts the upstream request when the client goes away mid-stream, and stores nothing', async () => {
    let upstreamClosed: Promise<{ finished: boolean }> | undefined;
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      upstreamClosed = sse.closed;
      sse.send(completionToChunks(plainText)[0]);
      // ...and nothing more until the connection goes.
    };
    const stream = await service.client().chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true });
    for await (const chunk of stream) {
      expect(chunk.id).toBe('chatcmpl-text');
      break; // The SDK aborts the request.
    }
    expect(await upstreamClosed).toEqual({ finished: false });
    expect(await storedCount()).toEqual({ n: 0 });
  });

  it('aborts the upstream request when the client goes away before the stream starts, and stores nothing', async () => {
    // Never answers: only the proxy closing the connection ends this call.
    const held = holdNextCall(upstream);
    const client = new AbortController();
    const response = service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
      signal: client.signal,
    });
    await held.arrived;
    client.abort();
    await expect(response).rejects.toThrow();
    expect(await held.closedUnanswered).toBe(true);
    expect(await storedCount()).toEqual({ n: 0 });
  });

  it('ends the client stream with an error when the upstream drops the connection, and stores nothing', async () => {
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      for (const chunk of completionToChunks(plainText).slice(0, 3)) sse.send(chunk);
      // Once those bytes are on the wire, the connection goes without a proper end.
      res.write('', () => res.destroy());
    };
    const stream = await service.client().chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true });
    const seen: unknown[] = [];
    const error = await (async () => {
      try {
        for await (const chunk of stream) seen.push(chunk);
      } catch (err) {
        return err;
      }
    })();
    expect(seen).toEqual(completionToChunks(plainText).slice(0, 3));
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).error).toEqual({
      message: 'The upstream provider closed the connection before the stream finished.',
      type: 'server_error',
      param: null,
      code: null,
    });
    expect(await storedCount()).toEqual({ n: 0 });
  });

  it('ends with an error when the upstream closes cleanly without [DONE]', async () => {
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      sse.send(completionToChunks(plainText)[0]);
      res.end();
    };
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
    });
    expect(parseSseText(await res.text()).map((d) => JSON.parse(d))).toEqual([
      completionToChunks(plainText)[0],
      { error: { message: 'The upstream provider ended the stream before it finished.', type: 'server_error', param: null, code: null } },
    ]);
    expect(await storedCount()).toEqual({ n: 0 });
  });

  it('asks again without stream_options when the provider refuses the usage it did not ask for, and still stores', async () => {
    const stream = streamingHandler(plainText);
    upstream.handler = (request, res) => {
      if (request.json?.stream_options !== undefined) {
        return sendJson(res, 400, { object: 'error', message: "Unrecognized request argument supplied: stream_options", type: 'BadRequestError', param: null, code: 400 });
      }
      return stream(request, res);
    };
    const chunks = [];
    for await (const chunk of await service.client().chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true })) {
      chunks.push(chunk);
    }
    expect(chunks).toEqual(completionToChunks(plainText));
    expect(upstream.received.map((r) => r.json?.stream_options)).toEqual([{ include_usage: true }, undefined]);
    const stored = await service.client().chat.completions.retrieve('chatcmpl-text');
    expect(stored.choices[0]!.message.content).toBe('It is sunny in Paris, 21 degrees and a light breeze.');
    expect(stored.usage).toBeUndefined();
  });

  it("refuses a stored stream's include_usage that is no boolean as OpenAI does, and sends an unstored one upstream as it came", async () => {
    const stream = streamingHandler(plainText);
    // As OpenAI checks the type.
    upstream.handler = (request, res) => {
      const options = request.json?.stream_options as Json | undefined;
      if (options !== undefined && typeof options.include_usage !== 'boolean') {
        return sendJson(res, 400, {
          error: { message: "Invalid type for 'stream_options.include_usage': expected a boolean, but got a string instead.", type: 'invalid_request_error', param: 'stream_options.include_usage', code: 'invalid_type' },
        });
      }
      return stream(request, res);
    };
    const refusal = {
      error: { message: "Invalid type for 'stream_options.include_usage': expected a boolean, but got a string instead.", type: 'invalid_request_error', param: 'stream_options.include_usage', code: 'invalid_type' },
    };
    for (const store of [false, true]) {
      const res = await service.request('/v1/chat/completions', {
        method: 'POST',
        body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store, stream_options: { include_usage: 'yes' } }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual(refusal);
    }
    // The stored one never reached the provider: one asked to add usage to it could not, and one that took it would store no usage.
    expect(upstream.received.map((r) => r.json?.stream_options)).toEqual([{ include_usage: 'yes' }]);
    expect(await storedCount()).toEqual({ n: 0 });
  });

  it('passes any other error of a stored stream through after one upstream call', async () => {
    upstream.handler = (_request, res) => sendJson(res, 404, { error: { message: 'The model does not exist', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } });
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-nope', messages, stream: true, store: true }),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message: 'The model does not exist', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } });
    expect(upstream.received).toHaveLength(1);
    expect(await storedCount()).toEqual({ n: 0 });
  });

  it('ends a stored stream with a vLLM-style error object put in OpenAI’s shape, stores nothing, and drops the [DONE] that follows', async () => {
    const errorData = '{"object":"error","message":"CUDA out of memory","type":"InternalServerError","param":null,"code":500}';
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      sse.send(completionToChunks(plainText)[0]);
      sse.raw(`data: ${errorData}\n\n`);
      sse.done();
    };
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
    });
    expect(parseSseText(await res.text())).toEqual([
      JSON.stringify(completionToChunks(plainText)[0]),
      '{"error":{"message":"CUDA out of memory","type":"server_error","param":null,"code":null}}',
    ]);
    expect(await storedCount()).toEqual({ n: 0 });
  });

  for (const [name, ending] of [
    ['a final [DONE] without its blank line', '\n'],
    ['only carriage returns as line ends', '\r'],
  ] as const) {
    it(`stores a stream that ends with ${name}`, async () => {
      upstream.handler = (_request, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const eol = ending === '\r' ? '\r' : '\n';
        for (const chunk of completionToChunks(plainText, { includeUsage: true })) res.write(`data: ${JSON.stringify(chunk)}${eol}${eol}`);
        res.end(ending === '\r' ? 'data: [DONE]\r\r' : 'data: [DONE]\n');
      };
      const chunks = await collect(await service.client().chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true }));
      expect(chunks).toEqual(completionToChunks(plainText));
      expect(await storedCount()).toEqual({ n: 1 });
    });
  }

  it("stores a stream's integers past 2^53 as the provider wrote them, in its choices' deltas too", async () => {
    const traced = (chunk: unknown) =>
      JSON.stringify(chunk)
        .replace('"object"', '"trace_id":18446744073709551615,"object"')
        .replace(/"delta":\{(?=.)/, (open) => `${open}"span":98765432109876543211,`)
        .replace('"span":98765432109876543211,}', '"span":98765432109876543211}');
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const chunk of completionToChunks(plainText)) res.write(`data: ${traced(chunk)}\n\n`);
      res.end('data: [DONE]\n\n');
    };
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
    });
    expect(parseSseText(await res.text())).toEqual([...completionToChunks(plainText).map(traced), '[DONE]']);
    const stored = await service.request('/v1/chat/completions/chatcmpl-text');
    expect(stored.status).toBe(200);
    const text = await stored.text();
    expect(text).toContain('"trace_id":18446744073709551615');
    expect(text).toContain('"span":98765432109876543211');
  });

  it('relays an unstored stream that ends without [DONE] as the upstream ended it', async () => {
    const sent = `data: ${JSON.stringify(completionToChunks(plainText)[0])}\n\n`;
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      sse.raw(sent);
      res.end();
    };
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream: true }),
    });
    expect(await res.text()).toBe(sent);
    expect(await storedCount()).toEqual({ n: 0 });
  });

  it('passes a mid-stream error event on, byte for byte, and stores nothing', async () => {
    const errorData = '{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}';
    upstream.handler = (_request, res) => {
      const sse = openSse(res);
      sse.send(completionToChunks(plainText)[0]);
      sse.raw(`data: ${errorData}\n\n`);
      res.end();
    };
    const stream = await service.client().chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true });
    await expect(collect(stream)).rejects.toThrow('The server had an error while processing your request.');

    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true, stream_options: { include_usage: true } }),
    });
    expect(await res.text()).toBe(sseEvent(completionToChunks(plainText)[0]) + `data: ${errorData}\n\n`);
    expect(await storedCount()).toEqual({ n: 0 });
  });

  it('passes an upstream 429 before the stream through, and stores nothing', async () => {
    const body = { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } };
    upstream.handler = (_request, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' });
      res.end(JSON.stringify(body));
    };
    const error = await service
      .client()
      .chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).status).toBe(429);
    expect((error as RateLimitError).error).toEqual(body.error);
    expect((error as RateLimitError).headers?.get('retry-after')).toBe('2');
    expect(await storedCount()).toEqual({ n: 0 });
  });

  it('answers 502 when the upstream cannot be reached', async () => {
    const unreachable = await startService({ upstreamUrl: UNREACHABLE_UPSTREAM_URL });
    try {
      const res = await unreachable.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
      });
      expect(res.status).toBe(502);
      expect(await res.json()).toEqual({
        error: { message: 'Could not reach the upstream provider (ECONNREFUSED).', type: 'server_error', param: null, code: null },
      });
      expect(await storedCount(unreachable)).toEqual({ n: 0 });
    } finally {
      await unreachable.close();
    }
  });

  describe('with UPSTREAM_TIMEOUT_MS', () => {
    let impatient: Service;
    // The service runs in this process: compiling OpenAI's schemas at the first chunk checked would hold the event
    // loop past the timeout (seen under load), and the service's timer would fire before the chunks waiting behind it.
    beforeAll(() => assertMatchesSchema('CreateChatCompletionStreamResponse', completionToChunks(plainText)[0]));
    beforeEach(async () => {
      impatient = await startService({ upstreamUrl: upstream.url, env: { UPSTREAM_TIMEOUT_MS: '150' } });
    });
    afterEach(async () => {
      await impatient.close();
    });

    it('answers 504 when the upstream sends no headers in time', async () => {
      upstream.handler = () => {
        // Never answers.
      };
      const res = await impatient.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
      });
      expect(res.status).toBe(504);
      expect(await res.json()).toEqual({
        error: { message: 'The upstream provider did not answer in time.', type: 'server_error', param: null, code: null },
      });
      expect(await storedCount(impatient)).toEqual({ n: 0 });
    });

    it('ends the stream with an error when the upstream goes silent between chunks, and closes the upstream', async () => {
      let upstreamClosed: Promise<{ finished: boolean }> | undefined;
      upstream.handler = (_request, res) => {
        const sse = openSse(res);
        upstreamClosed = sse.closed;
        sse.send(completionToChunks(plainText)[0]);
      };
      const stream = await impatient.client().chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true });
      await expect(collect(stream)).rejects.toThrow('The upstream provider sent nothing for 150 ms.');
      expect(await upstreamClosed).toEqual({ finished: false });
      expect(await storedCount(impatient)).toEqual({ n: 0 });
    });

    for (const store of [true, false]) {
      it(`ends ${store ? 'a stored' : 'an unstored'} stream at [DONE] when the upstream holds its connection open after it, and closes that connection later`, async () => {
        let upstreamClosed: Promise<{ finished: boolean }> | undefined;
        const sent = completionToChunks(plainText).map(sseEvent).join('') + sseEvent('[DONE]');
        upstream.handler = (_request, res) => {
          const sse = openSse(res);
          upstreamClosed = sse.closed;
          sse.raw(sent);
          // ...and never ends the response.
        };
        const res = await impatient.request('/v1/chat/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store }),
        });
        expect(res.status).toBe(200);
        const text = await res.text();
        expect(parseSseText(text)).toEqual(parseSseText(sent));
        expect(await upstreamClosed).toEqual({ finished: false });
        expect(await storedCount(impatient)).toEqual({ n: store ? 1 : 0 });
      });
    }

    it('lets a stream run longer than the timeout as long as chunks keep coming', async () => {
      // A timeout of its own, wider than the others': the gaps between chunks must stay under it on a loaded
      // machine (150 ms was crossed under load), while the whole stream (28 chunks, 30 ms apart) runs twice as long.
      const patient = await startService({ upstreamUrl: upstream.url, env: { UPSTREAM_TIMEOUT_MS: '400' } });
      try {
        const sent = completionToChunks(plainText, { pieceLength: 2 });
        upstream.handler = async (_request, res) => {
          const sse = openSse(res);
          for (const chunk of sent) {
            sse.send(chunk);
            await new Promise((resolve) => setTimeout(resolve, 30));
          }
          sse.done();
        };
        const startedAt = performance.now();
        const chunks = await collect(await patient.client().chat.completions.create({ model: 'gpt-4o', messages, stream: true, store: true }));
        expect(performance.now() - startedAt).toBeGreaterThan(400);
        expect(chunks).toEqual(sent);
        expect(await storedCount(patient)).toEqual({ n: 1 });
      } finally {
        await patient.close();
      }
    });
  });
});

describe('a provider that compresses its stream though the proxy asked for no encoding', () => {
  const encoders: [name: string, coding: string, encoder: () => Transform & Zlib][] = [
    ['gzip', 'gzip', () => createGzip()],
    ['br', 'br', () => createBrotliCompress()],
    ['deflate', 'deflate', () => createDeflate()],
    ['deflate without its zlib header', 'deflate', () => createDeflateRaw()],
  ];

  for (const [name, coding, encoder] of encoders) {
    it(`${name}: each event reaches the client decoded as it arrives, without Content-Encoding, and the completion is stored`, async () => {
      let sendRest!: () => void;
      upstream.handler = (_request, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'content-encoding': coding });
        const packer = encoder();
        packer.pipe(res);
        const events = completionToChunks(plainText, { includeUsage: true }).map(sseEvent);
        // The first event flushed on its own: the rest waits until the client has it.
        packer.write(events[0]);
        packer.flush();
        sendRest = () => packer.end(events.slice(1).join('') + sseEvent('[DONE]'));
      };
      const { data: stream, response } = await service.client().chat.completions
        .create({ model: 'gpt-4o', messages, stream: true, store: true })
        .withResponse();
      expect(response.headers.get('content-encoding')).toBeNull();
      const chunks = stream[Symbol.asyncIterator]();
      const first = await chunks.next();
      sendRest();
      const seen = [first.value];
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) seen.push(next.value);
      expect(seen).toEqual(completionToChunks(plainText));
      const stored = await service.client().chat.completions.retrieve('chatcmpl-text');
      expect(stored).toEqual(storedCompletion(plainText, response.headers.get('x-request-id')!));
    });
  }

  it('refuses an answer with more than five content codings, as fetch did: each would cost a decoder', async () => {
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': Array(6).fill('gzip').join(', ') });
      res.end();
    };
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages, stream: true, store: true }),
    });
    expect(res.status).toBe(502);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect((await res.json()).error.message).toBe("The upstream provider's answer has more than 5 content codings; it was not read.");
    expect(await storedCount()).toEqual({ n: 0 });
  });
});
