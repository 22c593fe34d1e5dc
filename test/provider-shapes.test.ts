import { RateLimitError } from 'openai';
import { describe, expect, it } from 'vitest';
import { openSse, parseSseText, sseEvent } from './helpers/fake-sse.ts';
import type { FakeUpstream } from './helpers/fake-upstream.ts';
import { assertMatchesSchema } from './helpers/openai-schema.ts';
import { type Service, useServiceEachTest } from './helpers/service.ts';
import { storedCompletion } from './helpers/stored-shape.ts';

/**
 * Streams as OpenAI-compatible providers really send them, where they differ from OpenAI's in a way the
 * stored completion must make up for: what the client receives is the provider's stream, what is stored is
 * the completion the same provider would have answered unstreamed, in OpenAI's shape.
 */

let upstream: FakeUpstream;
let service: Service;

useServiceEachTest((started) => ({ upstream, service } = started));

type Json = Record<string, unknown>;

const messages = [{ role: 'user' as const, content: 'Weather in Paris?' }];
const usage = { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 };

/** A provider that writes these events and then ends its response, with `[DONE]` or without. */
function streams(events: (Json | string)[], { done }: { done: boolean }): void {
  upstream.handler = (_request, res) => {
    const sse = openSse(res);
    for (const event of events) sse.raw(typeof event === 'string' ? event : sseEvent(event));
    if (done) sse.done();
    else res.end();
  };
}

/** A create sent over plain HTTP, to read its answer as it goes over the wire. */
function postCreate(body: Json): Promise<Response> {
  return service.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** The events' data as the client receives them over plain HTTP, and the response's request id. */
async function streamOverHttp(body: Json): Promise<{ data: string[]; requestId: string }> {
  const res = await postCreate(body);
  expect(res.status).toBe(200);
  return { data: parseSseText(await res.text()), requestId: res.headers.get('x-request-id')! };
}

/** What retrieve serves for the completion of a stream of `base`'s chunks, with these choices and top-level fields. */
function storedAs(base: Json, requestId: string, choices: Json[], extra: Json = {}): Json {
  return storedCompletion({ id: base.id, object: 'chat.completion', created: base.created, model: base.model, choices, ...extra }, requestId);
}

/** A stored choice 0: the assistant's message with these fields, finished so. */
function choiceOf(message: Json, finishReason: string): Json {
  return { index: 0, message: { role: 'assistant', refusal: null, ...message }, logprobs: null, finish_reason: finishReason };
}

async function collect(stream: AsyncIterable<unknown>): Promise<Json[]> {
  const chunks: Json[] = [];
  for await (const chunk of stream) chunks.push(chunk as Json);
  return chunks;
}

describe('tool calls without their type', () => {
  // Mistral's API answers its tool calls without `type`, streamed and not (vercel/ai's recorded Mistral answers,
  // packages/mistral/src/__fixtures__/mistral-tool-call.json and .chunks.txt), as do its models on Azure AI Foundry
  // (vercel/ai#12901); vLLM streamed them so answering a named tool_choice (vllm-project/vllm#16340).
  const base = { id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', object: 'chat.completion.chunk', created: 1_760_000_000, model: 'mistral-large-2411' };
  const chunks: Json[] = [
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { tool_calls: [{ id: 'D681PevKs', function: { name: 'get_weather', arguments: '' }, index: 0 }] }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { tool_calls: [{ function: { arguments: '{"city": "Paris"}' }, index: 0 }] }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { tool_calls: [{ id: 'Xq3vNw2Lp', function: { name: 'get_time', arguments: '{"tz": "Europe/Paris"}' }, index: 1 }] }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'tool_calls' }], usage },
  ];

  it('are stored typed "function", where OpenAI puts the type, while the client gets the chunks as they came', async () => {
    streams(chunks, { done: true });
    const client = service.client();
    const { data: stream, response } = await client.chat.completions.create({ model: 'mistral-large-2411', messages, stream: true, store: true }).withResponse();
    // The provider's usage is on the chunk that finishes the choice: left there, as the client would have had it.
    expect(await collect(stream)).toEqual(chunks);
    const stored = await client.chat.completions.retrieve(base.id);
    const calls = [
      { id: 'D681PevKs', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } },
      { id: 'Xq3vNw2Lp', type: 'function', function: { name: 'get_time', arguments: '{"tz": "Europe/Paris"}' } },
    ];
    expect(stored).toEqual(storedAs(base, response.headers.get('x-request-id')!, [choiceOf({ content: '', tool_calls: calls }, 'tool_calls')], { usage }));
    // In OpenAI's key order too: the same call unstreamed is stored byte for byte alike.
    const text = await (await service.request(`/v1/chat/completions/${base.id}`)).text();
    expect(text).toContain('"tool_calls":[{"id":"D681PevKs","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\"}"}}');
    assertMatchesSchema('CreateChatCompletionResponse', stored);
    assertMatchesSchema('ChatCompletionList', await (await service.request('/v1/chat/completions')).json());
  });

  it("keep a type the provider did give, even an empty one, and type a custom tool's call \"custom\"", async () => {
    const custom: Json[] = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: '', function: { name: 'f', arguments: '{}' } }] }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'call_b', custom: { name: 'grep', input: 'needle' } }] }, finish_reason: 'tool_calls' }] },
    ];
    streams(custom, { done: true });
    const client = service.client();
    await collect(await client.chat.completions.create({ model: 'mistral-large-2411', messages, stream: true, store: true }));
    const stored = (await client.chat.completions.retrieve(base.id)) as unknown as { choices: { message: Json }[] };
    expect(stored.choices[0]!.message.tool_calls).toEqual([
      { id: 'call_a', type: '', function: { name: 'f', arguments: '{}' } },
      { id: 'call_b', type: 'custom', custom: { name: 'grep', input: 'needle' } },
    ]);
  });

  it("are stored typed in a plain answer too, and Mistral's \"tool_calls\": null is left out, as its stream stores it", async () => {
    // Mistral's plain answers, as recorded (vercel/ai packages/mistral/src/__fixtures__/mistral-tool-call.json, mistral-text.json).
    const call = { id: 'gSIMJiOkT', function: { name: 'weather', arguments: '{"location": "San Francisco"}' } };
    const answers: Json[] = [
      { id: 'b3999b8c93e04e11bcbff7bcab829667', created: 1_769_088_854, model: 'mistral-small-latest', usage, object: 'chat.completion', choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', tool_calls: [call] } }] },
      { id: '5319bd0299614c679a0068a4f2c8ffd0', created: 1_769_088_720, model: 'mistral-small-latest', usage, object: 'chat.completion', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', tool_calls: null, content: 'Hello!' } }] },
    ];
    const stored: Json[] = [
      { index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'gSIMJiOkT', type: 'function', function: call.function }] }, logprobs: null },
      { index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Hello!', refusal: null }, logprobs: null },
    ];
    for (const [i, answer] of answers.entries()) {
      upstream.handler = (_request, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      };
      const res = await postCreate({ model: 'mistral-small-latest', messages, store: true });
      // The client's answer is Mistral's own.
      expect(await res.text()).toBe(JSON.stringify(answer));
      const { choices: _choices, ...top } = answer;
      expect(await service.client().chat.completions.retrieve(answer.id as string)).toEqual(storedCompletion({ ...top, choices: [stored[i]] }, res.headers.get('x-request-id')!));
    }
    assertMatchesSchema('ChatCompletionList', await (await service.request('/v1/chat/completions')).json());
  });
});

describe('tool call arguments streamed as a JSON object', () => {
  // Venice's models stream a call's arguments as an object rather than OpenAI's string (ar-jan/llm-venice#45); the
  // stored call had them as "", the client's chunks holding them whole.
  const base = { id: 'chatcmpl-venice-1', object: 'chat.completion.chunk', created: 1_760_000_000, model: 'mistral-31-24b' };
  const chunks: Json[] = [
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_m1', type: 'function', function: { name: 'multiply', arguments: { x: 1337, y: 42 } } }] }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'call_m2', type: 'function', function: { name: 'now', arguments: '' } }] }, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, function: { arguments: {} } }] }, finish_reason: 'tool_calls' }] },
  ];

  it('are stored as the object the client received, not dropped', async () => {
    streams(chunks, { done: true });
    const client = service.client();
    const { data: stream, response } = await client.chat.completions.create({ model: 'mistral-31-24b', messages, stream: true, store: true }).withResponse();
    expect(await collect(stream)).toEqual(chunks);
    const calls = [
      { id: 'call_m1', type: 'function', function: { name: 'multiply', arguments: { x: 1337, y: 42 } } },
      { id: 'call_m2', type: 'function', function: { name: 'now', arguments: {} } },
    ];
    expect(await client.chat.completions.retrieve(base.id)).toEqual(storedAs(base, response.headers.get('x-request-id')!, [choiceOf({ content: '', tool_calls: calls }, 'tool_calls')]));
  });
});

describe('a stored stream the provider closes without [DONE]', () => {
  // MiniMax closes its stream after the last chunk without `data: [DONE]` (yologdev/yoagent#76), as do GMI
  // (Dstack-TEE/private-ai-gateway#114) and Azure AI Foundry's DeepSeek after its content filter finishes a choice
  // (experientiallabs/experiential#962). The SDKs take the end of the response for the end of the stream.
  const base = { id: '0476f7f5d1b6b1ae0f6ba8b0fbc3bc3e', object: 'chat.completion.chunk', created: 1_760_000_000, model: 'MiniMax-M2' };
  const text = (content: string, finish: string | null = null, index = 0): Json => ({ ...base, choices: [{ index, delta: { role: 'assistant', content }, finish_reason: finish }] });

  const unfinishedError = JSON.stringify({ error: { message: 'The upstream provider ended the stream before it finished.', type: 'server_error', param: null, code: null } });

  it('ends with an error event and stores nothing, though every choice finished: SPEC.md stores a stream at [DONE] only', async () => {
    const chunks = [text('Sunny, '), text('21 degrees.'), { ...text('', 'stop'), usage }];
    streams(chunks, { done: false });
    const { data } = await streamOverHttp({ model: 'MiniMax-M2', messages, stream: true, store: true });
    expect(data).toEqual([...chunks.map((chunk) => JSON.stringify(chunk)), unfinishedError]);
    expect(await service.countRows('completions')).toBe(0);
  });

  it('closes a last event the provider did not close before that error event, so the client reads both', async () => {
    const chunks = [text('Hi'), text('', 'stop')];
    streams([sseEvent(chunks[0]), `data: ${JSON.stringify(chunks[1])}`], { done: false });
    const { data } = await streamOverHttp({ model: 'MiniMax-M2', messages, stream: true, store: true });
    expect(data).toEqual([...chunks.map((chunk) => JSON.stringify(chunk)), unfinishedError]);
    expect(await service.countRows('completions')).toBe(0);
  });

  const unfinished: [name: string, events: Json[]][] = [
    ['before any choice finished', [text('Sunny, ')]],
    // n: 2, the second choice cut off: the completion is not whole.
    ['with one of two choices unfinished', [text('Sunny.', null, 0), text('Clear', null, 1), text('', 'stop', 0)]],
    ['after a finish_reason of ""', [text('Sunny.'), text('', '')]],
  ];
  for (const [name, events] of unfinished) {
    it(`still ends with an error event and stores nothing when closed ${name}`, async () => {
      streams(events, { done: false });
      const { data } = await streamOverHttp({ model: 'MiniMax-M2', messages, stream: true, store: true });
      expect(data).toEqual([
        ...events.map((chunk) => JSON.stringify(chunk)),
        unfinishedError,
      ]);
      expect(await service.countRows('completions')).toBe(0);
    });
  }

  const unclosedLast: [name: string, events: string[], data: string[]][] = [
    ['a last chunk', [`data: ${JSON.stringify(text('Sunny, '))}`], [JSON.stringify(text('Sunny, '))]],
    ['a last keep-alive', [sseEvent(text('Sunny, ')), ': keep-alive'], [JSON.stringify(text('Sunny, ')), '']],
  ];
  for (const [name, events, data] of unclosedLast) {
    it(`closes ${name} the provider did not close before the error event that follows, so the client can read both`, async () => {
      streams(events, { done: false });
      const res = await streamOverHttp({ model: 'MiniMax-M2', messages, stream: true, store: true });
      expect(res.data).toEqual([
        ...data,
        unfinishedError,
      ]);
    });
  }

  it('is relayed as the provider ended it when not stored: no [DONE] added', async () => {
    const chunks = [text('Hi'), text('', 'stop')];
    streams(chunks, { done: false });
    const { data } = await streamOverHttp({ model: 'MiniMax-M2', messages, stream: true });
    expect(data).toEqual(chunks.map((chunk) => JSON.stringify(chunk)));
    expect(await service.countRows('completions')).toBe(0);
  });
});

describe("OpenRouter's error answered with status 200", () => {
  // "Otherwise, the returned HTTP response status will be 200 and any error occurred while the LLM is producing the
  // output will be emitted in the response body", `error.code` being the status (https://openrouter.ai/docs/errors).
  const rateLimited = {
    error: { code: 429, message: 'google/gemini-2.5-pro is temporarily rate-limited upstream. Please retry shortly.', metadata: { provider_name: 'Google AI Studio' } },
    user_id: 'user_2abc',
  };
  const modelDown = { error: { code: 502, message: 'Provider returned error', metadata: { provider_name: 'Together' } }, user_id: 'user_2abc' };

  function answers(body: Json, contentType = 'application/json'): void {
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'content-type': contentType, 'x-generation-id': 'gen-1760000000-abc' });
      res.end(JSON.stringify(body));
    };
  }

  const cases: [name: string, body: Json, status: number, error: Json][] = [
    ['a rate limit', rateLimited, 429, { message: rateLimited.error.message, type: 'requests', param: null, code: 'rate_limit_exceeded' }],
    ['a model that is down', modelDown, 502, { message: 'Provider returned error', type: 'server_error', param: null, code: null }],
  ];
  for (const [name, body, status, error] of cases) {
    for (const stream of [false, true]) {
      it(`${name}: a stored ${stream ? 'stream answered in JSON' : 'create'} is that status in OpenAI's error shape, retryable, nothing stored`, async () => {
        answers(body);
        const res = await postCreate({ model: 'google/gemini-2.5-pro', messages, store: true, ...(stream ? { stream: true } : {}) });
        expect(res.status).toBe(status);
        expect(await res.json()).toEqual({ error });
        // Left to the SDKs' own rule, which retries a 429 and a 502: the model was not answering, not answering wrong.
        expect(res.headers.get('x-should-retry')).toBeNull();
        expect(res.headers.get('x-generation-id')).toBe('gen-1760000000-abc');
        expect(await service.countRows('completions')).toBe(0);
      });
    }
  }

  it('reaches the official client as the error it names', async () => {
    answers(rateLimited);
    const error = await service
      .client()
      .chat.completions.create({ model: 'google/gemini-2.5-pro', messages, store: true })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).error).toEqual({ message: rateLimited.error.message, type: 'requests', param: null, code: 'rate_limit_exceeded' });
  });

  it('is handed on unchanged when not stored, as a proxy does', async () => {
    answers(modelDown);
    const res = await postCreate({ model: 'google/gemini-2.5-pro', messages });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(JSON.stringify(modelDown));
  });

  it('keeps the 502 saying what came for an error without a status of its own (a string code, as OpenAI writes it)', async () => {
    answers({ error: { message: 'You exceeded your quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } });
    const res = await postCreate({ model: 'gpt-4o', messages, store: true });
    expect(res.status).toBe(502);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(await res.json()).toEqual({
      error: {
        message: 'The upstream provider answered 200 with an error: "You exceeded your quota" instead of a chat completion; nothing was stored.',
        type: 'server_error',
        param: null,
        code: null,
      },
    });
  });
});

describe("Groq's service tiers", () => {
  // Groq's answer, as captured from its API (ENTERPILOT/GoModel tests/contract/testdata/groq/chat_completion.json).
  const groq = {
    id: 'chatcmpl-704f97d8-0ee9-4fa6-b74f-777917cc07d7',
    object: 'chat.completion',
    created: 1_769_093_741,
    model: 'llama-3.3-70b-versatile',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello World!' }, logprobs: null, finish_reason: 'stop' }],
    usage: { queue_time: 0.089910694, prompt_tokens: 38, prompt_time: 0.001689387, completion_tokens: 4, completion_time: 0.030590271, total_tokens: 42, total_time: 0.032279658 },
    usage_breakdown: null,
    system_fingerprint: 'fp_c06d5113ec',
    x_groq: { id: 'req_01kfk38f6bebmb6c6xstpckt0x', seed: 874043000 },
    service_tier: 'on_demand',
  };

  for (const [tier, stored] of [['on_demand', 'default'], ['performance', 'priority'], ['flex', 'flex'], ['some_new_tier', 'some_new_tier']]) {
    it(`stores "${tier}" as "${stored}", the client's answer left as Groq wrote it`, async () => {
      const answer = { ...groq, service_tier: tier };
      upstream.handler = (_request, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      };
      const res = await postCreate({ model: 'llama-3.3-70b-versatile', messages, store: true });
      expect(await res.text()).toBe(JSON.stringify(answer));
      const retrieved = await service.client().chat.completions.retrieve(groq.id);
      expect(retrieved).toEqual(
        storedCompletion(
          { ...groq, choices: [{ ...groq.choices[0], message: { role: 'assistant', content: 'Hello World!', refusal: null } }], service_tier: stored },
          res.headers.get('x-request-id')!,
        ),
      );
      // In its place among the fields, as Groq put it.
      const text = await (await service.request(`/v1/chat/completions/${groq.id}`)).text();
      expect(text).toContain(`"x_groq":{"id":"req_01kfk38f6bebmb6c6xstpckt0x","seed":874043000},"service_tier":"${stored}"`);
      if (stored !== 'some_new_tier') assertMatchesSchema('ChatCompletionList', await (await service.request('/v1/chat/completions')).json());
    });
  }
});

describe("Perplexity's stream", () => {
  // As vercel/ai recorded it (packages/perplexity/src/__fixtures__/perplexity-text.chunks.txt, February 2026): usage so far
  // and the citations on every chunk, the last chunk named "chat.completion.done". Its recording has no [DONE] after it
  // (perplexityai/api-discussion#209), which leaves such a stream unstored (the describe above); with [DONE] (a gateway
  // in front that adds it), its chunks must still be read as the chunks they are.
  const citations = ['https://example.org/a', 'https://example.org/b'];
  const chunk = (completionTokens: number, delta: Json, extra: Json = {}): Json => ({
    id: 'a3d55d44-63f9-4704-bb26-e17be1ddab3a',
    model: 'sonar',
    created: 1_770_768_233,
    usage: { prompt_tokens: 11, completion_tokens: completionTokens, total_tokens: 11 + completionTokens },
    citations,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta: { role: 'assistant', ...delta }, ...extra }],
  });
  const chunks = [chunk(1, { content: 'Modern' }), chunk(3, { content: ' trees [1]' }), { ...chunk(3, { content: '' }, { finish_reason: 'stop' }), object: 'chat.completion.done' }];

  // Before, every chunk was named "chat.completion" (perplexityai/api-discussion#209).
  const earlier = chunks.map((c) => ({ ...c, object: 'chat.completion' }));
  for (const [name, sent] of [['as it streams now', chunks], ['as it streamed before', earlier]] as const) {
    it(`${name}: is stored at [DONE], its chunks read as the chunks they are`, async () => {
      streams([...sent], { done: true });
      const { data, requestId } = await streamOverHttp({ model: 'sonar', messages, stream: true, stream_options: { include_usage: true }, store: true });
      expect(data).toEqual([...sent.map((c) => JSON.stringify(c)), '[DONE]']);
      const stored = await service.client().chat.completions.retrieve('a3d55d44-63f9-4704-bb26-e17be1ddab3a');
      expect(stored).toEqual(
        storedAs(chunks[0]!, requestId, [choiceOf({ content: 'Modern trees [1]' }, 'stop')], {
          usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 },
          citations,
        }),
      );
      assertMatchesSchema('CreateChatCompletionResponse', stored);
    });
  }

  it('still refuses a whole chat.completion sent as an event, whose choices hold a message', async () => {
    streams([{ id: 'x', object: 'chat.completion', created: 1, model: 'sonar', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }] }], { done: true });
    const res = await postCreate({ model: 'sonar', messages, stream: true, store: true });
    expect(res.status).toBe(502);
    expect(await service.countRows('completions')).toBe(0);
  });
});
