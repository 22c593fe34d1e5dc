import { jsonElements, jsonMembers } from './json-members.ts';
import { isObject, type Json } from './json.ts';
import type { Metadata } from './validation.ts';

/**
 * The order in which metadata keys were written, for the maps whose order a plain object loses: one parsed
 * from JSON puts the keys that read as integers (`"10"`) first, wherever the text had them, and OpenAI serves
 * a map as it was sent (`{"b":"1","10":"x"}`, not `{"10":"x","b":"1"}`). Kept beside the map, so the map stays
 * a plain object for everything that only reads its pairs; the stores write it with metadataJson. A map copied
 * on the way (spread, fromEntries) falls back to the object's own order unless withKeyOrder gives it one.
 */
const writtenOrder = new WeakMap<Metadata, readonly string[]>();

/** A key an object moves to the front: an array index, 0 to 2^32 - 2, written without a sign or leading zero. */
function isIndexKey(key: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/** Whether an object can hold `metadata`'s keys in another order than a text wrote them: two or more, one an index. */
function orderCanDiffer(metadata: Metadata): boolean {
  const keys = Object.keys(metadata);
  return keys.length >= 2 && keys.some(isIndexKey);
}

/** Gives `metadata` the key order `keys` (those it lacks left out, those missing put after); returns `metadata`. */
export function withKeyOrder(metadata: Metadata, keys: readonly string[]): Metadata {
  if (orderCanDiffer(metadata)) writtenOrder.set(metadata, keys);
  return metadata;
}

/** Notes the key order of `metadata` as the JSON object text `object` (the map `metadata` was parsed from) writes it. */
function keepObjectOrder(metadata: Metadata, object: Uint8Array): Metadata {
  return orderCanDiffer(metadata) ? withKeyOrder(metadata, jsonMembers(object).map((m) => m.key)) : metadata;
}

/**
 * Notes the key order of `metadata` as the JSON object `body` writes its member `name` (the last one when repeated,
 * as JSON.parse takes), and returns `metadata`. Walks the body's members only when the order can differ.
 */
export function keepWrittenOrder(metadata: Metadata, body: Uint8Array, name = 'metadata'): Metadata {
  if (!orderCanDiffer(metadata)) return metadata;
  const member = jsonMembers(body).findLast((m) => m.key === name);
  if (member === undefined) return metadata;
  // The value's `{`: the key before it is `name` (a parameter's name), however escaped, so it holds no brace.
  const open = body.indexOf(0x7b, member.start);
  return open < 0 || open >= member.end ? metadata : keepObjectOrder(metadata, body.subarray(open, member.end));
}

/** Whether `value` is a map of strings whose key order an object loses (what keeping its written order is for). */
function orderedMap(value: unknown): value is Metadata {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string') && orderCanDiffer(value as Metadata);
}

/**
 * Notes the written key order of the metadata in an answer of OpenAI's API, as its text `text` writes it: the map of
 * a retrieved completion (`body.metadata`), or of each completion of a list page (`body.data[i].metadata`). The text
 * is walked only when a map can differ from the parsed object's order (rare: an integer-like key among others).
 */
export function keepAnsweredOrder(body: Json, text: string): void {
  const items = Array.isArray(body.data) ? body.data : [];
  const listed = items.some((item) => isObject(item) && orderedMap(item.metadata));
  if (!listed && !orderedMap(body.metadata)) return;
  const bytes = Buffer.from(text);
  if (orderedMap(body.metadata)) keepWrittenOrder(body.metadata, bytes);
  if (!listed) return;
  const data = jsonMembers(bytes).findLast((m) => m.key === 'data');
  if (data === undefined) return;
  const open = bytes.indexOf(0x5b, data.start);
  const array = bytes.subarray(open, data.end);
  jsonElements(array).forEach(({ start, end }, i) => {
    const item = items[i];
    if (isObject(item) && orderedMap(item.metadata)) keepWrittenOrder(item.metadata, array.subarray(start, end));
  });
}

/** A map as a store holds it (its JSON text), in the order that text has. */
export function parseStoredMetadata(text: string): Metadata {
  const metadata = JSON.parse(text) as Metadata;
  return orderCanDiffer(metadata) ? keepObjectOrder(metadata, Buffer.from(text)) : metadata;
}

/** The map's keys in their written order, when one was noted; otherwise the object's own. */
export function keysInWrittenOrder(metadata: Metadata): string[] {
  const order = writtenOrder.get(metadata);
  if (order === undefined) return Object.keys(metadata);
  // A key repeated in the text holds its first place, as in the parsed object.
  const keys = new Set(order.filter((key) => Object.hasOwn(metadata, key)));
  for (const key of Object.keys(metadata)) keys.add(key);
  return [...keys];
}

/** The map's JSON text, its keys in their written order. */
export function metadataJson(metadata: Metadata): string {
  if (!writtenOrder.has(metadata)) return JSON.stringify(metadata);
  return `{${keysInWrittenOrder(metadata).map((key) => `${JSON.stringify(key)}:${JSON.stringify(metadata[key])}`).join(',')}}`;
}
