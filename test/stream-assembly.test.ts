import { describe, expect, it } from 'vitest';
import { createCompletionAssembler } from '../src/streaming/assemble.ts';
import { createSseParser } from '../src/streaming/sse.ts';
import type { Json } from '../src/json.ts';

const encode = (text: string) => new TextEncoder().encode(text);

describe('sse parser', () => {
  it('keeps each event exact, across any split of the bytes and any line ending', () => {
    const text = 'data: {"a":1}\n\n: keep-alive\n\ndata: {"b":"é"}\r\n\r\ndata: line1\ndata: line2\r\rdata: [DONE]\n\n';
    const bytes = encode(text);
    for (let size = 1; size <= bytes.length; size++) {
      const parser = createSseParser();
      const events = [];
      for (let i = 0; i < bytes.length; i += size) events.push(...parser.push(bytes.slice(i, i + size)));
      expect(events, `split every ${size} bytes`).toEqual([
        { raw: 'data: {"a":1}\n\n', data: '{"a":1}' },
        { raw: ': keep-alive\n\n', data: undefined },
        { raw: 'data: {"b":"é"}\r\n\r\n', data: '{"b":"é"}' },
        { raw: 'data: line1\ndata: line2\r\r', data: 'line1\nline2' },
        { raw: 'data: [DONE]\n\n', data: '[DONE]' },
      ]);
      expect(parser.pending()).toBe('');
    }
  });

  it('holds an unfinished event back', () => {
    const parser = createSseParser();
    expect(parser.push(encode('data: {"a":1}\n\ndata: {"b"'))).toEqual([{ raw: 'data: {"a":1}\n\n', data: '{"a":1}' }]);
    expect(parser.pending()).toBe('data: {"b"');
  });

  it('counts and gives back a line read in many pieces before its end arrives, whole at the end of the stream too', () => {
    const parser = createSseParser();
    expect(parser.push(encode(': c\ndata: {"b":"'))).toEqual([]);
    for (let i = 0; i < 100; i++) expect(parser.push(encode('x'.repeat(10)))).toEqual([]);
    expect(parser.pendingLength()).toBe(': c\ndata: {"b":"'.length + 1000);
    expect(parser.pending()).toBe(`: c\ndata: {"b":"${'x'.repeat(1000)}`);
    expect(parser.push(encode('"}\r'))).toEqual([]);
    expect(parser.push(encode('\n\r\n'))).toEqual([{ raw: `: c\ndata: {"b":"${'x'.repeat(1000)}"}\r\n\r\n`, data: `{"b":"${'x'.repeat(1000)}"}` }]);

    const cut = createSseParser();
    cut.push(encode('data: {"c":"'));
    cut.push(encode('yy'));
    cut.push(encode('"}'));
    expect(cut.end()).toEqual([{ raw: 'data: {"c":"yy"}', data: '{"c":"yy"}', unclosed: true }]);
    expect(cut.pendingLength()).toBe(0);
  });
});

describe('completion assembler', () => {
  it("keeps a provider's __proto__ fields as fields, wherever they come, and never touches Object.prototype", () => {
    const assembler = createCompletionAssembler();
    // As JSON.parse reads them: own fields named __proto__.
    const chunks = [
      '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","__proto__":{"top":"1"},"choices":[{"index":0,"__proto__":{"choice":"1"},"delta":{"role":"assistant","content":"hi","__proto__":{"polluted":"yes"},"extra":{"__proto__":{"nested":"yes"}},"tool_calls":[{"index":0,"id":"t","type":"function","__proto__":{"call":"1"},"function":{"name":"f","arguments":"{}","__proto__":{"fn":"1"}}}],"audio":{"id":"a","__proto__":{"audio":"1"}}},"logprobs":{"content":[],"__proto__":{"lp":"1"}},"finish_reason":null}]}',
      '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"__proto__":{"polluted":"again"},"extra":{"__proto__":{"nested":"again"}}},"finish_reason":"stop"}]}',
    ];
    for (const chunk of chunks) assembler.add(JSON.parse(chunk) as Record<string, unknown>);
    const result = JSON.parse(JSON.stringify(assembler.result('c'))) as Record<string, unknown>;
    const probe = {} as Record<string, unknown>;
    for (const name of ['polluted', 'nested', 'top', 'choice', 'call', 'fn', 'audio', 'lp']) expect(probe[name], name).toBeUndefined();
    const text = JSON.stringify(result);
    for (const field of ['"__proto__":{"top":"1"}', '"__proto__":{"choice":"1"}', '"__proto__":{"polluted":"yesagain"}', '"__proto__":{"nested":"yesagain"}', '"__proto__":{"call":"1"}', '"__proto__":{"fn":"1"}', '"__proto__":{"audio":"1"}', '"__proto__":{"lp":"1"}']) {
      expect(text).toContain(field);
    }
  });

  const envelope = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm' };

  it('keeps a top-level or choice field the provider sent only as null (LiteLLM, vLLM) as null, as its unstreamed answer has it; usage excepted', () => {
    const assembler = createCompletionAssembler();
    // usage: a provider that ignores include_usage but sends it as null: absent, as OpenAI's schema has it (an object or nothing).
    const base = { ...envelope, system_fingerprint: null, citations: null, usage: null };
    assembler.add({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, stop_reason: null }] });
    assembler.add({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop', stop_reason: null }] });
    expect(assembler.result('x')).toEqual({
      id: 'x',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', refusal: null }, logprobs: null, finish_reason: 'stop', stop_reason: null }],
      system_fingerprint: null,
      citations: null,
    });
  });

  it('merges deltas: content, tool calls by index, audio, unknown string fields; later non-null top-level values win', () => {
    const assembler = createCompletionAssembler();
    const chunks = [
      { ...envelope, usage: null, obfuscation: 'x', choices: [{ index: 0, delta: { role: 'assistant', content: '', reasoning_content: 'Th' }, logprobs: null, finish_reason: null }] },
      { ...envelope, usage: null, choices: [{ index: 0, delta: { reasoning_content: 'ink', tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'b', arguments: '' } }] }, finish_reason: null }] },
      { ...envelope, usage: null, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'a', arguments: '{"x"' } }] } }] },
      { ...envelope, usage: null, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, function: { arguments: '{}' } }, { index: 0, function: { arguments: ':1}' } }] } }] },
      { ...envelope, usage: null, choices: [{ index: 0, delta: { audio: { id: 'audio_1', transcript: 'he', data: 'AA' } } }] },
      { ...envelope, usage: null, choices: [{ index: 0, delta: { audio: { transcript: 'llo', data: 'BB', expires_at: 9 } } }] },
      { ...envelope, usage: null, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      { ...envelope, choices: [], usage: { total_tokens: 3 } },
    ];
    for (const chunk of chunks) assembler.add(chunk);
    expect(assembler.result('chatcmpl-stored')).toEqual({
      id: 'chatcmpl-stored',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: '',
            refusal: null,
            reasoning_content: 'Think',
            audio: { id: 'audio_1', transcript: 'hello', data: 'AABB', expires_at: 9 },
            tool_calls: [
              { id: 'call_a', type: 'function', function: { name: 'a', arguments: '{"x":1}' } },
              { id: 'call_b', type: 'function', function: { name: 'b', arguments: '{}' } },
            ],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { total_tokens: 3 },
    });
  });

  it('concatenates logprobs arrays and keeps choices in index order', () => {
    const assembler = createCompletionAssembler();
    const token = (t: string) => ({ token: t, logprob: -1, bytes: null, top_logprobs: [] });
    assembler.add({ ...envelope, choices: [{ index: 1, delta: { role: 'assistant', content: 'B' }, logprobs: { content: [token('B')], refusal: null } }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { role: 'assistant', content: 'A' }, logprobs: { content: [token('A')], refusal: null } }] });
    assembler.add({ ...envelope, choices: [{ index: 1, delta: { content: 'b' }, logprobs: { content: [token('b')], refusal: null }, finish_reason: 'stop' }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'length' }] });
    const result = assembler.result('x') as { choices: unknown[] };
    expect(result.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'A', refusal: null }, logprobs: { content: [token('A')], refusal: null }, finish_reason: 'length' },
      { index: 1, message: { role: 'assistant', content: 'Bb', refusal: null }, logprobs: { content: [token('B'), token('b')], refusal: null }, finish_reason: 'stop' },
    ]);
  });

  const messageOf = (assembler: ReturnType<typeof createCompletionAssembler>) =>
    (assembler.result('x') as { choices: { message: unknown }[] }).choices[0]?.message;

  it('an empty id, type, name or role in a later delta does not wipe the value (the SDK keeps it too)', () => {
    const assembler = createCompletionAssembler();
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city"' } }] } }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { role: '', tool_calls: [{ index: 0, id: '', type: '', function: { name: '', arguments: ':"Paris"}' } }] } }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { function_call: { name: 'legacy', arguments: '{' } } }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { function_call: { name: '', arguments: '}' } } }] });
    expect(messageOf(assembler)).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      function_call: { name: 'legacy', arguments: '{}' },
      tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    });
  });

  it('tool call deltas without index (as Gemini sends them) are told apart by id; one without id continues the last call', () => {
    const assembler = createCompletionAssembler();
    const call = (id: string | undefined, name: string | undefined, args: string) => ({
      ...(id === undefined ? {} : { id, type: 'function' }),
      function: { ...(name === undefined ? {} : { name }), arguments: args },
    });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [call('call_1', 'a', '{"n":1}'), call('call_2', 'b', '{"n":')] } }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { tool_calls: [call(undefined, undefined, '2}')] } }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { tool_calls: [call('call_3', 'c', '{}')] } }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { tool_calls: [call('call_1', undefined, '')] } }] });
    expect(messageOf(assembler)).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'a', arguments: '{"n":1}' } },
        { id: 'call_2', type: 'function', function: { name: 'b', arguments: '{"n":2}' } },
        { id: 'call_3', type: 'function', function: { name: 'c', arguments: '{}' } },
      ],
    });
  });

  it('two tool calls without index or id in one delta (Gemini sends whole calls so) are two calls, not one with both arguments; an empty id stays', () => {
    const assembler = createCompletionAssembler();
    const call = (city: string, id?: string) => ({ function: { arguments: `{"city":"${city}"}`, name: 'get_weather' }, ...(id === undefined ? {} : { id }), type: 'function' });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [call('Paris'), call('Rome', '')] } }] });
    // A later delta without index or id still continues the last call.
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { tool_calls: [{ function: { arguments: '' } }, call('Oslo')] }, finish_reason: 'tool_calls' }] });
    expect(messageOf(assembler)).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        { type: 'function', function: { arguments: '{"city":"Paris"}', name: 'get_weather' } },
        // The empty id the provider sent, as its unstreamed call has it (none is made up for the others).
        { id: '', type: 'function', function: { arguments: '{"city":"Rome"}', name: 'get_weather' } },
        { type: 'function', function: { arguments: '{"city":"Oslo"}', name: 'get_weather' } },
      ],
    });
  });

  it("keeps Gemini's thought signature on a tool call whole when a delta of its own repeats it, or brings it later", () => {
    const assembler = createCompletionAssembler();
    const signed = (signature: string) => ({ extra_content: { google: { thought_signature: signature } } });
    const call = (id: string, city: string) => ({ id, type: 'function', function: { name: 'get_weather', arguments: `{"city":"${city}"}` } });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ ...call('c1', 'Paris'), ...signed('CiQBsig1') }] } }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { tool_calls: [signed('CiQBsig1')] } }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { tool_calls: [call('c2', 'Rome')] } }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { tool_calls: [{ id: 'c2', ...signed('CiQBsig2') }] }, finish_reason: 'tool_calls' }] });
    expect(messageOf(assembler)).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        { ...call('c1', 'Paris'), ...signed('CiQBsig1') },
        { ...call('c2', 'Rome'), ...signed('CiQBsig2') },
      ],
    });
  });

  it("adds up a choice's per-chunk arrays (vLLM's token_ids), and an empty object there replaces no results (Azure's content_filter_results)", () => {
    const assembler = createCompletionAssembler();
    const filtered = { hate: { filtered: false, severity: 'safe' }, violence: { filtered: false, severity: 'low' } };
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, content_filter_results: {}, token_ids: [] }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { content: 'Hi' }, content_filter_results: filtered, token_ids: [101] }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { content: ' you' }, content_filter_results: filtered, token_ids: [102, 103], stop_reason: null }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: {}, content_filter_results: {}, token_ids: [128009], stop_reason: 128009, finish_reason: 'stop' }] });
    expect((assembler.result('x') as { choices: unknown[] }).choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: 'Hi you', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
        content_filter_results: filtered,
        token_ids: [101, 102, 103, 128009],
        stop_reason: 128009,
      },
    ]);
  });

  it("joins OpenRouter's reasoning_details pieces by entry (index and type), as its unstreamed message has them", () => {
    const assembler = createCompletionAssembler();
    const text = (index: number, piece: string, extra: Record<string, unknown> = {}) => ({ type: 'reasoning.text', text: piece, format: 'f', index, ...extra });
    const sent = [
      [text(0, 'Let me')],
      [text(0, ' think.')],
      [],
      [text(0, '', { signature: 'sig0' }), { type: 'reasoning.encrypted', data: 'abc', index: 1 }],
      [{ type: 'reasoning.encrypted', data: 'def', index: 1, format: null }, { type: 'reasoning.summary', summary: 'Kept as it came.' }],
    ];
    for (const details of sent) assembler.add({ ...envelope, choices: [{ index: 0, delta: { reasoning_details: details } }] });
    expect(messageOf(assembler)).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      reasoning_details: [
        { type: 'reasoning.text', text: 'Let me think.', format: 'f', index: 0, signature: 'sig0' },
        { type: 'reasoning.encrypted', data: 'abcdef', index: 1, format: null },
        { type: 'reasoning.summary', summary: 'Kept as it came.' },
      ],
    });
    // The chunks' own entries are left as they came.
    expect(sent[0]).toEqual([text(0, 'Let me')]);
  });

  it('a call streamed without arguments has them as "", and an empty refusal is null, as the SDK accumulates them', () => {
    const assembler = createCompletionAssembler();
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { role: 'assistant', content: null, refusal: '', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'noop' } }] } }] });
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { function_call: { name: 'legacy_noop' } }, finish_reason: 'tool_calls' }] });
    expect(messageOf(assembler)).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      function_call: { name: 'legacy_noop', arguments: '' },
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'noop', arguments: '' } }],
    });
  });

  it("keeps a reasoning model's thinking streamed as content parts (Mistral), joined as the unstreamed answer has it", () => {
    const assembler = createCompletionAssembler();
    const thinking = (text: string) => ({ type: 'thinking', thinking: [{ type: 'text', text }] });
    const chunks = [
      { role: 'assistant', content: '' },
      { content: [thinking('Two plus')] },
      { content: [thinking(' two.')] },
      { content: 'It is' },
      { content: '' },
      { content: ' 4.' },
      { content: [{ type: 'text', text: ' Sure.', annotations: [] }] },
      { content: '!' },
    ].map((delta) => ({ ...envelope, choices: [{ index: 0, delta, finish_reason: null }] }));
    const sent = JSON.stringify(chunks);
    for (const chunk of chunks) assembler.add(chunk);
    expect(messageOf(assembler)).toEqual({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: [{ type: 'text', text: 'Two plus two.' }] },
        { type: 'text', text: 'It is 4.' },
        { type: 'text', text: ' Sure.', annotations: [] },
        { type: 'text', text: '!' },
      ],
      refusal: null,
    });
    expect(JSON.stringify(chunks), 'the chunks themselves are not changed').toBe(sent);

    // An empty array, or one holding no object, carries no part: a string reply stays a string.
    for (const odd of [[], ['raw', 1, null]]) {
      const strings = createCompletionAssembler();
      for (const content of [odd, 'Hi', odd, ' there']) strings.add({ ...envelope, choices: [{ index: 0, delta: { content } }] });
      expect(messageOf(strings)).toEqual({ role: 'assistant', content: 'Hi there', refusal: null });
    }
    const nothing = createCompletionAssembler();
    nothing.add({ ...envelope, choices: [{ index: 0, delta: { role: 'assistant', content: [] } }] });
    expect(messageOf(nothing)).toEqual({ role: 'assistant', content: null, refusal: null });
    const plainThinking = createCompletionAssembler();
    for (const thinking of ['Two', ' and two.']) plainThinking.add({ ...envelope, choices: [{ index: 0, delta: { content: [{ type: 'thinking', thinking }] } }] });
    expect(messageOf(plainThinking)).toEqual({ role: 'assistant', content: [{ type: 'thinking', thinking: 'Two and two.' }], refusal: null });

    const textFirst = createCompletionAssembler();
    textFirst.add({ ...envelope, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' } }] });
    textFirst.add({ ...envelope, choices: [{ index: 0, delta: { content: [thinking('hm')] } }] });
    expect(messageOf(textFirst)).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'Hi' }, thinking('hm')], refusal: null });
  });

  it("a custom tool's call keeps its name when a provider repeats it on every delta, and concatenates its input, as the SDK does", () => {
    const assembler = createCompletionAssembler();
    const delta = (custom: Record<string, string>, extra: Record<string, string> = {}) => ({
      ...envelope,
      choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...extra, custom }] } }],
    });
    assembler.add(delta({ name: 'code_exec', input: 'print(' }, { id: 'call_c', type: 'custom' }));
    assembler.add(delta({ name: 'code_exec', input: '"hi"' }));
    assembler.add(delta({ name: '', input: ')' }));
    assembler.add({ ...envelope, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'call_d', type: 'custom', custom: { name: 'no_input' } }] } }] });
    expect(messageOf(assembler)).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        { id: 'call_c', type: 'custom', custom: { name: 'code_exec', input: 'print("hi")' } },
        { id: 'call_d', type: 'custom', custom: { name: 'no_input', input: '' } },
      ],
    });
  });
});

describe('stream assembly on long and odd streams', () => {
  const chunk = (choice: Json): Json => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, ...choice }] });

  // Each of these spread or searched everything kept so far per chunk: 40,000 tokens with logprobs took 80 s of the
  // event loop, 50,000 calls without index in one delta 46 s. Linear, the whole case takes a few seconds.
  it('assembles 100,000 chunks of logprobs, token_ids, reasoning_details and unknown arrays in linear time', () => {
    const n = 100_000;
    const assembler = createCompletionAssembler();
    // A synchronous loop outlives the test's timeout: it gives up itself, about 20 times what the linear code takes.
    const started = performance.now();
    for (let i = 0; i < n && performance.now() - started < 20_000; i++) {
      assembler.add(chunk({
        delta: { content: 'x', extra_ids: [i], reasoning_details: [{ type: 'reasoning.text', text: 'r', index: i }] },
        logprobs: { content: [{ token: 'x', logprob: -1, bytes: [120], top_logprobs: [] }], refusal: null },
        token_ids: [i],
        finish_reason: null,
      }));
    }
    if (performance.now() - started < 20_000) assembler.add(chunk({ delta: { tool_calls: Array.from({ length: n }, () => ({ type: 'function', function: { name: 'f', arguments: '{}' } })) } }));
    const choice = (assembler.result('x').choices as Json[])[0]!;
    const message = choice.message as Json;
    expect([(choice.logprobs as Json).content, choice.token_ids, message.extra_ids, message.reasoning_details, message.tool_calls].map((a) => (a as unknown[]).length)).toEqual([n, n, n, n, n]);
    expect((choice.token_ids as number[]).slice(0, 3)).toEqual([0, 1, 2]);
  }, 60_000);

  it('leaves every chunk as it came, since a chunk is forwarded re-serialized after it is added', () => {
    const chunks = [
      chunk({ delta: { tool_calls: [{ index: 0, id: 'a', extra_content: { google: { thought_signature: 'S' } } }, { index: 0, extra_content: { google: { other: 1 } } }], meta: { a: [1] } }, logprobs: { content: [{ token: 'a' }], refusal: null }, token_ids: [1] }),
      chunk({ delta: { meta: { a: [2], b: { c: 1 } } }, logprobs: { content: [{ token: 'b' }], refusal: null }, token_ids: [2] }),
      chunk({ delta: { meta: { b: { d: 2 } } }, logprobs: { content: [{ token: 'c' }], refusal: null }, token_ids: [3] }),
    ];
    const sent = structuredClone(chunks);
    const assembler = createCompletionAssembler();
    for (const c of chunks) assembler.add(c);
    expect(chunks).toEqual(sent);
    const choice = (assembler.result('x').choices as Json[])[0]!;
    expect(choice).toEqual({
      index: 0,
      message: {
        role: 'assistant', content: null, refusal: null, meta: { a: [1, 2], b: { c: 1, d: 2 } },
        tool_calls: [{ id: 'a', extra_content: { google: { thought_signature: 'S', other: 1 } } }],
      },
      logprobs: { content: [{ token: 'a' }, { token: 'b' }, { token: 'c' }], refusal: null },
      finish_reason: null,
      token_ids: [1, 2, 3],
    });
  });
});
