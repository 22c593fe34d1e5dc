/**
 * One-dimensional arrays in PostgreSQL's binary format (`array_recv`), for the parameters of the
 * group commit's insert. node-postgres sends a Buffer parameter as binary and anything else as
 * text, and writes a JavaScript array as a text literal: every element quoted, its quotes and
 * backslashes escaped by two regular expressions (a JSON body is full of quotes), the literal
 * flattened again to be measured, and the server parses it back character by character
 * (`array_in`, 3% of its CPU under stored creates). In binary, each element is its length and its
 * UTF-8 bytes, written once into one Buffer; the server reads it without parsing.
 *
 * The element type in the data must be the one the statement casts the parameter to (`$1::int[]`
 * is int4, `$1::int8[]` int8, `$1::text[]` text), or the server refuses it.
 */

const INT4_OID = 23;
const INT8_OID = 20;
const TEXT_OID = 25;

/** ndim, has-nulls flag, element type, then the one dimension's length and lower bound. */
const HEADER_BYTES = 20;
const TWO_TO_32 = 2 ** 32;

/** The buffer for `length` elements of `bytes` in all, its header written. An empty array has no dimension, as `array_send` writes one. */
function header(length: number, elementOid: number, bytes: number): Buffer {
  const buffer = Buffer.allocUnsafe(length === 0 ? 12 : HEADER_BYTES + bytes);
  buffer.writeInt32BE(length === 0 ? 0 : 1, 0);
  buffer.writeInt32BE(0, 4);
  buffer.writeInt32BE(elementOid, 8);
  if (length > 0) {
    buffer.writeInt32BE(length, 12);
    buffer.writeInt32BE(1, 16);
  }
  return buffer;
}

/** A `text[]` parameter; no element may be null. */
export function textArray(values: readonly string[]): Buffer {
  let bytes = 0;
  const lengths = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    lengths[i] = Buffer.byteLength(values[i]!, 'utf8');
    bytes += 4 + lengths[i]!;
  }
  const buffer = header(values.length, TEXT_OID, bytes);
  let offset = HEADER_BYTES;
  for (let i = 0; i < values.length; i++) {
    buffer.writeInt32BE(lengths[i]!, offset);
    offset += 4 + buffer.write(values[i]!, offset + 4, 'utf8');
  }
  return buffer;
}

/** An `int[]` (int4) parameter: each value a whole number in int4's range, else the array as it is (node-postgres sends it as text and the server judges it). */
export function int4Array(values: readonly number[]): Buffer | readonly number[] {
  if (!values.every((value) => Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31)) return values;
  const buffer = header(values.length, INT4_OID, values.length * 8);
  for (let i = 0, offset = HEADER_BYTES; i < values.length; i++, offset += 8) {
    buffer.writeInt32BE(4, offset);
    buffer.writeInt32BE(values[i]!, offset + 4);
  }
  return buffer;
}

/** An `int8[]` parameter: each value a safe integer, else the array as it is (sent as text, as before). */
export function int8Array(values: readonly number[]): Buffer | readonly number[] {
  if (!values.every((value) => Number.isSafeInteger(value))) return values;
  const buffer = header(values.length, INT8_OID, values.length * 12);
  for (let i = 0, offset = HEADER_BYTES; i < values.length; i++, offset += 12) {
    const value = values[i]!;
    // Exact for safe integers, negative ones included: the high word is the floor, the low word what is left.
    const high = Math.floor(value / TWO_TO_32);
    buffer.writeInt32BE(8, offset);
    buffer.writeInt32BE(high, offset + 4);
    buffer.writeUInt32BE(value - high * TWO_TO_32, offset + 8);
  }
  return buffer;
}
