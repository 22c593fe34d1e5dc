/** A JSON object as parsed from a request or a provider's response. */
export type Json = Record<string, unknown>;

/** True for a JSON object: not null, not an array. */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Deeper JSON is not stored (a provider's answer, an imported or mirrored line): serializing the
 * record (JSON.stringify recurses) overflows the stack some thousands of levels down. Twice a request
 * body's limit, so an answer echoing a request as deep as one may be, a level or two further in, passes.
 */
export const MAX_STORED_JSON_DEPTH = 256;

/** What a request body's JSON may hold at most, checked on its bytes before it is parsed (`jsonTextExceeds`). */
export interface JsonTextLimits {
  /** Levels of objects and arrays. */
  depth: number;
  /**
   * Values of any kind (objects, arrays, strings, numbers, `true`, `false`, `null`), an object's keys counted as
   * values too: a key costs the parser as much as a value, more when it is new (V8 makes a new object shape for it).
   */
  values: number;
}

// What a byte outside strings does to the scan; any other (whitespace, a comma, a colon) is 0: nothing.
const QUOTE = 1;
const OPEN = 2;
const CLOSE = 3;
/** A byte of a number or of true, false or null: a run of them is one value. */
const SCALAR = 4;

const BYTE_KINDS = (() => {
  const kinds = new Uint8Array(256);
  for (const char of '0123456789+-.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') kinds[char.charCodeAt(0)] = SCALAR;
  kinds[0x22] = QUOTE;
  kinds[0x7b] = OPEN;
  kinds[0x5b] = OPEN;
  kinds[0x7d] = CLOSE;
  kinds[0x5d] = CLOSE;
  return kinds;
})();

/**
 * Which limit the JSON text `bytes` (UTF-8) goes past, if any, read without parsing it: `depth` when it opens objects
 * or arrays more than `limits.depth` levels deep, `values` when it holds more than `limits.values` values (keys included). Asked before
 * `JSON.parse`, whose cost is not in a body's bytes but in what they build: a microsecond a level (30 MB of `[` held a
 * server's only thread for 14 s), and about a microsecond a value, more as the heap fills (32 MiB of `{},` built 11
 * million objects in 25-75 s, mostly garbage collection). This scan reads those bytes in milliseconds.
 *
 * Brackets and quotes inside strings are skipped (no byte of a multi-byte UTF-8 character is a quote, backslash or
 * bracket). What is counted is the text's, so a value a duplicate key later replaces counts too; for a text that is no
 * JSON the answer means nothing (JSON.parse says so).
 */
export function jsonTextExceeds(bytes: Uint8Array, limits: JsonTextLimits): 'depth' | 'values' | undefined {
  let depth = 0;
  let values = 0;
  let inScalar = false;
  for (let i = 0; i < bytes.length; i++) {
    const kind = BYTE_KINDS[bytes[i]!]!;
    if (kind === SCALAR) {
      if (!inScalar && ++values > limits.values) return 'values';
      inScalar = true;
      continue;
    }
    inScalar = false;
    if (kind === QUOTE) {
      if (++values > limits.values) return 'values';
      i = byteStringEnd(bytes, i) - 1;
    } else if (kind === OPEN) {
      if (++depth > limits.depth) return 'depth';
      if (++values > limits.values) return 'values';
    } else if (kind === CLOSE) {
      depth--;
    }
  }
  return undefined;
}

/**
 * Where the JSON string opened at `bytes[open]` (UTF-8) ends: after its closing quote, the first not escaped (after
 * an even run of backslashes); `bytes.length` when it does not close. Found by the native indexOf: a base64 image is
 * most of a large body. No byte of a multi-byte UTF-8 character is a quote or a backslash.
 */
export function byteStringEnd(bytes: Uint8Array, open: number): number {
  let quote = bytes.indexOf(0x22, open + 1);
  while (quote !== -1) {
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    quote = bytes.indexOf(0x22, quote + 1);
  }
  return bytes.length;
}

/** True when `value` has objects or arrays nested more than `max` levels deep (walked without recursion, so any depth is safe to ask about). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
