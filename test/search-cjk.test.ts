import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { ChatCompletionListParams } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from './helpers/fake-upstream.ts';
import { seedCompletion } from './helpers/seed.ts';
import { holdsCjk, segmentCjk } from '../src/store/cjk-segments.ts';
import { type Service, startService } from './helpers/service.ts';

/**
 * Search in scripts written without spaces between words (src/store/cjk-segments.ts): a run of
 * Chinese, Japanese or Korean characters in a search finds the texts holding that run, wherever it
 * stands in theirs, on both backends. Before, a whole run up to the next punctuation was one word,
 * so `東京` did not find `東京タワーに行きたいです`.
 */

const CREATED = 1_767_225_600;
const TEXTS: [user: string, reply: string][] = [
  ['東京タワーに行きたいです。', 'いいですね！'],
  ['北京的天气怎么样？', '今天北京晴天。'],
  ['서울에서 만나요', '좋아요'],
  ['iPhone用のケースを探しています', 'Here are three cases.'],
  ['Is Kyoto nice in spring?', '京都 is lovely in spring.'],
  ['Plain English, nothing else.', 'Indeed.'],
];

let upstream: FakeUpstream;
let service: Service;
const ids: string[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream();
  service = await startService({ upstreamUrl: upstream.url });
  for (const [n, [user, reply]] of TEXTS.entries()) {
    ids.push(
      await seedCompletion(service.client(), upstream, {
        created: CREATED + n,
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: user }],
        replies: [{ content: reply }],
      }),
    );
  }
});

afterAll(async () => {
  await service?.close();
  await upstream?.close();
});

async function found(search: string): Promise<string[]> {
  const out: string[] = [];
  for await (const completion of service.client().chat.completions.list({ search, order: 'asc', limit: 100 } as ChatCompletionListParams)) {
    out.push(completion.id);
  }
  return out;
}

/** The texts (by their place in TEXTS) a search finds. */
const CASES: [search: string, texts: number[]][] = [
  ['東京', [0]],
  ['タワー', [0]],
  ['行きたい', [0]],
  ['東京タワー 行きたい', [0]],
  ['京', [0, 1, 4]],
  ['京都', [4]],
  ['北京 天气', [1]],
  ['天气怎么样', [1]],
  ['北京晴天', [1]],
  ['서울', [2]],
  ['만나요', [2]],
  ['iPhone', [3]],
  ['iPhone用', [3]],
  ['ケース', [3]],
  // The characters must stand side by side, in this order.
  ['タワ東京', []],
  ['東タ', []],
  ['大阪', []],
  ['spring 京都', [4]],
];

describe('search in Chinese, Japanese and Korean text', () => {
  for (const [search, texts] of CASES) {
    it(`"${search}" finds ${texts.length === 0 ? 'nothing' : texts.map((n) => JSON.stringify(TEXTS[n]![0])).join(', ')}`, async () => {
      expect(await found(search)).toEqual(texts.map((n) => ids[n]));
    });
  }

  it('leaves other text as it was: whole words, no prefixes', async () => {
    expect(await found('English')).toEqual([ids[5]]);
    expect(await found('Engl')).toEqual([]);
  });
});

describe('what finds the completions to index again finds every one the segmenting changes', () => {
  const postgres = readFileSync(new URL('../migrations-pg/0007_search_cjk_reindex.sql', import.meta.url), 'utf8');
  // PostgreSQL's regular expression: `\\uXXXX` and `\\UXXXXXXXX` escapes, `a-b` ranges.
  const cls = /~ '\[([^\]]+)\]'/u.exec(postgres)![1]!;
  const postgresRanges = [...cls.matchAll(/\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))-\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))/gu)].map(
    (m) => [parseInt(m[1] ?? m[2]!, 16), parseInt(m[3] ?? m[4]!, 16)] as [number, number],
  );

  it('SQLite\'s holdsCjk and PostgreSQL migration 0007\'s ranges take in every character the segmenting splits out', () => {
    expect(postgresRanges.length).toBeGreaterThan(5);
    const missed: string[] = [];
    for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
      if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
      const character = String.fromCodePoint(codePoint);
      const split = segmentCjk(character) !== character;
      if (holdsCjk(character) !== split) missed.push(`holdsCjk ${codePoint.toString(16)}`);
      if (split && !postgresRanges.some(([first, last]) => codePoint >= first && codePoint <= last)) missed.push(`0007 ${codePoint.toString(16)}`);
    }
    expect(missed).toEqual([]);
  });
});

describe('segmenting a long run', () => {
  /** The segmenting as first written: one match per run, the run spread into an array. */
  const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc\uff70]+/gu;
  function segmentWhole(text: string): string {
    return text.replace(CJK_RUN, (run) => {
      const characters = Array.from(run);
      const parts: string[] = [];
      for (let i = 0; i < characters.length; i++) {
        parts.push(characters[i]!);
        if (i + 1 < characters.length) parts.push(characters[i]! + characters[i + 1]!);
      }
      return ` ${parts.join(' ')} `;
    });
  }

  it('writes every run as one, pieces found apart included, as the whole run is written', () => {
    const unit = fc.constantFrom('東', 'タ', '한', 'ー', '𠀋', 'a', ' ', '。', 'é');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 60 }), (text) => {
        expect(segmentCjk(text)).toBe(segmentWhole(text));
      }),
      { numRuns: 2000 },
    );
    // Runs longer than a piece (4,096 characters), with a character of two UTF-16 units at the seams.
    const long = `x ${'東京𠀋タワー'.repeat(5_000)} y ${'한'.repeat(8_193)}`;
    expect(segmentCjk(long)).toBe(segmentWhole(long));
  });

  it('segments a run of millions of characters, where one match of the whole run overflowed the stack', () => {
    const run = '東京タワーに行きたい'.repeat(500_000);
    // segmentWhole(run) throws RangeError (Maximum call stack size exceeded) on Node 20.
    const segmented = segmentCjk(run);
    // Each character with a space before it, each pair of neighbours too, and a space at the end.
    expect(segmented.length).toBe(5 * run.length - 2);
    expect(segmented.startsWith(' 東 東京 京 京タ ')).toBe(true);
    expect(segmented.endsWith(' た たい い ')).toBe(true);
  });
});
