import { describe, expect, it } from 'vitest';
import { type ExportItem, formatLine, type SkipReason } from '../src/export/formats.ts';
import type { Json } from '../src/json.ts';
import { toCompletionRecord } from '../src/wire.ts';

/** An export item as the store would hand it over, from a request and the provider's reply. */
function item(request: Json, choices: Json[], metadata: Record<string, string> = {}): ExportItem {
  const record = toCompletionRecord({
    request: { model: 'gpt-4o', ...request },
    response: { id: 'chatcmpl-1', object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o-2024-08-06', choices },
    id: 'chatcmpl-1',
    requestId: 'req_1',
    metadata,
    now: 1_700_000_000,
  });
  return {
    completion: { id: record.id, body: record.body, metadata: JSON.stringify(record.metadata), choices: record.choices.join(',') },
    messages: record.messages.map((body, idx) => ({ idx, body })),
  };
}

const reply = (message: Json, finish_reason = 'stop', index = 0): Json => ({ index, message: { role: 'assistant', refusal: null, ...message }, logprobs: null, finish_reason });

const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'function']);
const MESSAGE_KEYS = new Set(['role', 'content', 'name', 'function_call', 'tool_calls', 'tool_call_id', 'weight']);

/**
 * The rules OpenAI's fine-tuning upload checks for a chat example (its data
 * preparation guide): known keys and roles, content on every message but an
 * assistant's tool call, the assistant last, every tool call answered by a tool
 * message before the conversation moves on, and `tools` when tools are used.
 */
function finetuneProblems(line: string): string[] {
  const problems: string[] = [];
  const example = JSON.parse(line) as Json;
  for (const key of Object.keys(example)) if (!['messages', 'tools', 'parallel_tool_calls'].includes(key)) problems.push(`unknown key ${key}`);
  const messages = example.messages as Json[];
  if (!Array.isArray(messages) || messages.length === 0) return [...problems, 'no messages'];
  const open = new Set<unknown>();
  let usesTools = false;
  messages.forEach((m, i) => {
    if (!ROLES.has(m.role as string)) problems.push(`message ${i}: role ${String(m.role)}`);
    for (const key of Object.keys(m)) if (!MESSAGE_KEYS.has(key)) problems.push(`message ${i}: key ${key}`);
    const calls = Array.isArray(m.tool_calls) ? (m.tool_calls as Json[]) : [];
    if (m.content === undefined && calls.length === 0) problems.push(`message ${i}: no content`);
    if (m.content !== undefined && typeof m.content !== 'string' && !Array.isArray(m.content)) problems.push(`message ${i}: content type`);
    for (const part of Array.isArray(m.content) ? (m.content as Json[]) : []) {
      if (!['text', 'image_url'].includes(part.type as string)) problems.push(`message ${i}: a ${String(part.type)} part`);
    }
    if (m.role === 'tool') {
      if (!open.delete(m.tool_call_id)) problems.push(`message ${i}: tool result without its call`);
    } else if (open.size > 0) {
      problems.push(`message ${i}: tool calls left unanswered`);
    }
    if (calls.length > 0) usesTools = true;
    if (i < messages.length - 1) for (const call of calls) open.add(call.id);
  });
  if (messages.at(-1)!.role !== 'assistant') problems.push('last message is not the assistant');
  if (usesTools && !Array.isArray(example.tools)) problems.push('tool calls without tools');
  return problems;
}

function finetune(source: ExportItem, choice = 0): string {
  const formatted = formatLine(source, { format: 'finetune', choice });
  if (!('line' in formatted)) throw new Error(`skipped: ${formatted.skipped}`);
  expect(finetuneProblems(formatted.line)).toEqual([]);
  return formatted.line;
}

const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const call = (id: string, city: string) => ({ id, type: 'function', function: { name: 'get_weather', arguments: JSON.stringify({ city }) } });

describe('finetune lines', () => {
  it('are the input messages as sent, then the reply', () => {
    const line = finetune(
      item({ messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hi', name: 'ann' }] }, [reply({ content: 'Hello!' })]),
    );
    expect(JSON.parse(line)).toEqual({
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi', name: 'ann' }, { role: 'assistant', content: 'Hello!' }],
    });
  });

  it('keep content parts (images by URL) as parts', () => {
    const parts = [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }];
    const line = finetune(item({ messages: [{ role: 'user', content: parts }] }, [reply({ content: 'A cat.' })]));
    expect(JSON.parse(line).messages[0]).toEqual({ role: 'user', content: parts });
  });

  it('keep tool calls with their results, and the tools', () => {
    const line = finetune(
      item(
        {
          tools: [weather],
          messages: [
            { role: 'user', content: 'Paris and Oslo?' },
            { role: 'assistant', content: null, tool_calls: [call('c1', 'Paris'), call('c2', 'Oslo')] },
            { role: 'tool', tool_call_id: 'c1', content: '21' },
            { role: 'tool', tool_call_id: 'c2', content: '12' },
          ],
        },
        [reply({ content: 'Paris 21, Oslo 12.' })],
      ),
    );
    expect(JSON.parse(line)).toEqual({
      messages: [
        { role: 'user', content: 'Paris and Oslo?' },
        { role: 'assistant', tool_calls: [call('c1', 'Paris'), call('c2', 'Oslo')] },
        { role: 'tool', tool_call_id: 'c1', content: '21' },
        { role: 'tool', tool_call_id: 'c2', content: '12' },
        { role: 'assistant', content: 'Paris 21, Oslo 12.' },
      ],
      tools: [weather],
    });
  });

  it('end with a tool call when that is the reply', () => {
    const line = finetune(item({ tools: [weather], messages: [{ role: 'user', content: 'Oslo?' }] }, [reply({ content: null, tool_calls: [call('c9', 'Oslo')] }, 'tool_calls')]));
    expect(JSON.parse(line).messages.at(-1)).toEqual({ role: 'assistant', tool_calls: [call('c9', 'Oslo')] });
  });

  const legacyCall = { name: 'get_weather', arguments: '{"city":"Oslo"}' };

  it('write an assistant message sent as text parts as its text, as the messages endpoint serves it', () => {
    const line = finetune(
      item(
        {
          messages: [
            { role: 'user', content: 'Hi' },
            { role: 'assistant', content: [{ type: 'text', text: 'Hello.' }, { type: 'text', text: 'How can I help?' }] },
            { role: 'user', content: 'A joke' },
          ],
        },
        [reply({ content: 'Here is one.' })],
      ),
    );
    expect(JSON.parse(line).messages[1]).toEqual({ role: 'assistant', content: 'Hello.\nHow can I help?' });
  });

  it('keep an assistant message sent as text parts as parts in the eval line (as sent)', () => {
    const parts = [{ type: 'text', text: 'Hello.' }];
    const source = item({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: parts }, { role: 'user', content: 'A joke' }] }, [reply({ content: 'Here is one.' })]);
    const line = JSON.parse((formatLine(source, { format: 'eval', choice: 0 }) as { line: string }).line) as { item: Json };
    expect((line.item.input as Json[])[1]).toEqual({ role: 'assistant', content: parts });
  });

  const thinkingThenText = [
    { type: 'thinking', thinking: [{ type: 'text', text: 'The user greets me.' }] },
    { type: 'text', text: '{"greeting":' },
    { type: 'text', text: '"Hello"}' },
  ];

  it("end with the text of a reply given as parts, without a reasoning model's thinking", () => {
    const line = finetune(item({ messages: [{ role: 'user', content: 'Hi' }] }, [reply({ content: thinkingThenText })]));
    expect(JSON.parse(line)).toEqual({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '{"greeting":\n"Hello"}' }] });
    expect(formatLine(item({ messages: [{ role: 'user', content: 'Hi' }] }, [reply({ content: thinkingThenText.slice(0, 1) })]), { format: 'finetune', choice: 0 })).toEqual({
      skipped: 'empty_reply',
    });
  });

  it("grade a reply given as parts on its text, and keep its parts in the eval line's choices", () => {
    const source = item({ messages: [{ role: 'user', content: 'Hi' }] }, [reply({ content: [thinkingThenText[0], { type: 'text', text: '{"greeting":"Hello"}' }] })]);
    const line = JSON.parse((formatLine(source, { format: 'eval', choice: 0, sample: true }) as { line: string }).line) as { item: Json; sample: Json };
    expect([line.item.output, line.sample.output_text, line.sample.output_json]).toEqual(['{"greeting":"Hello"}', '{"greeting":"Hello"}', { greeting: 'Hello' }]);
    expect(((line.sample.choices as Json[])[0]?.message as Json).content).toEqual([thinkingThenText[0], { type: 'text', text: '{"greeting":"Hello"}' }]);
  });

  it('take the choice asked for', () => {
    const source = item({ n: 2, messages: [{ role: 'user', content: 'Hi' }] }, [reply({ content: 'first' }), reply({ content: 'second' }, 'stop', 1)]);
    expect(JSON.parse(finetune(source, 1)).messages.at(-1)).toEqual({ role: 'assistant', content: 'second' });
  });

  it('take the choice by its index, not its place: an imported or mirrored completion may list them in another order', () => {
    const source = item({ n: 2, messages: [{ role: 'user', content: 'Hi' }] }, [reply({ content: 'second' }, 'stop', 1), reply({ content: 'first' }, 'stop', 0)]);
    expect(JSON.parse(finetune(source, 0)).messages.at(-1)).toEqual({ role: 'assistant', content: 'first' });
    expect(JSON.parse(finetune(source, 1)).messages.at(-1)).toEqual({ role: 'assistant', content: 'second' });
    expect(formatLine(source, { format: 'finetune', choice: 2 })).toEqual({ skipped: 'missing_choice' });
    const evalItem = (choice: number) => (JSON.parse((formatLine(source, { format: 'eval', choice }) as { line: string }).line) as { item: Json }).item;
    expect([evalItem(0).output, evalItem(1).output]).toEqual(['first', 'second']);
  });

  const user = [{ role: 'user', content: 'Hi' }];
  const skips: [SkipReason, ExportItem, number?][] = [
    ['missing_choice', item({ messages: user }, [reply({ content: 'only one' })]), 1],
    ['no_input', item({ messages: [] }, [reply({ content: 'An answer to nothing.' })])],
    ['empty_reply', item({ messages: user }, [reply({ content: '' })])],
    ['empty_reply', item({ messages: user }, [reply({ content: null })])],
    ['refusal', item({ messages: user }, [reply({ content: null, refusal: "I can't help with that." })])],
    ['length', item({ messages: user }, [reply({ content: 'It all began' }, 'length')])],
    ['content_filter', item({ messages: user }, [reply({ content: 'Well' }, 'content_filter')])],
    [
      'unpaired_tool_call',
      item({ tools: [weather], messages: [{ role: 'user', content: 'Oslo?' }, { role: 'assistant', content: null, tool_calls: [call('c1', 'Oslo')] }, { role: 'user', content: 'Well?' }] }, [
        reply({ content: 'Sorry.' }),
      ]),
    ],
    ['unpaired_tool_call', item({ tools: [weather], messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'nope', content: '1' }] }, [reply({ content: 'ok' })])],
    ['tools_missing', item({ messages: [{ role: 'user', content: 'Oslo?' }] }, [reply({ content: null, tool_calls: [call('c1', 'Oslo')] }, 'tool_calls')])],
    [
      'empty_message',
      item({ messages: [{ role: 'user', content: 'Pick a lock?' }, { role: 'assistant', content: null, refusal: "I can't help with that." }, { role: 'user', content: 'A joke then' }] }, [
        reply({ content: 'Here is one.' }),
      ]),
    ],
    ['empty_message', item({ messages: [{ role: 'user', content: 'Say hi' }, { role: 'assistant', audio: { id: 'audio_1' } }, { role: 'user', content: 'Again' }] }, [reply({ content: 'Hi' })])],
    [
      'legacy_function_call',
      item(
        {
          functions: [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
          messages: [{ role: 'user', content: 'Oslo?' }, { role: 'assistant', content: null, function_call: legacyCall }, { role: 'function', name: 'get_weather', content: '12' }],
        },
        [reply({ content: 'It is 12.' })],
      ),
    ],
    ['legacy_function_call', item({ messages: [{ role: 'user', content: 'Oslo?' }] }, [reply({ content: null, function_call: legacyCall }, 'function_call')])],
    [
      'unsupported_content',
      item({ messages: [{ role: 'user', content: [{ type: 'text', text: 'What is said?' }, { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }] }] }, [
        reply({ content: 'Hello.' }),
      ]),
    ],
    [
      'unsupported_content',
      item({ messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc123' } }, { type: 'text', text: 'Sum it up' }] }] }, [reply({ content: 'It says...' })]),
    ],
    // An image where only a user's message may hold one (a lax provider took it; OpenAI's schema does not).
    ...(['system', 'developer', 'assistant'] as const).map((role): [SkipReason, ExportItem] => [
      'unsupported_content',
      item({ messages: [{ role, content: [{ type: 'text', text: 'Look:' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }, ...user] }, [
        reply({ content: 'Seen.' }),
      ]),
    ]),
    [
      'unsupported_content',
      item({ tools: [weather], messages: [...user, { role: 'assistant', content: null, tool_calls: [call('c1', 'Oslo')] }, { role: 'tool', tool_call_id: 'c1', content: [{ type: 'image_url', image_url: { url: 'https://example.com/map.png' } }] }] }, [
        reply({ content: 'Here.' }),
      ]),
    ],
    // An empty message, as the cookbook's check finds it: "" or text parts that are all "".
    ['empty_message', item({ messages: [{ role: 'system', content: '' }, ...user] }, [reply({ content: 'Hi.' })])],
    ['empty_message', item({ messages: [{ role: 'user', content: [{ type: 'text', text: '' }, { type: 'text', text: '' }] }] }, [reply({ content: 'Hi.' })])],
    ['unsupported_image', item({ messages: [{ role: 'user', content: [{ type: 'text', text: 'This?' }, { type: 'image_url', image_url: { url: 'DATA:image/gif;base64,R0lGODlhAQABAAAAACw=' } }] }] }, [reply({ content: 'A dot.' })])],
    // A custom tool (free-form input): fine-tuning's `tools` are function tools.
    [
      'unsupported_tool',
      item({ tools: [weather, { type: 'custom', custom: { name: 'code_exec' } }], messages: [{ role: 'user', content: 'Run it' }] }, [reply({ content: 'Done.' })]),
    ],
    [
      'unsupported_tool',
      item({ tools: [weather], messages: user }, [reply({ content: null, tool_calls: [{ id: 'c1', type: 'custom', custom: { name: 'code_exec', input: '1+1' } }] }, 'tool_calls')]),
    ],
    // Eleven images, or one given as GIF data: OpenAI's vision fine-tuning takes at most 10, in PNG, JPEG or WEBP.
    [
      'unsupported_image',
      item({ messages: [{ role: 'user', content: Array.from({ length: 11 }, (_, i) => ({ type: 'image_url', image_url: { url: `https://example.com/${i}.png` } })) }] }, [
        reply({ content: 'Eleven.' }),
      ]),
    ],
    [
      'unsupported_image',
      item({ messages: [{ role: 'user', content: [{ type: 'text', text: 'This?' }, { type: 'image_url', image_url: { url: 'data:image/gif;base64,R0lGODlhAQABAAAAACw=' } }] }] }, [
        reply({ content: 'A dot.' }),
      ]),
    ],
  ];
  it.each(skips)('are skipped for %s', (reason, source, choice = 0) => {
    expect(formatLine(source, { format: 'finetune', choice })).toEqual({ skipped: reason });
  });
});

describe('eval lines', () => {
  it('carry the id, model, input, reply text and metadata, and nothing else unless the sample is asked for', () => {
    const source = item({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] }, [reply({ content: 'Hello!' })], { env: 'prod' });
    const evalItem = {
      id: 'chatcmpl-1',
      model: 'gpt-4o-2024-08-06',
      input: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }],
      output: 'Hello!',
      metadata: { env: 'prod' },
    };
    // SPEC.md's line: `{"item": {...}}` alone.
    expect(formatLine(source, { format: 'eval', choice: 0 })).toEqual({ line: JSON.stringify({ item: evalItem }) });
    expect(formatLine(source, { format: 'eval', choice: 0, sample: false })).toEqual({ line: JSON.stringify({ item: evalItem }) });
    const formatted = formatLine(source, { format: 'eval', choice: 0, sample: true });
    expect(formatted).toEqual({
      line: JSON.stringify({
        item: evalItem,
        sample: {
          model: 'gpt-4o-2024-08-06',
          output_text: 'Hello!',
          output_tools: [],
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!', refusal: null }, logprobs: null, finish_reason: 'stop' }],
          finish_reason: 'stop',
          usage: null,
        },
      }),
    });
  });

  it("carry the reply as OpenAI's graders read a sample: its tool calls as output_tools, a JSON reply parsed as output_json with its integers as written", () => {
    const calls = [call('c1', 'Oslo')];
    const tools = formatLine(item({ tools: [weather], messages: [{ role: 'user', content: 'Oslo?' }] }, [reply({ content: null, tool_calls: calls }, 'tool_calls')]), {
      format: 'eval',
      choice: 0,
      sample: true,
    });
    const toolSample = (JSON.parse((tools as { line: string }).line) as { sample: Json }).sample;
    expect(toolSample).toEqual({
      model: 'gpt-4o-2024-08-06',
      output_text: '',
      output_tools: calls,
      choices: [{ index: 0, message: { role: 'assistant', refusal: null, content: null, tool_calls: calls }, logprobs: null, finish_reason: 'tool_calls' }],
      finish_reason: 'tool_calls',
      usage: null,
    });
    const text = ' {"city":"Oslo","id":9223372036854775807,"tags":["a"]}';
    const json = formatLine(item({ messages: [{ role: 'user', content: 'As JSON' }] }, [reply({ content: text })]), { format: 'eval', choice: 0, sample: true });
    const line = (json as { line: string }).line;
    expect(line).toContain('"output_json":{"city":"Oslo","id":9223372036854775807,"tags":["a"]}');
    expect((JSON.parse(line) as { sample: Json }).sample.output_text).toBe(text);
    for (const notJson of ['{"cut": "of', '42', '"a string"', 'Plain text.']) {
      const plain = formatLine(item({ messages: [{ role: 'user', content: 'Hi' }] }, [reply({ content: notJson })]), { format: 'eval', choice: 0, sample: true });
      expect(Object.keys((JSON.parse((plain as { line: string }).line) as { sample: Json }).sample)).toEqual(['model', 'output_text', 'output_tools', 'choices', 'finish_reason', 'usage']);
    }
  });

  it('keep a developer message as sent (only the finetune line renames it system)', () => {
    const source = item({ messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] }, [reply({ content: 'Hello!' })]);
    const line = JSON.parse((formatLine(source, { format: 'eval', choice: 0 }) as { line: string }).line) as { item: Json };
    expect(line.item.input).toEqual([{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]);
    const example = JSON.parse((formatLine(source, { format: 'finetune', choice: 0 }) as { line: string }).line) as Json;
    expect((example.messages as Json[])[0]).toEqual({ role: 'system', content: 'Be brief.' });
  });

  it("keep an earlier assistant turn's refusal or audio, which stand in for its content in a request (the finetune line drops the audio beside text)", () => {
    const messages = [
      { role: 'user', content: 'Pick a lock?' },
      { role: 'assistant', content: null, refusal: "I can't help with that." },
      { role: 'user', content: 'Say hi' },
      { role: 'assistant', content: 'Hi!', audio: { id: 'audio_1' } },
      { role: 'user', content: 'Again' },
    ];
    const source = item({ messages }, [reply({ content: 'Hi again.' })]);
    const line = JSON.parse((formatLine(source, { format: 'eval', choice: 0 }) as { line: string }).line) as { item: Json };
    expect(line.item.input).toEqual(messages.map(({ content, ...rest }) => (content === null ? rest : { content, ...rest })));
    const withText = item({ messages: messages.slice(2) }, [reply({ content: 'Hi again.' })]);
    const example = JSON.parse((formatLine(withText, { format: 'finetune', choice: 0 }) as { line: string }).line) as Json;
    expect(example.messages).toEqual([
      { role: 'user', content: 'Say hi' },
      { role: 'assistant', content: 'Hi!' },
      { role: 'user', content: 'Again' },
      { role: 'assistant', content: 'Hi again.' },
    ]);
  });

  it('keep a tool\'s empty result and a call a provider sent without a type (finetune)', () => {
    const untyped = { id: 'c1', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } };
    const messages = [{ role: 'user', content: 'Oslo?' }, { role: 'assistant', content: '', tool_calls: [untyped] }, { role: 'tool', tool_call_id: 'c1', content: '' }];
    const example = JSON.parse((formatLine(item({ tools: [weather], messages }, [reply({ content: 'No answer.' })]), { format: 'finetune', choice: 0 }) as { line: string }).line) as Json;
    expect((example.messages as Json[]).slice(1, 3)).toEqual([messages[1], messages[2]]);
  });

  it('are written for every completion, an empty output when the reply has no text', () => {
    const formatted = formatLine(item({ messages: [{ role: 'user', content: 'Hi' }] }, [reply({ content: null, refusal: 'No.' })]), { format: 'eval', choice: 0 });
    const line = JSON.parse((formatted as { line: string }).line) as { item: Json };
    expect(Object.keys(line)).toEqual(['item']);
    expect(Object.keys(line.item)).toEqual(['id', 'model', 'input', 'output', 'metadata']);
    expect(line.item.output).toBe('');
    // A missing choice: nothing came back for it.
    const missing = formatLine(item({ messages: [{ role: 'user', content: 'Hi' }] }, [reply({ content: 'only one' })]), { format: 'eval', choice: 1, sample: true });
    const sample = (JSON.parse((missing as { line: string }).line) as { sample: Json }).sample;
    expect([sample.output_text, sample.output_tools, sample.finish_reason]).toEqual(['', [], null]);
  });
});

describe('a completion too large for its line', () => {
  it('is skipped as too_large, not thrown: an eval line with its sample holds a 180 MB reply three times, past the longest string', () => {
    const big = item({ messages: [{ role: 'user', content: 'Write a lot' }] }, [reply({ content: 'a'.repeat(180_000_000) })]);
    expect(formatLine(big, { format: 'eval', choice: 0, sample: true })).toEqual({ skipped: 'too_large' });
    // The same completion as a completions line (the reply once) still fits.
    expect('line' in formatLine(big, { format: 'completions', choice: 0 })).toBe(true);
    // Hundreds of megabytes built and copied: seconds alone, past 30 s beside another file on CI's 2 cores (failed so).
  }, 120_000);
});
