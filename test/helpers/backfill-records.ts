import type { CompletionRecord } from '../../src/store/index.ts';
import { toCompletionRecord } from '../../src/wire.ts';

/**
 * Completions of every shape the backfills must handle (text parts, images, refusals, several
 * choices, tool calls, figures missing or not integers, punctuation inside a word), shared by
 * both backends' backfill tests, and what the store answers for them.
 */
const EXCHANGES: { messages: unknown[]; choices: unknown[]; usage?: unknown }[] = [
  { messages: [{ role: 'user', content: 'plain alpha' }], choices: [{ index: 0, message: { role: 'assistant', content: 'reply bravo' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
  {
    messages: [
      { role: 'system', content: 'system charlie' },
      { role: 'user', content: [{ type: 'text', text: 'parts delta' }, { type: 'image_url', image_url: { url: 'https://example.com/echo.png' } }, { type: 'text', text: 'foxtrot' }] },
    ],
    choices: [
      { index: 0, message: { role: 'assistant', content: null, refusal: 'refused golf' }, finish_reason: 'stop' },
      { index: 1, message: { role: 'assistant', content: 'second hotel' }, finish_reason: 'stop' },
    ],
  },
  {
    messages: [{ role: 'user', content: 'tools india' }],
    choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'juliet', arguments: '{"kilo":1}' } }] }, finish_reason: 'tool_calls' }],
    usage: { prompt_tokens: '5', completion_tokens: 2.5, total_tokens: -1 },
  },
  { messages: [{ role: 'user', content: "don't lima" }], choices: [{ index: 0, message: { role: 'assistant', content: ['mike'] }, finish_reason: 'stop' }], usage: { prompt_tokens: 11, completion_tokens: 0, total_tokens: 11 } },
];

export function backfillRecords(): CompletionRecord[] {
  return EXCHANGES.map((exchange, n) =>
    toCompletionRecord({
      request: { model: 'gpt-4o', messages: exchange.messages },
      response: { id: `chatcmpl-${n}`, created: 1_767_225_600 + n * 50_000, model: n % 2 ? 'gpt-4o-2024-08-06' : 'gpt-4o', choices: exchange.choices, usage: exchange.usage },
      id: `chatcmpl-${n}`,
      requestId: `req_${n}`,
      metadata: {},
      now: 0,
    }),
  );
}

export const BACKFILL_WORDS = ['plain', 'alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', "don't", 'mike'];

/** What a search for each word finds: the text of messages and replies, nothing else. */
export const BACKFILL_SEARCHED: Record<string, string[]> = {
  plain: ['chatcmpl-0'], alpha: ['chatcmpl-0'], bravo: ['chatcmpl-0'], charlie: ['chatcmpl-1'], delta: ['chatcmpl-1'],
  echo: [], foxtrot: ['chatcmpl-1'], golf: ['chatcmpl-1'], hotel: ['chatcmpl-1'], india: ['chatcmpl-2'], juliet: [], kilo: [],
  lima: ['chatcmpl-3'], "don't": ['chatcmpl-3'], mike: [],
};

/** The usage rows: [day, model, completions, prompt, completion, total tokens]. */
export const BACKFILL_USAGE = [
  [20454, 'gpt-4o', 1, 3, 4, 7],
  [20454, 'gpt-4o-2024-08-06', 1, 0, 0, 0],
  [20455, 'gpt-4o', 1, 0, 0, 0],
  [20455, 'gpt-4o-2024-08-06', 1, 11, 0, 11],
];
