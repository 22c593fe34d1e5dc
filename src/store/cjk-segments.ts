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

/**
 * A run is found a piece at a time: V8's regular expressions backtrack through a stack, and an unbounded `+`
 * over a run of a few million characters (a reply of ~10 MB in Chinese) overflowed it, a RangeError that failed
 * the create or import on both backends. Pieces that touch are one run.
 */
const CJK_PIECE = new RegExp(`${CJK_RUN.source.slice(0, -1)}{1,4096}`, 'gu');

/** Pieces of the output are joined this many at a time: a long run is a few flat strings, never millions of pieces. */
const PIECES_PER_CHUNK = 8192;

/** The text with each CJK run written as its characters and neighbouring pairs, space-separated (see above). */
export function segmentCjk(text: string): string {
  if (!MAYBE_CJK.test(text)) return text;
  const chunks: string[] = [];
  let pieces: string[] = [];
  const put = (piece: string) => {
    pieces.push(piece);
    if (pieces.length >= PIECES_PER_CHUNK) {
      chunks.push(pieces.join(''));
      pieces = [];
    }
  };
  // `text` before `copied` is written; the run found so far is text[runStart, runEnd).
  let copied = 0;
  let runStart = -1;
  let runEnd = -1;
  const writeRun = () => {
    if (runStart < 0) return;
    put(text.slice(copied, runStart));
    let previous: string | undefined;
    for (const character of text.slice(runStart, runEnd)) {
      if (previous !== undefined) put(` ${previous}${character}`);
      put(` ${character}`);
      previous = character;
    }
    put(' ');
    copied = runEnd;
  };
  CJK_PIECE.lastIndex = 0;
  for (let match = CJK_PIECE.exec(text); match !== null; match = CJK_PIECE.exec(text)) {
    if (match.index !== runEnd) {
      writeRun();
      runStart = match.index;
    }
    runEnd = match.index + match[0].length;
  }
  writeRun();
  put(text.slice(copied));
  chunks.push(pieces.join(''));
  return chunks.length === 1 ? chunks[0]! : chunks.join('');
}
