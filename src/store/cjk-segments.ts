/**
 * Chinese, Japanese and Korean text is written without spaces between words, so a full-text
 * tokenizer that splits on what is not a letter (SQLite's `unicode61`, and the PostgreSQL backend's
 * copy of it) makes a whole run of it one token: `東京タワーに行きたい` was a single word, and a
 * search for `東京` found nothing. As search engines do for these scripts (Lucene's CJK bigrams),
 * each run is indexed as its characters and the pairs of neighbouring characters, in text order:
 * `東京タ` becomes `東 東京 京 京タ タ`. A search word goes through the same, and is matched as a
 * phrase (tokens side by side, as for `don't`), so a run in a search matches wherever that run of
 * characters occurs in the text: every character of it, in order, with nothing between.
 *
 * The pairs make a search narrow in the index (a pair is far rarer than a character); the single
 * characters let a one-character search, or a run's last character, match.
 */

/** Scripts written without spaces (Han, kana) or with particles joined to words (Hangul); `ー` and `ｰ` are kana's long vowel marks. */
const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc\uff70]+/gu;
/** No character of those scripts is below U+1100: text without one (most text) is left as it is at a glance. */
const MAYBE_CJK = /[\u1100-\uffff\ud800-\udbff]/;

const CJK_CHARACTER = new RegExp(CJK_RUN.source, 'u');

/** Whether the text holds a character the segmenting splits out (a stored JSON text too: JSON.stringify writes them unescaped). */
export function holdsCjk(text: string): boolean {
  return MAYBE_CJK.test(text) && CJK_CHARACTER.test(text);
}

/** The text with each CJK run written as its characters and neighbouring pairs, space-separated (see above). */
export function segmentCjk(text: string): string {
  if (!MAYBE_CJK.test(text)) return text;
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
