import { describe, expect, it } from 'vitest';
import type { FakeUpstream } from './helpers/fake-upstream.ts';
import { seedCompletion } from './helpers/seed.ts';
import { type Service, useServiceEachTest } from './helpers/service.ts';
// The UI's matcher, a plain module: what the web UI marks and opens its fold for (src/ui/search-marks.js).
// @ts-expect-error: a browser module without types
import { searchMatcher } from '../src/ui/search-words.js';

/**
 * The web UI marks a search's words where the service would find them: for each search word here, the
 * completions the service finds are exactly those whose text the UI's matcher holds it in.
 */
const CREATED = 1_767_225_600;
const TEXTS = [
  "Don't e-mail me about the Crème BRÛLÉE, naïve façade",
  'dont email me; e mail is fine',
  'snake_case and camelCase, foo_bar',
  'foo bar baz',
  'Café Nord, CAFE sud, cafés',
  'e\u0301clair (decomposed accent)',
  'refund refunds refunded REFUND',
  '東京タワーに行きたいです。',
  '北京的天气怎么样？今天北京晴天。',
  '서울에서 만나요',
  'iPhone用のケースを探しています',
  'ภาษาไทยง่ายนิดเดียว',
  'Ἀθῆναι straße İstanbul',
  'version 4o-mini, gpt-4o, 2024-05-13',
  'x² ½ Ⅻ ﬁne',
  'abc東京def',
  'ありがとう Йогурт',
  // Marks apart from their letter: the service drops U+0301 after any letter, and splits a word at a Hindi or Arabic vowel sign.
  'γα\u0301λα και μέλι',
  'मुझे किताबें पसंद हैं',
  'كَتَبَ الوَلَدُ',
];
const WORDS = [
  "don't", 'dont', 'don', 't', 'e-mail', 'email', 'e', 'mail', 'creme', 'brulee', 'naive', 'facade', 'crème',
  'snake_case', 'snake', 'case', 'foo_bar', 'foo', 'bar', 'camelcase', 'cafe', 'café', 'cafés', 'cafes', 'eclair',
  'éclair', 'refund', 'REFUND', 'refunds', '東京', '京タ', 'タワー', '行きたい', '北京', '天', '晴天。', '서울', '울에', '만나요',
  'iphone用', '用の', 'ภาษาไทย', 'ไทย', 'ภาษาไทยง่ายนิดเดียว', 'αθηναι', 'straße', 'strasse', 'istanbul', 'i̇stanbul',
  '4o', 'mini', 'gpt-4o', '2024', '05-13', 'x2', 'x', '2', '½', '12', 'xii', 'fine', 'ﬁne', 'abc東京', '東京def', 'abc', 'def',
  'ありがとう', 'ありかとう', 'がと', 'йогурт', 'иогурт', 'ἀθῆναι',
  'γαλα', 'γάλα', 'μελι', 'μέλι', 'किताब', 'किताबें', 'पसंद', 'ह', 'كتب', 'كَتَبَ', 'ك',
];

let upstream: FakeUpstream;
let service: Service;
useServiceEachTest((started) => ({ upstream, service } = started));

/** The ids the service's search finds for `search`, oldest first (fewer than a page). */
async function found(search: string): Promise<string[]> {
  const res = await service.request(`/v1/chat/completions?limit=100&order=asc&search=${encodeURIComponent(search)}`);
  expect(res.status).toBe(200);
  return (await res.json()).data.map((completion: { id: string }) => completion.id);
}

describe("the web UI's search marks agree with the service's search", () => {
  it('finds each word in the texts the service finds it in, and only those', async () => {
    const ids: string[] = [];
    for (const [n, text] of TEXTS.entries()) {
      ids.push(await seedCompletion(service.client(), upstream, { created: CREATED + n, model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }], replies: [{ content: 'ok' }] }));
    }
    const disagreements: string[] = [];
    for (const word of WORDS) {
      const matcher = searchMatcher(word);
      const marked = ids.filter((_, n) => matcher.holds(TEXTS[n]));
      const byService = await found(word);
      if (JSON.stringify(marked) !== JSON.stringify(byService)) {
        disagreements.push(`${word}: service ${byService.map((id) => ids.indexOf(id))}, UI ${marked.map((id) => ids.indexOf(id))}`);
      }
    }
    expect(disagreements).toEqual([]);
  });
});
