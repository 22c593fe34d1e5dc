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

const ASCII_ACTIONS: Action[] = Array.from({ length: 128 }, (_, c) => lookUp(c));

const ONLY_ASCII = /^[\x00-\x7f]*$/;
const ASCII_TOKEN = /[a-z0-9]+/g;

/**
 * The tokens of a text, in order (repeats kept). A token whose characters all stay as they are (most
 * of them: lower-case words, digits) is one slice of the text; only one that folds a character is
 * built character by character. Every stored create tokenizes its whole text, on the service's CPU.
 */
export function searchTokens(text: string): string[] {
  // ASCII text (most prompts and answers) at native speed: in the table, ASCII letters and digits are
  // kept, capitals lower-cased, and every other ASCII character separates (test/search-tokens.test.ts).
  if (ONLY_ASCII.test(text)) return text.toLowerCase().match(ASCII_TOKEN) ?? [];
  const tokens: string[] = [];
  // The token so far is text.slice(start, i) while `folded` is undefined, else `folded`.
  let start = -1;
  let folded: string | undefined;
  for (let i = 0; i < text.length; ) {
    const codePoint = text.codePointAt(i)!;
    const width = codePoint > 0xffff ? 2 : 1;
    const action = codePoint < 128 ? ASCII_ACTIONS[codePoint]! : lookUp(codePoint);
    if (action === 'S') {
      if (folded !== undefined) {
        if (folded !== '') tokens.push(folded);
      } else if (start >= 0) tokens.push(text.slice(start, i));
      start = -1;
      folded = undefined;
    } else if (action === 0 && folded === undefined) {
      if (start < 0) start = i;
    } else {
      if (folded === undefined) folded = start >= 0 ? text.slice(start, i) : '';
      if (action !== 'D') folded += action === 0 ? String.fromCodePoint(codePoint) : String.fromCodePoint(codePoint + action);
    }
    i += width;
  }
  if (folded !== undefined) {
    if (folded !== '') tokens.push(folded);
  } else if (start >= 0) tokens.push(text.slice(start));
  return tokens;
}

/**
 * Tokens longer than this are cut in their index key (a GIN entry must fit a third of a page);
 * a search for one then also checks the text, so it still matches the whole token only.
 */
const KEY_LENGTH = 100;

/** The part of a token its index key holds: the token, or its first KEY_LENGTH characters. */
function cutOf(token: string): string {
  return token.length <= KEY_LENGTH ? token : [...token].slice(0, KEY_LENGTH).join('');
}

function keyOf(projectId: number, token: string): string {
  return `${projectId}:${cutOf(token)}`;
}

function isCut(token: string): boolean {
  return token.length > KEY_LENGTH && [...token].length > KEY_LENGTH;
}

/** A completion's search columns: its keys (space-separated, as they travel through `unnest`) and its token text. */
export function searchColumnsOf(projectId: number, record: Pick<CompletionRecord, 'messages' | 'choices'>): { keys: string; text: string } {
  const tokens = searchTokens(searchTextOf(record));
  // Repeats are found by the token's cut, not by its key: the key is a new string that would have to be
  // flattened to be hashed, and the keys are joined once. ~15 of the ~21 µs a create spent here went to that.
  const prefix = `${projectId}:`;
  const seen = new Set<string>();
  const keys: string[] = [];
  for (const token of tokens) {
    const cut = cutOf(token);
    if (seen.has(cut)) continue;
    seen.add(cut);
    keys.push(prefix + cut);
  }
  return { keys: keys.join(' '), text: ` ${tokens.join(' ')} ` };
}

/**
 * What a completion must have to match a search's words: every key (the words' tokens), and
 * each phrase in its token text: a word that punctuation splits ("don't" is `don t`), or one
 * whose token is longer than its key. Undefined when a word has no token (it matches nothing,
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
    if (tokens.length > 1 || tokens.some(isCut)) phrases.push(` ${tokens.join(' ')} `);
  }
  return { keys: [...keys], phrases };
}
