import { describe, expect, it } from 'vitest';
import { toImportedRecord } from '../src/import/completion-line.ts';
import { tokenCountsOf } from '../src/store/derived-fields.ts';
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
