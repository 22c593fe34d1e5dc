import { describe, expect, it } from 'vitest';
import { toImportedRecord } from '../src/import/completion-line.ts';
import { formatUtcDay, searchTextOf, tokenCountsOf, utcDayOf } from '../src/store/derived-fields.ts';
import { toCompletionRecord } from '../src/wire.ts';

/**
 * A record built from a parsed response carries its token figures, so a store need not parse the
 * body again; they must be exactly what the body's `usage` gives when read back (which is what a
 * copy, a restore and the migrations' SQL backfills see).
 */
describe('token figures carried by a record', () => {
  const usages: unknown[] = [
    { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    JSON.parse('{"prompt_tokens": -0, "completion_tokens": 0, "total_tokens": 1e20}'),
    { prompt_tokens: '5', completion_tokens: 2.5, total_tokens: -1 },
    { prompt_tokens: null },
    'none',
    undefined,
  ];

  it('are the figures read back from the stored body, for every shape of usage', () => {
    for (const usage of usages) {
      const built = toCompletionRecord({
        request: { model: 'gpt-4o', messages: [] },
        response: { id: 'chatcmpl-x', created: 1, model: 'gpt-4o', choices: [], usage },
        id: 'chatcmpl-x',
        requestId: 'req_x',
        metadata: {},
        now: 0,
      });
      const imported = toImportedRecord({ ...JSON.parse(built.body), choices: [], metadata: {} }, 0);
      const readBack = tokenCountsOf({ ...built, tokens: undefined });
      expect(built.tokens, JSON.stringify(usage)).toEqual(readBack);
      expect(imported.tokens, JSON.stringify(usage)).toEqual(readBack);
      expect(Object.is(built.tokens!.promptTokens, -0)).toBe(false);
    }
  });
});

/**
 * A record built from parsed values carries its search text, so a store need not parse its messages (a request's
 * images) again; it must be exactly the text read back from the record's texts (what a copy, a restore and the
 * search index's migrations see).
 */
describe('the search text carried by a record', () => {
  const messages: unknown[] = [
    { role: 'user', content: 'plain 東京タワー' },
    { role: 'user', content: [{ type: 'text', text: 'first' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }, { type: 'text', text: 'second \ud800' }] },
    { role: 'assistant', content: null, refusal: 'I cannot "say"\n that' },
    { role: 'user', content: [{ type: 'text', text: 7 }, { type: 'input_audio' }, 'loose'] },
    JSON.parse('{"role":"user","content":"proto","__proto__":{"content":"not this"},"refusal":3}'),
    { role: 'tool', content: 12, tool_call_id: 'call_1' },
    'not an object',
  ];
  const choices: unknown[] = [
    { index: 0, message: { role: 'assistant', content: 'answer ١٢٣', refusal: null }, finish_reason: 'stop' },
    { message: { content: [{ type: 'text', text: 'part one' }, { type: 'refusal', refusal: 'no' }, { type: 'text', text: 'part two' }], refusal: 'declined' } },
    { message: 'not an object' },
    { index: 3, message: { content: 9007199254740993 } },
    null,
  ];

  it('is the text read back from its texts, for every shape of message and choice', () => {
    const built = toCompletionRecord({
      request: { model: 'gpt-4o', messages },
      response: { id: 'chatcmpl-x', created: 1, model: 'gpt-4o', choices, usage: {} },
      id: 'chatcmpl-x',
      requestId: 'req_x',
      metadata: {},
      now: 0,
    });
    const readBack = searchTextOf({ messages: [...built.messages], choices: [...built.choices] });
    const imported = toImportedRecord(
      { ...JSON.parse(built.body), choices: built.choices.map((c) => JSON.parse(c)), input_messages: built.messages.map((m) => JSON.parse(m)), metadata: {} },
      0,
    );
    expect(readBack).toContain('second \ud800');
    expect(searchTextOf(built)).toBe(readBack);
    expect(searchTextOf(imported)).toBe(readBack);
    // A record copied with other messages is read from its own texts, not given the text of the values it was built from.
    expect(searchTextOf({ ...built, messages: [JSON.stringify({ role: 'user', content: 'other' })] })).toBe(
      searchTextOf({ messages: [JSON.stringify({ role: 'user', content: 'other' })], choices: [...built.choices] }),
    );
  });
});

describe('a usage day written as a date', () => {
  it('is what toISOString writes, across every year Date can hold', () => {
    const limit = Math.floor(8.64e15 / 86_400_000);
    const days = [-limit, -719_529, -719_528, -1, 0, 1, 11_016, 20_791, 2_932_896, 2_932_897, limit];
    for (let day = -limit; day <= limit; day += 7_919_993) days.push(day);
    for (const day of days) expect(formatUtcDay(day), String(day)).toBe(new Date(day * 86_400_000).toISOString().split('T')[0]);
  });

  it('is written past the year 275760 too, where Date ends and toISOString throws', () => {
    // A database written before created was bounded may hold any safe integer; its usage must still be answered.
    expect(() => new Date(utcDayOf(Number.MAX_SAFE_INTEGER) * 86_400_000).toISOString()).toThrow(RangeError);
    expect(formatUtcDay(utcDayOf(Number.MAX_SAFE_INTEGER))).toBe('+285428751-11-12');
    expect(formatUtcDay(utcDayOf(-Number.MAX_SAFE_INTEGER))).toBe('-285424812-02-20');
    // The calendar repeats every 400 years (146,097 days): the far days checked against Date's, cycles apart.
    const CYCLE = 146_097;
    for (const day of [utcDayOf(Number.MAX_SAFE_INTEGER), utcDayOf(-Number.MAX_SAFE_INTEGER), 123_456_789_012, -98_765_432_101]) {
      const cycles = Math.trunc(day / CYCLE);
      const [year, month, date] = new Date((day - cycles * CYCLE) * 86_400_000).toISOString().split('T')[0]!.match(/^([+-]?\d+)-(\d\d)-(\d\d)$/)!.slice(1);
      const shiftedYear = Number(year) + cycles * 400;
      expect(formatUtcDay(day)).toBe(`${shiftedYear < 0 ? '-' : '+'}${String(Math.abs(shiftedYear)).padStart(6, '0')}-${month}-${date}`);
    }
  });
});
