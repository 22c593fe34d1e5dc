import { jsonMembers } from './json-members.ts';
import type { Metadata } from './validation.ts';

/**
 * The order in which a request wrote its metadata keys, for the maps whose order a plain object loses: one
 * parsed from JSON puts the keys that read as integers (`"10"`) first, wherever the client wrote them, and
 * OpenAI serves a map as it was sent (`{"b":"1","10":"x"}`, not `{"10":"x","b":"1"}`). Kept beside the map,
 * so the map stays a plain object for everything that only reads its pairs; the stores write it with
 * metadataJson. A map copied on the way (spread, fromEntries) falls back to the object's own order.
 */
const writtenOrder = new WeakMap<Metadata, readonly string[]>();

/** A key an object moves to the front: an array index, 0 to 2^32 - 2, written without a sign or leading zero. */
function isIndexKey(key: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/**
 * Notes the key order of `metadata` as the JSON object `body` writes its member `metadata` (the last one when
 * repeated, as JSON.parse takes), and returns `metadata`. Costs a walk of the body's members only when the
 * order can differ: two keys or more, one of them an index.
 */
export function keepWrittenOrder(metadata: Metadata, body: Uint8Array): Metadata {
  const keys = Object.keys(metadata);
  if (keys.length < 2 || !keys.some(isIndexKey)) return metadata;
  const member = jsonMembers(body).findLast((m) => m.key === 'metadata');
  if (member === undefined) return metadata;
  // The value's `{`: the key before it is `metadata`, however escaped, so it holds no brace.
  const open = body.indexOf(0x7b, member.start);
  if (open < 0 || open >= member.end) return metadata;
  writtenOrder.set(metadata, jsonMembers(body.subarray(open, member.end)).map((m) => m.key));
  return metadata;
}

/** The map's JSON text, its keys in the order the request wrote them when keepWrittenOrder noted it. */
export function metadataJson(metadata: Metadata): string {
  const order = writtenOrder.get(metadata);
  if (order === undefined) return JSON.stringify(metadata);
  // A key repeated in the text holds its first place (as in the parsed object) and its last value.
  const keys = new Set(order.filter((key) => Object.hasOwn(metadata, key)));
  for (const key of Object.keys(metadata)) keys.add(key);
  return `{${[...keys].map((key) => `${JSON.stringify(key)}:${JSON.stringify(metadata[key])}`).join(',')}}`;
}
