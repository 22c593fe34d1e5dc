import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { searchColumnsOf, searchTokens } from '../src/store/postgres/search-tokens.ts';

/**
 * PostgreSQL's search splits and folds text with a table read out of SQLite's FTS5
 * (scripts/generate-search-folding.mjs): here the two are compared on the same texts,
 * SQLite's tokens read back through fts5vocab, so both backends find the same completions.
 */
const sqlite = new Database(':memory:');
sqlite.exec(`CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61 remove_diacritics 2');
  CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')`);

function fts5Tokens(text: string): string[] {
  sqlite.prepare('DELETE FROM t').run();
  sqlite.prepare('INSERT INTO t (rowid, x) VALUES (1, ?)').run(text);
  return sqlite.prepare('SELECT term FROM v ORDER BY offset').pluck().all() as string[];
}

describe('search tokens on PostgreSQL', () => {
  it('splits and folds the planted cases as FTS5 does', () => {
    for (const text of [
      "Don't e-mail me: Crème BRÛLÉE, naïve façade",
      'she wrote "NEAR" (x OR y) -minus *star* AND col:umn',
      'Ἀθῆναι ΆΈ ǡ ǽ Ⅻ ½ ﬁ straße ǅ İstanbul',
      'e\u0301 \u0301 q\u0301q 日本語のテキスト 한국어 العربية',
      'emoji 🍎🍌 tab\tnew\nline\u00a0nbsp\u200bzero',
      // Tokens that stay as they are (read as one slice), and ones that start so, then fold or drop a character.
      'plain words 42 plainThenFOLD abc\u0301def \u0301\u0301 x\u0301 tail',
    ]) {
      expect(searchTokens(text), text).toEqual(fts5Tokens(text));
    }
  });

  it('agrees with FTS5 on random ASCII text (read by a fast path of its own)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constantFrom(' ', '-', '_', 'A', 'z', '9'), fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 })), maxLength: 40 }), (text) => {
        expect(searchTokens(text)).toEqual(fts5Tokens(text));
      }),
      { numRuns: 3000 },
    );
    expect(searchTokens(String.fromCharCode(...Array.from({ length: 128 }, (_, c) => c)))).toEqual(fts5Tokens(String.fromCharCode(...Array.from({ length: 128 }, (_, c) => c))));
  });

  it('agrees with FTS5 on random text drawn from the whole of Unicode', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constantFrom(' ', '-', 'A', 'é', '\u0301'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 }), (text) => {
        expect(searchTokens(text)).toEqual(fts5Tokens(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with FTS5 on a text longer than the buffer its token text is written through, tokens across the seams', () => {
    // ~300,000 UTF-16 units: several of the 65,536-unit chunks, with folded, dropped and two-unit characters at every offset.
    const text = Array.from({ length: 30_000 }, (_, i) => ['Crème', 'e\u0301x', '🍎z', 'ΆΈ', 'plain', 'Straße'][i % 6]! + (i % 7 === 0 ? '' : ' ')).join('');
    expect(searchTokens(text)).toEqual(fts5Tokens(text));
  });

  it('keys each distinct token once, in first-seen order, a long one by its first 100 characters', () => {
    const long = 'a'.repeat(100);
    const record = (content: string) => ({ messages: [JSON.stringify({ role: 'user', content })], choices: [] });
    const columns = searchColumnsOf(7, record(`b ${long}x A b ${long}y ${long} c`));
    // The two long tokens and the 100-character one share one key; the text keeps every token.
    expect(columns.keys).toBe(`7:b 7:${long} 7:a 7:c`);
    expect(columns.text).toBe(` b ${long}x a b ${long}y ${long} c `);
    expect(searchColumnsOf(7, record('... --'))).toEqual({ keys: '', text: '  ' });
  });
});
