/**
 * JSON.stringify for values that may hold megabytes of strings (a request's base64 images, a reply's audio): the same
 * text, but a long string that needs no escapes is put in as it is rather than written out again. V8's JSON.stringify
 * reads and copies every character of a string it writes: 150-200 ms of the only thread for a 28 MB image, where
 * checking that it needs no escapes takes a regular expression's scan, and the text that holds it is a concatenation,
 * copied once where it is written (to SQLite or PostgreSQL).
 */

/** Shorter strings go through JSON.stringify as usual: the check and the splice only pay for themselves on long ones. */
const LONG = 64 * 1024;

/**
 * A character JSON.stringify writes as an escape (a quote, a backslash, a control character, a lone surrogate), or a
 * surrogate at all: a paired one is written as it is, but telling it from a lone one is left to JSON.stringify.
 */
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/** What a long string is written as in the first pass: a JSON string no value of a message is likely to be (and if one is, see below). */
const MARK = '\u0000stored-completions-long-string:';
const MARK_TEXT = JSON.stringify(MARK).slice(0, -1);

/**
 * The strings of `value` that stringifyLarge puts in as they are (walked without recursion: any depth). Each is
 * scanned for escapes once, here: the replacer below only looks it up among these few, and is given the same string,
 * which compares equal by identity without its characters being read (a Set would hash all of them).
 */
function longStringsOf(value: unknown): string[] {
  const found: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.length >= LONG && !ESCAPED.test(v)) found.push(v);
    } else if (typeof v === 'object' && v !== null) {
      for (const child of Object.values(v)) stack.push(child);
    }
  }
  return found;
}

/** `JSON.stringify(value)` for a parsed JSON value (no functions, no toJSON), each long string put in without being written again. */
export function stringifyLarge(value: unknown): string {
  const unescaped = longStringsOf(value);
  if (unescaped.length === 0) return JSON.stringify(value);
  const long: string[] = [];
  const marked = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'string' || v.length < LONG || !unescaped.includes(v)) return v;
    long.push(v);
    return `${MARK}${long.length - 1}`;
  });
  // Each mark is in the text as `"\u0000stored-completions-long-string:N"`, in the order the strings were met. A value
  // of the message's own could hold the same characters: then there are more of them than marks, and the value is
  // written as JSON.stringify writes it.
  let text = '';
  let copied = 0;
  for (let n = 0; n < long.length; n++) {
    const at = marked.indexOf(MARK_TEXT, copied);
    const end = at === -1 ? -1 : marked.indexOf('"', at + MARK_TEXT.length);
    if (end === -1 || marked.slice(at + MARK_TEXT.length, end) !== String(n)) return JSON.stringify(value);
    // Needing no escapes, the string's JSON is itself between quotes.
    text += `${marked.slice(copied, at)}"${long[n]}"`;
    copied = end + 1;
  }
  if (marked.indexOf(MARK_TEXT, copied) !== -1) return JSON.stringify(value);
  return text + marked.slice(copied);
}
