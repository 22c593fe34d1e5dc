import { endianness } from 'node:os';
import type { CompletionRecord } from '../contract.ts';
import { searchTextOf } from '../derived-fields.ts';
import { ACTIONS, SEGMENT_STARTS } from './search-folding.ts';

/**
 * Text as `search` sees it on PostgreSQL: split and folded exactly as SQLite's
 * FTS5 tokenizer (`unicode61 remove_diacritics 2`) does, from a table read out
 * of SQLite itself (search-folding.ts), so a search finds the same completions
 * on both backends. A token is a run of letters, digits and private-use
 * characters, lower-cased with its accents removed; everything else separates.
 */

type Action = number | 'S' | 'D';

/** The table's entry for a code point: binary search for the last segment starting at or before it. */
function lookUp(codePoint: number): Action {
  let low = 0;
  let high = SEGMENT_STARTS.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (SEGMENT_STARTS[middle]! <= codePoint) low = middle;
    else high = middle - 1;
  }
  return ACTIONS[low]!;
}

const ONLY_ASCII = /^[\x00-\x7f]*$/;
/** For each ASCII character, the byte it is in a token (letters and digits, lower-cased), 0 when it separates tokens. */
const ASCII_KEPT = Uint8Array.from({ length: 128 }, (_, c) => {
  const action = lookUp(c);
  return typeof action === 'number' ? c + action : 0;
});

/**
 * ASCII text's token text, a byte at a time through a table. A regular expression's replace or
 * match took ~0.7 µs a token (7 s for a 60 MB reply); this is one pass over the bytes.
 */
function asciiTokenText(text: string): string {
  const input = Buffer.from(text, 'latin1');
  const output = Buffer.allocUnsafe(input.length + 2);
  output[0] = 32;
  let length = 1;
  let inToken = false;
  let separate = false;
  for (let i = 0; i < input.length; i++) {
    const kept = ASCII_KEPT[input[i]!]!;
    if (kept === 0) {
      if (inToken) separate = true;
      inToken = false;
    } else {
      if (separate) output[length++] = 32;
      separate = false;
      inToken = true;
      output[length++] = kept;
    }
  }
  output[length++] = 32;
  return output.toString('latin1', 0, length);
}

/** What BMP_ACTIONS holds for a character that separates tokens, and for one that is dropped (numbers are offsets). */
const SEPARATES = 0x7fffffff;
const DROPPED = 0x7ffffffe;

/** The table's action for every code point below 0x10000, looked up by index (the binary search cost ~0.2 µs a character). */
const BMP_ACTIONS = Int32Array.from({ length: 0x10000 }, (_, c) => {
  const action = lookUp(c);
  return action === 'S' ? SEPARATES : action === 'D' ? DROPPED : action;
});

/** The token text is written as UTF-16 code units into a buffer this long, made a string each time it fills. */
const CHUNK_UNITS = 1 << 16;

const LITTLE_ENDIAN = endianness() === 'LE';

/** The first `length` code units as a string (read in place, as UTF-16LE; their bytes swapped first on a big-endian machine). */
function unitsToString(units: Uint16Array, length: number): string {
  const bytes = Buffer.from(units.buffer, 0, length * 2);
  return (LITTLE_ENDIAN ? bytes : bytes.swap16()).toString('utf16le');
}

/**
 * The token text of a text: its tokens in order (repeats kept), each between single spaces
 * (` t1 t2 `, two spaces when there is none). It is written as one string, never as an array
 * of tokens: a reply of 60 MB is ~9 million tokens, and an array of them (a string per token)
 * took ~600 MB and seconds to collect, and one word of 120 MB spread into an array of
 * characters overflowed the heap. Its memory is a small multiple of the text's.
 */
export function searchTokenText(text: string): string {
  // ASCII text (most prompts and answers) at native speed: in the table, ASCII letters and digits are
  // kept, capitals lower-cased, and every other ASCII character separates (test/search-tokens.test.ts).
  if (ONLY_ASCII.test(text)) return asciiTokenText(text);
  const chunks: string[] = [];
  const units = new Uint16Array(CHUNK_UNITS);
  units[0] = 32;
  let length = 1;
  // Whether the token so far has a character (one of only dropped diacritics is no token), and whether a token came before it.
  let inToken = false;
  let separate = false;
  for (let i = 0; i < text.length; ) {
    const codePoint = text.codePointAt(i)!;
    const width = codePoint > 0xffff ? 2 : 1;
    i += width;
    let action: number;
    if (width === 1) action = BMP_ACTIONS[codePoint]!;
    else {
      const found = lookUp(codePoint);
      action = found === 'S' ? SEPARATES : found === 'D' ? DROPPED : found;
    }
    if (action === SEPARATES) {
      if (inToken) separate = true;
      inToken = false;
      continue;
    }
    if (action === DROPPED) continue;
    // Room for a space and a character of two units; written out at a character's boundary, so no pair is split.
    if (length > CHUNK_UNITS - 3) {
      chunks.push(unitsToString(units, length));
      length = 0;
    }
    if (separate) units[length++] = 32;
    separate = false;
    inToken = true;
    const folded = codePoint + action;
    if (folded > 0xffff) {
      units[length++] = 0xd800 + ((folded - 0x10000) >> 10);
      units[length++] = 0xdc00 + ((folded - 0x10000) & 0x3ff);
    } else units[length++] = folded;
  }
  if (length > CHUNK_UNITS - 1) {
    chunks.push(unitsToString(units, length));
    length = 0;
  }
  units[length++] = 32;
  chunks.push(unitsToString(units, length));
  return chunks.length === 1 ? chunks[0]! : chunks.join('');
}

/** The tokens of a text, in order (repeats kept): for short texts (search words, tests); a stored text's go through searchTokenText. */
export function searchTokens(text: string): string[] {
  const tokenText = searchTokenText(text);
  return tokenText.length <= 2 ? [] : tokenText.slice(1, -1).split(' ');
}

/**
 * Tokens longer than this are cut in their index key (a GIN entry must fit a third of a page);
 * a search for one then also checks the text, so it still matches the whole token only.
 */
const KEY_LENGTH = 100;

/**
 * Where text[start, end)'s key ends: after its first KEY_LENGTH characters (code points), or at `end`.
 * Walks at most KEY_LENGTH characters, however long the token (one word can be a 100 MB reply).
 */
function cutEnd(text: string, start: number, end: number): number {
  if (end - start <= KEY_LENGTH) return end;
  let i = start;
  for (let n = 0; n < KEY_LENGTH && i < end; n++) i += text.codePointAt(i)! > 0xffff ? 2 : 1;
  return i;
}

function keyOf(projectId: number, token: string): string {
  return `${projectId}:${token.slice(0, cutEnd(token, 0, token.length))}`;
}

/**
 * A token of KEY_LENGTH characters or more: its key is also the key of every longer token it begins with, so the key
 * alone would find those too (FTS5 matches the whole token only). Counts at most KEY_LENGTH characters.
 */
function fillsKey(token: string): boolean {
  if (token.length < KEY_LENGTH) return false;
  let characters = 0;
  for (const _ of token) if (++characters >= KEY_LENGTH) return true;
  return false;
}

/** A completion's search columns: its keys (space-separated, as they travel through `unnest`) and its token text. */
export function searchColumnsOf(projectId: number, record: Pick<CompletionRecord, 'messages' | 'choices'>): { keys: string; text: string } {
  const text = searchTokenText(searchTextOf(record));
  // Each token is read where it stands in the token text; repeats are found by the token's cut, not by its
  // key: the key is a new string that would have to be flattened to be hashed, and the keys are joined once.
  const prefix = `${projectId}:`;
  const seen = new Set<string>();
  const keys: string[] = [];
  for (let start = 1; start < text.length - 1; ) {
    const end = text.indexOf(' ', start);
    const cut = text.slice(start, cutEnd(text, start, end));
    if (!seen.has(cut)) {
      seen.add(cut);
      keys.push(prefix + cut);
    }
    start = end + 1;
  }
  return { keys: keys.join(' '), text };
}

/**
 * What a completion must have to match a search's words: every key (the words' tokens), and
 * each phrase in its token text: a word that punctuation splits ("don't" is `don t`), or one
 * whose token fills its key (100 characters or more: the key is also every longer token's). Undefined when a word has no token (it matches nothing,
 * as an empty FTS5 phrase matches nothing).
 */
export interface SearchMatch {
  keys: string[];
  phrases: string[];
}

export function searchMatchOf(projectId: number, words: string[]): SearchMatch | undefined {
  const keys = new Set<string>();
  const phrases: string[] = [];
  for (const word of words) {
    const tokens = searchTokens(word);
    if (tokens.length === 0) return undefined;
    for (const token of tokens) keys.add(keyOf(projectId, token));
    if (tokens.length > 1 || tokens.some(fillsKey)) phrases.push(` ${tokens.join(' ')} `);
  }
  return { keys: [...keys], phrases };
}
