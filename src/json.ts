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

/**
 * True when the JSON text `bytes` (UTF-8) opens objects or arrays more than `max` levels deep, read without parsing
 * it: brackets inside strings are skipped (no byte of a multi-byte UTF-8 character is a quote, backslash or
 * bracket). Asked before `JSON.parse`, which takes V8 about a microsecond per level: 30 MB of `[` held a server's
 * only thread for 14 s, to be refused after all; this scan reads those bytes in milliseconds. The depth counted is
 * the text's, so a deep value a duplicate key later replaces counts too; for a text that is no JSON the answer
 * means nothing (JSON.parse says so).
 */
export function textNestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === 0x22) {
      // A string: on to its closing quote, the first not escaped (after an even run of backslashes), found by
      // the native indexOf: a base64 image is most of a large body.
      for (;;) {
        const quote = bytes.indexOf(0x22, i + 1);
        if (quote === -1) return false;
        let backslashes = 0;
        while (bytes[quote - 1 - backslashes] === 0x5c) backslashes++;
        i = quote;
        if (backslashes % 2 === 0) break;
      }
    } else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > max) return true;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return false;
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
