import { describe, it, expect } from 'vitest';
import { parseSseText, streamingHandler } from './helpers/fake-sse.ts';
import { fakeCompletion, type FakeUpstream } from './helpers/fake-upstream.ts';
import { assertMatchesSchema } from './helpers/openai-schema.ts';
import { type Service, useServiceEachTest } from './helpers/service.ts';
import { storeVariety } from './helpers/variety.ts';

// Minimal-but-valid bodies: exactly the fields OpenAI's schemas mark as required.
const completion = () => ({
  id: 'chatcmpl-abc123',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'hi', refusal: null },
      finish_reason: 'stop',
      logprobs: null,
    },
  ],
});

const completionList = () => ({
  object: 'list',
  data: [completion()],
  first_id: 'chatcmpl-abc123',
  last_id: 'chatcmpl-abc123',
  has_more: false,
});

const messageList = (role: string) => ({
  object: 'list',
  data: [{ id: 'chatcmpl-abc123-0', role, content: 'hello', refusal: null }],
  first_id: 'chatcmpl-abc123-0',
  last_id: 'chatcmpl-abc123-0',
  has_more: false,
});

describe('assertMatchesSchema (OpenAI schemas fixture)', () => {
  it('accepts a minimal valid ChatCompletionList', () => {
    expect(() => assertMatchesSchema('ChatCompletionList', completionList())).not.toThrow();
  });

  it('rejects a ChatCompletionList without has_more, naming the path', () => {
    const { has_more: _omit, ...body } = completionList();
    expect(() => assertMatchesSchema('ChatCompletionList', body)).toThrow(/has_more/);
    expect(() => assertMatchesSchema('ChatCompletionList', body)).toThrow(/\(root\): must have required property/);
  });

  it('reports the instancePath of nested errors', () => {
    const body = completionList();
    (body.data[0] as any).choices[0].finish_reason = 'done';
    expect(() => assertMatchesSchema('ChatCompletionList', body)).toThrow(
      /\/data\/0\/choices\/0\/finish_reason: must be equal to one of the allowed values/,
    );
  });

  it('accepts extra fields on stored completions (no additionalProperties: false)', () => {
    const body = completionList();
    Object.assign(body.data[0]!, {
      request_id: 'req_1',
      seed: 42,
      tools: [],
      metadata: { user: 'u1' },
      input_user: 'u1',
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    });
    expect(() => assertMatchesSchema('ChatCompletionList', body)).not.toThrow();
  });

  it('accepts a CreateChatCompletionResponse but not one with a non-assistant message', () => {
    expect(() => assertMatchesSchema('CreateChatCompletionResponse', completion())).not.toThrow();
    const body = completion();
    body.choices[0]!.message.role = 'user';
    expect(() => assertMatchesSchema('CreateChatCompletionResponse', body)).toThrow(
      /\/choices\/0\/message\/role/,
    );
  });

  it('accepts a ChatCompletionMessageList item with role user (documented exception)', () => {
    expect(() => assertMatchesSchema('ChatCompletionMessageList', messageList('user'))).not.toThrow();
    for (const role of ['system', 'developer', 'tool', 'assistant', 'function']) {
      expect(() => assertMatchesSchema('ChatCompletionMessageList', messageList(role))).not.toThrow();
    }
  });

  it('still rejects unknown roles and missing ids in a ChatCompletionMessageList', () => {
    expect(() => assertMatchesSchema('ChatCompletionMessageList', messageList('robot'))).toThrow(
      /\/data\/0\/role/,
    );
    const body = messageList('user');
    delete (body.data[0] as any).id;
    expect(() => assertMatchesSchema('ChatCompletionMessageList', body)).toThrow(/\/data\/0.*id/);
  });

  it('accepts an ErrorResponse with null param and code', () => {
    const body = { error: { message: 'Not found', type: 'invalid_request_error', param: null, code: null } };
    expect(() => assertMatchesSchema('ErrorResponse', body)).not.toThrow();
    expect(() =>
      assertMatchesSchema('ErrorResponse', { error: { message: 'x', type: 'y' } }),
    ).toThrow(/\/error: must have required property 'param'/);
  });

  it('accepts a ChatCompletionDeleted', () => {
    const body = { object: 'chat.completion.deleted', id: 'chatcmpl-abc123', deleted: true };
    expect(() => assertMatchesSchema('ChatCompletionDeleted', body)).not.toThrow();
  });

  it('accepts stream chunks with null finish_reason / logprobs / usage (converted nullable)', () => {
    const chunk = {
      id: 'chatcmpl-abc123',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta: { role: 'assistant', content: 'h' }, finish_reason: null, logprobs: null }],
      usage: null,
    };
    expect(() => assertMatchesSchema('CreateChatCompletionStreamResponse', chunk)).not.toThrow();
    chunk.choices[0]!.finish_reason = 'bogus' as any;
    expect(() => assertMatchesSchema('CreateChatCompletionStreamResponse', chunk)).toThrow(
      /finish_reason/,
    );
  });
});

describe('every body the running service answers matches OpenAI schemas', () => {
  let upstream: FakeUpstream;
  let service: Service;
  useServiceEachTest((started) => ({ upstream, service } = started));

  /** Answers the next creates with `completion` changed by `edit` (a reply of a kind the default handler never gives). */
  function answerWith(edit: (completion: Record<string, any>) => void): void {
    upstream.handler = (request, res) => {
      const completion = fakeCompletion(request.json!, `chatcmpl-kind-${upstream.received.length}`, 1_700_000_300);
      edit(completion);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion));
    };
  }

  /** Stores the kinds storeVariety leaves out: logprobs on every choice, a refusal, an audio reply, a stream asked for usage. */
  async function storeOtherKinds(): Promise<{ ids: string[]; chunks: unknown[] }> {
    const client = service.client();
    const ids: string[] = [];
    const logprobs = { content: [{ token: 'hi', logprob: -0.25, bytes: [104, 105], top_logprobs: [{ token: 'hi', logprob: -0.25, bytes: [104, 105] }] }], refusal: null };
    answerWith((c) => c.choices.forEach((choice: Record<string, unknown>) => (choice.logprobs = logprobs)));
    ids.push((await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'lp' }], n: 2, logprobs: true, top_logprobs: 1, store: true })).id);
    answerWith((c) => (c.choices[0].message = { role: 'assistant', content: null, refusal: "I can't help with that.", annotations: [] }));
    ids.push((await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'developer', content: 'Be safe.' }, { role: 'user', content: 'no' }], store: true })).id);
    answerWith((c) => {
      c.choices[0].message = { role: 'assistant', content: null, refusal: null, audio: { id: 'audio_1', data: 'UklGRg==', expires_at: 1_700_003_600, transcript: 'Hello.' } };
    });
    ids.push((await client.chat.completions.create({ model: 'gpt-4o-audio-preview', modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' }, messages: [{ role: 'user', content: 'say hi' }], store: true })).id);
    upstream.handler = streamingHandler(fakeCompletion({ model: 'gpt-4o-mini', messages: [{ content: 'usage' }], n: 2 }, 'chatcmpl-usage-1', 1_700_000_400));
    const res = await service.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'usage' }], n: 2, stream: true, stream_options: { include_usage: true }, store: true }),
    });
    const events = parseSseText(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    ids.push('chatcmpl-usage-1');
    return { ids, chunks: events.slice(0, -1).map((data) => JSON.parse(data)) };
  }

  it('stream chunks, list pages, retrieve, messages pages, update and delete of every kind of stored completion', async () => {
    const variety = await storeVariety(service, upstream);
    const { ids: others, chunks } = await storeOtherKinds();
    const ids = [...variety, ...others];
    // The usage-only chunk is among them: `choices: []` and the totals.
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: 21 } });
    for (const chunk of chunks) assertMatchesSchema('CreateChatCompletionStreamResponse', chunk);

    const listed: string[] = [];
    for (const order of ['asc', 'desc']) {
      let after = '';
      for (;;) {
        const page = await (await service.request(`/v1/chat/completions?limit=3&order=${order}${after && `&after=${after}`}`)).json();
        assertMatchesSchema('ChatCompletionList', page);
        if (order === 'asc') listed.push(...page.data.map((c: { id: string }) => c.id));
        if (!page.has_more) break;
        after = page.last_id;
      }
    }
    expect([...listed].sort()).toEqual([...ids].sort());

    for (const id of ids) {
      assertMatchesSchema('CreateChatCompletionResponse', await (await service.request(`/v1/chat/completions/${id}`)).json());
      let after = '';
      for (;;) {
        const page = await (await service.request(`/v1/chat/completions/${id}/messages?limit=1${after && `&after=${after}`}`)).json();
        assertMatchesSchema('ChatCompletionMessageList', page);
        if (!page.has_more) break;
        after = page.last_id;
      }
      const updated = await service.request(`/v1/chat/completions/${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ metadata: { checked: 'yes' } }),
      });
      assertMatchesSchema('CreateChatCompletionResponse', await updated.json());
      assertMatchesSchema('ChatCompletionDeleted', await (await service.request(`/v1/chat/completions/${id}`, { method: 'DELETE' })).json());
    }
  });
});
