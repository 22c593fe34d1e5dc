/**
 * OpenRouter's `reasoning_details`, streamed: each delta carries pieces of the entries its unstreamed
 * message has whole (`[{"type": "reasoning.text", "text": "Let me", "index": 0, ...}]`, then
 * `" think."` for the same `index`, then that entry's `signature`). Kept as a plain array concatenation,
 * the stored message had one entry per piece, where the same call unstreamed has one per `index`; a
 * client that sends the details back (as OpenRouter asks, to continue the reasoning) would send the pieces.
 * So an entry with the `index` and `type` of one already kept is joined to it: its text (`text`, `summary`,
 * `data`) appended, its other fields set when not null or empty. An entry without `index` is kept as it came.
 */

import { isObject, type Json } from '../json.ts';

/** The fields whose text is streamed in pieces, by entry type (`reasoning.text`, `reasoning.summary`, `reasoning.encrypted`). */
const STREAMED_TEXT = new Set(['text', 'summary', 'data']);

/**
 * The entry an `index` and `type` name, or undefined for a type no entry can share (an object). A key, so a stream
 * whose entries each have an index of their own costs one look-up per entry, not a search of all kept before it.
 */
function entryKey(entry: Json): string | undefined {
  const { type } = entry;
  return typeof type === 'object' && type !== null ? undefined : `${entry.index as number} ${typeof type} ${String(type)}`;
}

/** The kept entries by entryKey, for each array this module keeps (the first entry of a key, as a search finds it). */
const indexes = new WeakMap<unknown[], Map<string, Json>>();

function indexOf(kept: unknown[]): Map<string, Json> {
  let byKey = indexes.get(kept);
  if (!byKey) {
    byKey = new Map();
    for (const entry of kept) {
      const key = isObject(entry) && typeof entry.index === 'number' ? entryKey(entry) : undefined;
      if (key !== undefined && !byKey.has(key)) byKey.set(key, entry as Json);
    }
    indexes.set(kept, byKey);
  }
  return byKey;
}

function join(kept: Json, entry: Json): void {
  for (const [key, value] of Object.entries(entry)) {
    const current = Object.hasOwn(kept, key) ? kept[key] : undefined;
    let merged: unknown;
    if (STREAMED_TEXT.has(key) && typeof value === 'string' && typeof current === 'string') merged = current + value;
    else merged = value === null || value === undefined || value === '' ? (current ?? value) : value;
    Object.defineProperty(kept, key, { value: merged, enumerable: true, writable: true, configurable: true });
  }
}

/** `current` (the details kept so far, or whatever the provider sent first) with a delta's `next` added. */
export function mergeReasoningDetails(current: unknown, next: unknown): unknown {
  if (!Array.isArray(next)) return next === null || next === undefined ? current : next;
  const kept: unknown[] = Array.isArray(current) ? current : [];
  const byKey = indexOf(kept);
  for (const entry of next) {
    const key = isObject(entry) && typeof entry.index === 'number' ? entryKey(entry) : undefined;
    const match = key === undefined ? undefined : byKey.get(key);
    if (match !== undefined) {
      join(match, entry as Json);
      continue;
    }
    // A copy: what is joined to it later must not change the chunk it came from.
    const copy = structuredClone(entry);
    kept.push(copy);
    if (key !== undefined) byKey.set(key, copy as Json);
  }
  return kept;
}
