import type { CompletionRecord } from '../../src/store/index.ts';
import { toCompletionRecord } from '../../src/wire.ts';

/**
 * Twelve completions for the migrations that index CJK text again for search (SQLite 0009,
 * PostgreSQL 0007): completion n's input and reply, every third in Japanese, every third in
 * Chinese, the rest in English.
 */
export function cjkTexts(n: number): [input: string, reply: string] {
  if (n % 3 === 0) return [`東京タワーに行きたい ${n}`, `いいですね ${n}`];
  if (n % 3 === 1) return [`北京的天气 ${n}`, `晴天 ${n}`];
  return [`plain question ${n}`, `plain answer ${n}`];
}

export const CJK_RECORD_COUNT = 12;

/** The records, ids `chatcmpl-<n>`, one second apart. */
export function cjkRecords(): CompletionRecord[] {
  return Array.from({ length: CJK_RECORD_COUNT }, (_, n) =>
    toCompletionRecord({
      request: { model: 'gpt-4o', messages: [{ role: 'user', content: cjkTexts(n)[0] }] },
      response: {
        id: `chatcmpl-${n}`,
        object: 'chat.completion',
        created: 1_767_225_600 + n,
        model: 'gpt-4o',
        choices: [{ index: 0, message: { role: 'assistant', content: cjkTexts(n)[1] }, finish_reason: 'stop' }],
      },
      id: `chatcmpl-${n}`,
      requestId: `req_${n}`,
      metadata: {},
      now: 0,
    }),
  );
}
