import { jsonElements, jsonMembers } from './json-members.ts';
import { isObject, MAX_STORED_JSON_DEPTH } from './json.ts';
import { stringifyLarge } from './stringify-large.ts';
import { type Metadata, parseMetadata } from './validation.ts';

/**
 * The order in which an object's keys were written, for the objects whose order a plain object loses: one parsed
 * from JSON puts the keys that read as integers (`"10"`) first, wherever the text had them, and OpenAI serves
 * what it stored as it was sent: a metadata map (`{"b":"1","10":"x"}`, not `{"10":"x","b":"1"}`), a tool's JSON
 * schema with a property named `"2024"`. Kept beside the object, so it stays a plain object for everything that only
 * reads it; what writes it again asks keysInWrittenOrder (metadataJson, stringifyInWrittenOrder). An object copied on
 * the way (spread, fromEntries) falls back to its own order unless withKeyOrder gives it one.
 */
const writtenOrder = new WeakMap<object, readonly string[]>();

/** A key an object moves to the front: an array index, 0 to 2^32 - 2, written without a sign or leading zero. */
function isIndexKey(key: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/**
 * Whether an object can hold its keys in another order than a text wrote them: two or more, one an index (which
 * an object puts first, so the first key tells).
 */
function orderCanDiffer(object: object): boolean {
  const keys = Object.keys(object);
  return keys.length >= 2 && isIndexKey(keys[0]!);
}

/** Gives `object` the key order `keys` (those it lacks left out, those missing put after); returns `object`. */
export function withKeyOrder<T extends object>(object: T, keys: readonly string[]): T {
  if (orderCanDiffer(object)) writtenOrder.set(object, keys);
  return object;
}

/**
 * Whether `value` (parsed JSON) holds an object whose key order a text can have written otherwise. Walked without
 * recursion: a source's answer is asked about before its depth is checked.
 */
export function hasReorderedKeys(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (!Array.isArray(v) && orderCanDiffer(v)) return true;
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push(child);
  }
  return false;
}

/**
 * Notes the written key order of every object in `value` whose order an object changes, as the JSON text `text`
 * (which `value` was parsed from) writes them: a metadata map, a tool's schema, at any depth. Walks the text only
 * when `value` holds such an object (rare: an integer-like key among others), and then only down to them.
 */
export function noteWrittenKeyOrders(value: unknown, text: string | Uint8Array): void {
  if (hasReorderedKeys(value)) noteWithin(value, typeof text === 'string' ? Buffer.from(text) : text, 1);
}

function noteWithin(value: unknown, bytes: Uint8Array, depth: number): void {
  // Deeper than anything stored may be: refused where it would be stored (nestsDeeperThan), so no order to keep.
  if (depth > MAX_STORED_JSON_DEPTH) return;
  if (Array.isArray(value)) {
    const elements = jsonElements(bytes);
    value.forEach((element, i) => {
      const at = elements[i];
      if (at !== undefined && hasReorderedKeys(element)) noteWithin(element, bytes.subarray(at.start, at.end), depth + 1);
    });
    return;
  }
  if (!isObject(value)) return;
  const members = jsonMembers(bytes);
  if (orderCanDiffer(value)) writtenOrder.set(value, members.map((m) => m.key));
  // A repeated key's value is its last one's, as JSON.parse takes.
  const lastOfKey = new Map(members.map((m) => [m.key, m]));
  for (const [key, member] of lastOfKey) {
    const child = Object.hasOwn(value, key) ? value[key] : undefined;
    if (hasReorderedKeys(child)) noteWithin(child, bytes.subarray(member.valueStart, member.end), depth + 1);
  }
}

/**
 * The JSON text to store for `value` (parsed JSON, or objects built of it): stringifyLarge's, or, where `value` holds
 * an object whose keys an object reordered, every object's keys in their written order (noteWrittenKeyOrders).
 */
export function storedJsonText(value: unknown): string {
  return hasReorderedKeys(value) ? stringifyInWrittenOrder(value) : stringifyLarge(value);
}

/** JSON.stringify's text of `value`, or, where it holds an object whose keys an object reordered, in their written order. */
export function jsonTextInWrittenOrder(value: unknown): string {
  return hasReorderedKeys(value) ? stringifyInWrittenOrder(value) : JSON.stringify(value);
}

/** JSON.stringify's text of `value` (parsed JSON, or objects built of it), every object's keys in their written order. */
function stringifyInWrittenOrder(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stringifyInWrittenOrder(v))).join(',')}]`;
  if (!isObject(value)) return JSON.stringify(value) ?? 'null';
  const members: string[] = [];
  for (const key of keysInWrittenOrder(value)) {
    if (value[key] !== undefined) members.push(`${JSON.stringify(key)}:${stringifyInWrittenOrder(value[key])}`);
  }
  return `{${members.join(',')}}`;
}

/** parseMetadata's map of `value`, in the key order noted for `value` (noteWrittenKeyOrders), which its copy would lose. */
export function parseMetadataInWrittenOrder(value: unknown, param = 'metadata'): Metadata {
  const metadata = parseMetadata(value, param);
  return isObject(value) ? withKeyOrder(metadata, keysInWrittenOrder(value)) : metadata;
}

/** A map as a store holds it (its JSON text), in the order that text has. */
export function parseStoredMetadata(text: string): Metadata {
  const metadata = JSON.parse(text) as Metadata;
  noteWrittenKeyOrders(metadata, text);
  return metadata;
}

/** The object's keys in their written order, when one was noted; otherwise its own. */
export function keysInWrittenOrder(object: object): string[] {
  const order = writtenOrder.get(object);
  if (order === undefined) return Object.keys(object);
  // A key repeated in the text holds its first place, as in the parsed object.
  const keys = new Set(order.filter((key) => Object.hasOwn(object, key)));
  for (const key of Object.keys(object)) keys.add(key);
  return [...keys];
}

/** The map's JSON text, its keys in their written order. */
export function metadataJson(metadata: Metadata): string {
  if (!writtenOrder.has(metadata)) return JSON.stringify(metadata);
  return `{${keysInWrittenOrder(metadata).map((key) => `${JSON.stringify(key)}:${JSON.stringify(metadata[key])}`).join(',')}}`;
}
