import { BATCH_TEXT_CHARACTERS, countWithin } from '../batch-text.ts';
import type { CompletionRecord } from '../store/index.ts';

/** The text a record holds: what it weighs in memory until it is stored. */
function recordCharacters(record: CompletionRecord | undefined): number {
  if (record === undefined) return 0;
  let total = record.body.length;
  for (const text of record.choices) total += text.length;
  for (const text of record.messages) total += text.length;
  return total;
}

/**
 * Reads `items` with at most `limit` in flight and stores what was read in their order, in batches of
 * BATCH_TEXT_CHARACTERS (`countWithin`), the rest with a last `store` once all are read (called even when nothing is
 * left: the caller keeps its own state there). Read whole and stored in one transaction, a list page of 100
 * completions of 2 MB took the mirror past 1 GB. Stored in list order, as one transaction stored them, so the
 * store's own order (its `seq`) stays the source's. Readers wait while what was read and not yet stored already fills a
 * batch (a slow completion holds the ones after it back), so memory stays within about two batches and what
 * `limit` reads hold. `items` is taken over: each is let go once its read begins, so nothing keeps a completion's
 * text once it is stored.
 *
 * After a failure (a read's or a store's) no more work starts, nothing more is stored, and the first failure is thrown
 * once the work in flight has ended: none goes on (and writes notes) after the run has said it stopped.
 */
export async function readAndStore<T>(
  items: (T | undefined)[],
  limit: number,
  read: (item: T) => Promise<CompletionRecord | undefined>,
  store: (records: (CompletionRecord | undefined)[]) => Promise<void>,
): Promise<void> {
  const count = items.length;
  // Read and not yet stored, by index; `finished` tells a left-out completion (undefined) from one not read yet.
  const records: (CompletionRecord | undefined)[] = new Array(count);
  const sizes: number[] = new Array(count).fill(0);
  const finished: boolean[] = new Array(count).fill(false);
  let next = 0;
  let stored = 0;
  let held = 0;
  let failure: { error: unknown } | undefined;
  let wake = () => {};
  let changed = new Promise<void>((resolve) => (wake = resolve));
  const signal = () => {
    wake();
    changed = new Promise<void>((resolve) => (wake = resolve));
  };

  const reader = async () => {
    while (next < count && !failure) {
      if (held >= BATCH_TEXT_CHARACTERS) {
        await changed;
        continue;
      }
      const index = next++;
      const item = items[index] as T;
      items[index] = undefined;
      try {
        const record = await read(item);
        records[index] = record;
        sizes[index] = recordCharacters(record);
        held += sizes[index]!;
        finished[index] = true;
      } catch (error) {
        failure ??= { error };
      } finally {
        signal();
      }
    }
  };

  const writer = async () => {
    while (!failure) {
      let end = stored;
      while (end < count && finished[end]) end++;
      const ready = sizes.slice(stored, end);
      const readyCharacters = ready.reduce((sum, size) => sum + size, 0);
      const last = end === count;
      if (!last && readyCharacters < BATCH_TEXT_CHARACTERS) {
        await changed;
        continue;
      }
      const take = last && readyCharacters <= BATCH_TEXT_CHARACTERS ? ready.length : countWithin(ready);
      const batch = records.slice(stored, stored + take);
      try {
        await store(batch);
      } catch (error) {
        failure ??= { error };
        signal();
        return;
      }
      for (let index = stored; index < stored + take; index++) {
        held -= sizes[index]!;
        records[index] = undefined;
      }
      stored += take;
      signal();
      if (stored === count && last) return;
    }
  };

  const workers = Array.from({ length: Math.min(limit, count) }, reader);
  // Each reader ends once its read in flight has: a store's failure is thrown after them too.
  await Promise.all([...workers, writer()]);
  if (failure) throw failure.error;
}
