import { byteStringEnd } from './json.ts';

/**
 * The top-level members of a JSON object's text (UTF-8 bytes), each as written: its key and where the exact
 * bytes `"key": value` lie (spacing, key order, number spelling and duplicate keys as the client sent them).
 * What a body sent on with a few members taken out or replaced is made of, so the rest reaches the
 * provider as the client wrote it: written again from the parsed object, a key that reads as an
 * integer (`"2024"` in a JSON schema's properties) moved before the others, which changes the order
 * in which a model answers a strict schema, and a number past a double (`1e400`) became `null`.
 * Offsets into the bytes, not a decoded text: the body is sent on as bytes, its megabytes of images never copied
 * into a string and back.
 */
export interface JsonMember {
  key: string;
  /** The offset of the key's opening quote. */
  start: number;
  /** The offset of the value's first byte. */
  valueStart: number;
  /** The offset just past the value. */
  end: number;
}

const QUOTE = 0x22;
const COMMA = 0x2c;

function isJsonWhitespace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

function skipWhitespace(bytes: Uint8Array, i: number): number {
  while (isJsonWhitespace(bytes[i])) i++;
  return i;
}

/** Where a number, `true`, `false` or `null` starting at `start` ends. */
function scalarEnd(bytes: Uint8Array, start: number): number {
  let i = start;
  while (i < bytes.length && bytes[i] !== COMMA && bytes[i] !== 0x7d && bytes[i] !== 0x5d && !isJsonWhitespace(bytes[i])) i++;
  return i;
}

/** Where the JSON value starting at `start` ends; strings are skipped with indexOf (megabytes of base64 images). */
function valueEnd(bytes: Uint8Array, start: number): number {
  const first = bytes[start];
  if (first === QUOTE) return byteStringEnd(bytes, start);
  if (first !== 0x7b && first !== 0x5b) return scalarEnd(bytes, start);
  let depth = 0;
  let i = start;
  while (i < bytes.length) {
    const byte = bytes[i]!;
    if (byte === QUOTE) {
      i = byteStringEnd(bytes, i);
      continue;
    }
    if (byte === 0x7b || byte === 0x5b) depth++;
    else if ((byte === 0x7d || byte === 0x5d) && --depth === 0) return i + 1;
    i++;
  }
  return i;
}

/** The members of `bytes`, which must be a valid JSON object (as `JSON.parse` accepted it). */
export function jsonMembers(bytes: Uint8Array): JsonMember[] {
  const members: JsonMember[] = [];
  let i = skipWhitespace(bytes, 0) + 1;
  for (;;) {
    i = skipWhitespace(bytes, i);
    if (bytes[i] !== QUOTE) return members;
    const keyEnd = byteStringEnd(bytes, i);
    const valueStart = skipWhitespace(bytes, skipWhitespace(bytes, keyEnd) + 1);
    const end = valueEnd(bytes, valueStart);
    members.push({ key: JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + i, keyEnd - i).toString()) as string, start: i, valueStart, end });
    i = skipWhitespace(bytes, end);
    if (bytes[i] === COMMA) i++;
  }
}

/** Where each element of `bytes`, a valid JSON array (as `JSON.parse` accepted it), lies: its first byte, and just past it. */
export function jsonElements(bytes: Uint8Array): { start: number; end: number }[] {
  const elements: { start: number; end: number }[] = [];
  let i = skipWhitespace(bytes, skipWhitespace(bytes, 0) + 1);
  while (i < bytes.length && bytes[i] !== 0x5d) {
    const end = valueEnd(bytes, i);
    elements.push({ start: i, end });
    i = skipWhitespace(bytes, end);
    if (bytes[i] === COMMA) i = skipWhitespace(bytes, i + 1);
  }
  return elements;
}
