/**
 * Integers past 2^53 kept as the client wrote them. `JSON.parse` reads every number as a double, so
 * an int64 (a `seed` from Python, a JSON schema's `maximum` in a tool) comes back rounded:
 * `9223372036854775807` would go upstream as `9223372036854776000`, past int64, which OpenAI
 * refuses, and be stored so. The request is still parsed as usual (validation sees the same values
 * and types); what is written back from it (the body sent upstream, the stored record) has each
 * rounded integer replaced by the text the client sent.
 *
 * The rounded value's text identifies the original: two different integers that round to one
 * double (or a client that wrote the rounded text itself beside the original) get the first one's
 * text, which is as close as a double can tell them apart.
 */

/** Rounded text (as JSON.stringify writes the parsed number) -> the client's text. */
export type ExactIntegers = ReadonlyMap<string, string>;

/** Sixteen digits in a row: the fewest an integer past 2^53 (9,007,199,254,740,992) has. */
const MAYBE_UNSAFE = /\d{16}/;

/**
 * A character of a JSON number (`-+0-9.eE`), by its code: a regular expression tested on each character took 3-4 times
 * JSON.parse's time on a body of long numbers (one 30 MB integer held a server's thread 2.5 s in all, under the body limits).
 */
const isNumberCode = (code: number) => (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x2b || code === 0x2e || code === 0x65 || code === 0x45;
const INTEGER = /^-?\d+$/;

/**
 * Where the JSON string opened at `open` ends (after its closing quote). Found with indexOf, not
 * character by character or with a regular expression (which recursed past the stack on a
 * megabyte string): a body with images carries megabytes of strings.
 */
export function stringEnd(text: string, open: number): number {
  let quote = text.indexOf('"', open + 1);
  while (quote !== -1) {
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    quote = text.indexOf('"', quote + 1);
  }
  return text.length;
}

/** Calls `onNumber` for each number outside strings in a valid JSON text, with its offsets. */
function forEachNumber(text: string, onNumber: (start: number, end: number) => void): void {
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === 0x22) {
      i = stringEnd(text, i);
    } else if (code === 0x2d || (code >= 0x30 && code <= 0x39)) {
      const start = i;
      while (i < text.length && isNumberCode(text.charCodeAt(i))) i++;
      onNumber(start, i);
    } else {
      i++;
    }
  }
}

/** Sets of integers in which two different texts round to one double: the first text stands for both. */
const ambiguous = new WeakSet<ExactIntegers>();

/** The integers of a valid JSON text that a double cannot hold; undefined when there are none (nearly always). */
export function findUnsafeIntegers(text: string): ExactIntegers | undefined {
  if (!MAYBE_UNSAFE.test(text)) return undefined;
  const found = new Map<string, string>();
  let twoForOne = false;
  forEachNumber(text, (start, end) => {
    const written = text.slice(start, end);
    if (!INTEGER.test(written)) return;
    const value = Number(written);
    if (Number.isSafeInteger(value)) return;
    const rounded = JSON.stringify(value);
    const first = found.get(rounded);
    // Kept even when written as its own rounded text (9007199254740992): nothing to put back for it, but another
    // integer that rounds to it (9007199254740993) must be seen to share its double.
    if (first === undefined) found.set(rounded, written);
    else if (first !== written) twoForOne = true;
  });
  // Returned even when each is written as its own double (nothing to put back): merged with another text's set, it
  // shows that text's integer sharing a double with this one.
  if (found.size === 0) return undefined;
  if (twoForOne) ambiguous.add(found);
  return found;
}

/**
 * Whether two different integers of the text round to one double, so that its set gives both the first
 * one's text: a text holding several completions (a list page) is then no guide to each one's own.
 */
export function hasAmbiguousIntegers(exact: ExactIntegers | undefined): boolean {
  return exact !== undefined && ambiguous.has(exact);
}

/** Both sets of integers (`b`'s text where both round to one value); undefined when neither has any. */
export function mergeExactIntegers(a: ExactIntegers | undefined, b: ExactIntegers | undefined): ExactIntegers | undefined {
  if (!a || !b) return a ?? b;
  const merged = new Map([...a, ...b]);
  // Ambiguous when either was, or when the two texts hold different integers sharing one double.
  if (hasAmbiguousIntegers(a) || hasAmbiguousIntegers(b) || [...a].some(([rounded, written]) => b.has(rounded) && b.get(rounded) !== written)) {
    ambiguous.add(merged);
  }
  return merged;
}

/** A JSON text written from parsed values, with the rounded integers put back as the client wrote them. */
export function withExactIntegers(json: string, exact: ExactIntegers | undefined): string {
  if (exact === undefined) return json;
  let out = '';
  let copied = 0;
  forEachNumber(json, (start, end) => {
    const original = exact.get(json.slice(start, end));
    if (original === undefined) return;
    out += json.slice(copied, start) + original;
    copied = end;
  });
  return copied === 0 ? json : out + json.slice(copied);
}

/** The request bodies read with unsafe integers in them, for whatever writes them back. */
const registry = new WeakMap<object, ExactIntegers>();

/** Remembers `text`'s unsafe integers for the object parsed from it. */
export function rememberExactIntegers(parsed: object, text: string): void {
  const exact = findUnsafeIntegers(text);
  if (exact) registry.set(parsed, exact);
}

/** The unsafe integers of the text `parsed` came from (see readJsonObject); undefined when it had none. */
export function exactIntegersOf(parsed: object): ExactIntegers | undefined {
  return registry.get(parsed);
}
