// Where a text holds a word of the list's search, as the service finds it (src/store/derived-fields.ts,
// cjk-segments.ts): one matcher for the fold that opens on a match (message-render.js) and for the marks that
// show why a completion was found (search-marks.js), so the two never disagree.
//
// The service's search words are split on whitespace; each is matched whole, its letter-and-digit parts as
// tokens side by side ("e-mail" finds "e mail"), lower-cased and without accents ("cafe" finds "Café"). A run of
// Chinese, Japanese or Korean is found inside a longer run, as the service indexes those runs as their characters
// and pairs. Thai is one word per run there, as every other script (docs/decisions.md), so here too.

/**
 * The combining marks the service's search drops (SQLite's unicode61 remove_diacritics 2, search-folding.ts's 'D'):
 * after any letter, Greek or Cyrillic too. Every other mark separates tokens there, as punctuation does (a Hindi
 * vowel sign: "किताबें" is the tokens क त ब, so "किताब" finds it).
 */
const DROPPED_MARK = '\\u0300-\\u0304\\u0306-\\u030c\\u030f\\u0311\\u031b\\u0323-\\u0328\\u032d\\u032e\\u0330\\u0331';
const DROPPED_MARKS = new RegExp(`[${DROPPED_MARK}]`, 'gu');
/** A token of the text: letters, digits, private-use characters, and the marks dropped from inside them. */
const TOKEN = new RegExp(`[\\p{L}\\p{N}\\p{Co}${DROPPED_MARK}]+`, 'gu');
/** The service keeps a search word only when it has one of these. */
const WORD_CHARACTER = /[\p{L}\p{N}\p{Co}]/u;
/** Runs the service segments into characters and pairs (cjk-segments.ts's CJK_RUN). */
const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc\uff70]+/gu;
/** No character of those scripts is below U+1100: most tokens skip the split at a glance. */
const MAYBE_CJK = /[\u1100-\uffff\ud800-\udbff]/;
const HOLDS_CJK = new RegExp(CJK_RUN.source, 'u');
const ASCII = /^[\x00-\x7f]*$/;

/** A Latin letter's accents: the only ones the service's search takes off (SQLite's unicode61 remove_diacritics 2). */
const LATIN_ACCENTS = /(\p{Script=Latin})\p{M}+/gu;

/**
 * Lower-cased and without a Latin letter's accents, as the service's search compares ("Café" is found by "cafe";
 * "Ἀθῆναι" is not found by "αθηναι", nor "が" by "か").
 */
function folded(text) {
  if (ASCII.test(text)) return text.toLowerCase();
  // The marks written apart first ("α" and U+0301 is "α"): the service drops them whatever letter they follow.
  return text.replace(DROPPED_MARKS, '').normalize('NFD').replace(LATIN_ACCENTS, '$1').normalize('NFC').toLowerCase();
}

/**
 * The tokens of `text` with where each is in it: a token holding CJK is split into its CJK runs and the rest,
 * as the service's segmenting does. A CJK run keeps, for each folded character, the offset it came from.
 */
function tokensOf(text) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  for (let match = TOKEN.exec(text); match !== null; match = TOKEN.exec(text)) {
    const start = match.index;
    const token = match[0];
    if (!isCjk(token)) {
      // (Marks alone fold to nothing, no token for the service either.)
      const text = folded(token);
      if (text) tokens.push({ start, end: start + token.length, folded: text, cjk: null });
      continue;
    }
    let at = 0;
    const rest = (to) => {
      const text = to > at ? folded(token.slice(at, to)) : '';
      if (text) tokens.push({ start: start + at, end: start + to, folded: text, cjk: null });
    };
    CJK_RUN.lastIndex = 0;
    for (let run = CJK_RUN.exec(token); run !== null; run = CJK_RUN.exec(token)) {
      rest(run.index);
      tokens.push(cjkToken(run[0], start + run.index));
      at = run.index + run[0].length;
    }
    rest(token.length);
  }
  return tokens;
}

/** A CJK run, folded a character at a time when folding changes it (a Hangul syllable is two or three jamo), so a match inside it maps back. */
function cjkToken(run, start) {
  const whole = folded(run);
  if (whole === run) return { start, end: start + run.length, folded: run, cjk: null };
  let text = '';
  const from = [];
  for (let i = 0; i < run.length; ) {
    const width = run.codePointAt(i) > 0xffff ? 2 : 1;
    const piece = folded(run.slice(i, i + width));
    text += piece;
    for (let k = 0; k < piece.length; k++) from.push(i);
    i += width;
  }
  from.push(run.length);
  return { start, end: start + run.length, folded: text, cjk: from };
}

/** The offset in the text of `index` in a token's folded form. */
function offsetIn(token, index, end = false) {
  if (!token.cjk) return token.start + index;
  if (end) {
    // The end of a folded character is the start of the next original one.
    const origin = token.cjk[index - 1];
    let next = index;
    while (next < token.cjk.length - 1 && token.cjk[next] === origin) next++;
    return token.start + token.cjk[next];
  }
  return token.start + token.cjk[index];
}

/** A search word as its units: folded tokens, each marked whether it is a CJK run (found inside one). */
function unitsOf(word) {
  return tokensOf(word).map((token) => ({ text: token.folded, cjk: isCjk(token.folded) }));
}

function isCjk(text) {
  return MAYBE_CJK.test(text) && HOLDS_CJK.test(text);
}

/**
 * The search's matcher. `ranges(text)`: each `[start, end)` of the text where one of the search's words is, in
 * text order, none overlapping; `holds(text)`: whether there is one. Empty search: nothing matches.
 */
export function searchMatcher(search) {
  const words = String(search ?? '')
    .split(/\s+/u)
    .filter((word) => WORD_CHARACTER.test(word))
    .map(unitsOf)
    .filter((units) => units.length);
  // A text without one of each word's units folded inside it holds none of them: skipped before it is tokenized.
  const probes = words.map((units) => units[0].text);

  function ranges(text) {
    const value = String(text ?? '');
    if (!words.length || !value) return [];
    const flat = folded(value);
    if (!probes.some((probe) => flat.includes(probe))) return [];
    const found = [];
    // Pushed one by one: a text can hold 100,000 matches, past the arguments a call's stack takes.
    const take = (ranges) => {
      for (const range of ranges) found.push(range);
    };
    if (ASCII.test(value)) {
      for (const units of words) take(asciiMatches(flat, units));
    } else {
      const tokens = tokensOf(value);
      for (let i = 0; i < tokens.length; i++) {
        for (const units of words) take(matchesAt(tokens, i, units));
      }
    }
    found.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    // Overlaps (one word inside another's match) are drawn as one mark.
    const merged = [];
    for (const range of found) {
      const last = merged[merged.length - 1];
      if (last && range[0] < last[1]) last[1] = Math.max(last[1], range[1]);
      else merged.push([...range]);
    }
    return merged;
  }

  return { empty: words.length === 0, ranges, holds: (text) => ranges(text).length > 0 };
}

/**
 * Where the word of `units` matches starting at token `i`: the tokens side by side. A CJK unit alone is found
 * anywhere in a run (every place); first of several, at a run's end; last, at its start; between, as a whole run.
 */
function matchesAt(tokens, i, units) {
  const n = units.length;
  if (i + n > tokens.length) return [];
  if (n === 1 && units[0].cjk) {
    const token = tokens[i];
    const out = [];
    const unit = units[0].text;
    for (let at = token.folded.indexOf(unit); at !== -1; at = token.folded.indexOf(unit, at + unit.length)) {
      out.push([offsetIn(token, at), offsetIn(token, at + unit.length, true)]);
    }
    return out;
  }
  let start = 0;
  let end = 0;
  for (let k = 0; k < n; k++) {
    const token = tokens[i + k];
    const unit = units[k];
    const text = token.folded;
    if (!unit.cjk || (k > 0 && k < n - 1)) {
      if (text !== unit.text) return [];
      if (k === 0) start = token.start;
      end = token.end;
    } else if (k === 0) {
      if (!text.endsWith(unit.text)) return [];
      start = offsetIn(token, text.length - unit.text.length);
      end = token.end;
    } else {
      if (!text.startsWith(unit.text)) return [];
      end = offsetIn(token, unit.text.length, true);
    }
  }
  return [[start, end]];
}

/** Whether the character code is a letter or digit: in ASCII, what the service keeps as tokens. */
function alphanumeric(code) {
  return (code >= 48 && code <= 57) || (code >= 97 && code <= 122) || (code >= 65 && code <= 90);
}

/**
 * matchesAt's matches in ASCII text, lower-cased (`lower`), found with indexOf rather than by tokenizing: a reply
 * of 5,000 short paragraphs is 5,000 texts, and the tokens' regular expression cost most of the time marking them.
 */
function asciiMatches(lower, units) {
  if (units.some((unit) => unit.cjk)) return [];
  const out = [];
  const first = units[0].text;
  for (let at = lower.indexOf(first); at !== -1; at = lower.indexOf(first, at + 1)) {
    if (at > 0 && alphanumeric(lower.charCodeAt(at - 1))) continue;
    let end = at + first.length;
    let whole = !alphanumeric(lower.charCodeAt(end));
    for (let k = 1; whole && k < units.length; k++) {
      while (end < lower.length && !alphanumeric(lower.charCodeAt(end))) end++;
      whole = lower.startsWith(units[k].text, end) && !alphanumeric(lower.charCodeAt(end + units[k].text.length));
      end += units[k].text.length;
    }
    if (whole) out.push([at, end]);
  }
  return out;
}

/** The text a message shows: its content (or its content parts' text) and its refusal. */
function messageText(message) {
  const content = message?.content_parts ?? message?.content;
  const parts = Array.isArray(content) ? content.map((part) => (typeof part?.text === 'string' ? part.text : '')) : [content];
  return [...parts, message?.refusal].filter((text) => typeof text === 'string').join('\n');
}

/** Whether any of the messages holds a word of the search. */
export function mentionsAny(messages, matcher) {
  return !matcher.empty && messages.some((message) => matcher.holds(messageText(message)));
}
