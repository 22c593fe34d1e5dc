import { randomBytes } from 'node:crypto';
import { fakeCompletion, sendJson, type FakeUpstream } from './fake-upstream.ts';
import type { MadeCompletion } from './list-order.ts';
import type { Service } from './service.ts';

/**
 * 150 completions for the list's and usage's extensions, made through the official client:
 * four sharing each second, a second every two hours (four UTC days), ids random; words planted
 * so that `apple` is in every other input, `zebra` in one in 17, `banana` only in some replies,
 * and FTS5's syntax (quotes, `*`, `-`, `NEAR`, `OR`, parentheses) as plain text in one in 10.
 * Usage figures vary, and are missing or not integers on a few.
 */
export interface Made extends MadeCompletion {
  /** Everything search looks at: input message texts and the reply. */
  text: string;
  /** What usage adds up for it (0 where the provider's figure was missing or not an integer). */
  tokens: { prompt: number; completion: number; total: number };
}

export const SEARCHABLE_COUNT = 150;
export const FIRST_CREATED = 1_767_225_600; // 2026-01-01T00:00:00Z
/** Seconds between two groups of four completions sharing a second. */
export const SPACING = 7200;
export const OPERATORS_TEXT = 'she wrote "NEAR" (x OR y) -minus *star* AND col:umn';
const MODELS = ['model-a', 'model-b', 'model-c'];

function inputText(i: number): string {
  const words = [`question n${i}`];
  if (i % 2 === 0) words.push('apple');
  if (i % 17 === 0) words.push('Zebra');
  if (i % 10 === 3) words.push(OPERATORS_TEXT);
  if (i % 25 === 1) words.push('Crème brûlée');
  return words.join(' ');
}

function replyText(i: number): string {
  return i % 3 === 0 ? `banana answer ${i}` : `cherry answer ${i}`;
}

/** The provider's usage for completion i, and what the service should count of it. */
function usageOf(i: number): { sent: Record<string, unknown> | undefined; counted: Made['tokens'] } {
  if (i % 11 === 5) return { sent: undefined, counted: { prompt: 0, completion: 0, total: 0 } };
  const prompt = 10 + i;
  const completion = i % 7;
  if (i % 13 === 6) {
    return { sent: { prompt_tokens: String(prompt), completion_tokens: completion, total_tokens: 1.5 }, counted: { prompt: 0, completion, total: 0 } };
  }
  return { sent: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }, counted: { prompt, completion, total: prompt + completion } };
}

export async function seedSearchable(target: Service, fake: FakeUpstream, into: Made[]): Promise<void> {
  const scripted = new Map<string, number>();
  fake.handler = (request, res) => {
    const id = fake.nextIds.shift()!;
    const completion = fakeCompletion(request.json!, id, fake.created) as { choices: { message: { content: string } }[]; usage?: unknown };
    const i = scripted.get(id);
    if (i !== undefined) {
      completion.choices[0]!.message.content = replyText(i);
      const { sent } = usageOf(i);
      if (sent) completion.usage = sent;
      else delete completion.usage;
    }
    sendJson(res, 200, completion);
  };
  const client = target.client();
  for (let i = 0; i < SEARCHABLE_COUNT; i++) {
    const id = `chatcmpl-${randomBytes(12).toString('base64url')}`;
    const created = FIRST_CREATED + Math.floor(i / 4) * SPACING;
    const requestedModel = MODELS[i % 3]!;
    const metadata = { user: `u${i % 4}`, env: i % 2 === 0 ? 'prod' : 'dev' };
    fake.created = created;
    fake.nextIds.push(id);
    scripted.set(id, i);
    const content = inputText(i);
    await client.chat.completions.create({
      model: requestedModel,
      messages: [
        { role: 'system', content: 'You answer fruit questions.' },
        { role: 'user', content: [{ type: 'text', text: content }] },
      ],
      store: true,
      metadata,
    });
    into.push({
      id,
      created,
      requestedModel,
      model: `${requestedModel}-2024-01-01`,
      metadata,
      text: `You answer fruit questions. ${content} ${replyText(i)}`,
      tokens: usageOf(i).counted,
    });
  }
}

/** Lowercased words as the search sees them (letters and digits; accents folded). */
export function words(text: string): string[] {
  return (text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
}

/**
 * The search's contract: every whitespace-separated word must occur; a word that punctuation
 * splits ("col:umn", "don't") must occur as those tokens side by side; a word without letters
 * or digits is ignored, and a search with none matches nothing.
 */
export function matchesSearch(m: Made, search: string): boolean {
  const have = words(m.text).join(' ');
  const wanted = search
    .split(/\s+/)
    .map(words)
    .filter((tokens) => tokens.length > 0);
  return wanted.length > 0 && wanted.every((tokens) => ` ${have} `.includes(` ${tokens.join(' ')} `));
}
