import { describe, it, expect } from 'vitest';
import { assertMatchesSchema } from './helpers/openai-schema.ts';

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
