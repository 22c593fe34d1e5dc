import { keysInWrittenOrder, withKeyOrder } from '../key-order.ts';
import { METADATA_MAX_PAIRS, type Metadata } from '../validation.ts';

/**
 * Some pairs of a metadata map changed, the others left as they are: what a tag needs, where OpenAI's update
 * replaces the whole map (and a client that reads, merges and writes it back loses what another client wrote
 * in between). A store applies it to the map as stored at that moment, under the completion's write lock.
 */
export interface MetadataChange {
  /** Pairs set, each replacing its key's value (in its place) or added after the others. */
  set: Metadata;
  /** Keys taken out; one the completion lacks is no change. */
  remove: string[];
  /** Applied only where each of these keys holds this value now (null: the key is absent); otherwise the map is left as it is. */
  expect: Record<string, string | null>;
}

/**
 * What the change did to one completion. `updated`: written. `unchanged`: already so, nothing written.
 * `expectation_failed`: `expect` did not hold, nothing written. `too_many_pairs`: the map would hold more than
 * 16 pairs, nothing written (no part of the change is applied).
 */
export type MetadataOutcome = 'updated' | 'unchanged' | 'expectation_failed' | 'too_many_pairs';

/** One named completion's answer: its map after the change (as it is, when nothing was written) and before it. */
export type MetadataChangeResult =
  | { id: string; outcome: MetadataOutcome; metadata: Metadata; previous: Metadata }
  /** Not stored in the caller's project (never stored, deleted, or another project's: the same answer). */
  | { id: string; outcome: 'not_found' };

const valueOf = (metadata: Metadata, key: string) => (Object.hasOwn(metadata, key) ? metadata[key] : undefined);

/** The change applied to `previous`; the map is a new object (built from entries: a `__proto__` key stays a pair). */
export function applyMetadataChange(previous: Metadata, change: MetadataChange): { outcome: MetadataOutcome; metadata: Metadata } {
  const expectationHolds = Object.entries(change.expect).every(([key, value]) => (valueOf(previous, key) ?? null) === value);
  if (!expectationHolds) return { outcome: 'expectation_failed', metadata: previous };
  const removed = new Set(change.remove);
  const entries: [string, string][] = [];
  for (const key of keysInWrittenOrder(previous)) {
    if (!removed.has(key)) entries.push([key, valueOf(change.set, key) ?? previous[key]!]);
  }
  for (const key of keysInWrittenOrder(change.set)) {
    if (!Object.hasOwn(previous, key)) entries.push([key, change.set[key]!]);
  }
  const same = entries.length === Object.keys(previous).length && entries.every(([key, value]) => valueOf(previous, key) === value);
  if (same) return { outcome: 'unchanged', metadata: previous };
  if (entries.length > METADATA_MAX_PAIRS) return { outcome: 'too_many_pairs', metadata: previous };
  return { outcome: 'updated', metadata: withKeyOrder(Object.fromEntries(entries), entries.map(([key]) => key)) };
}
