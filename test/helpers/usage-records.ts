import type { CompletionRecord } from '../../src/store/index.ts';
import { toCompletionRecord } from '../../src/wire.ts';

/**
 * A gpt-4o completion of 2 tokens stored at `created` (Unix seconds, any safe integer: a database written before
 * `created` was bounded held such): what the usage panel's tests put straight into the store, one day at a time.
 */
export function usageRecord(id: string, created: number): CompletionRecord {
  return {
    ...toCompletionRecord({
      request: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] },
      response: { id, created: 0, model: 'gpt-4o', choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
      id,
      requestId: `req_${id}`,
      metadata: {},
      now: 0,
    }),
    created,
  };
}
