/**
 * The most text one batch of completions holds in memory: an import's transaction, an export's page, a copy's
 * dump batch. Counted in completions alone, a batch of images sent as data in each request (5 MB a completion)
 * held gigabytes, past Node's heap, and the tool (or the service, for an HTTP export) died of it. Batches of
 * ordinary completions (a few KB each) stay within their count long before this.
 */
export const BATCH_TEXT_CHARACTERS = 32 * 1024 * 1024;

/**
 * How many of the next completions, of their sizes in read order, one batch reads: as many as fit in
 * BATCH_TEXT_CHARACTERS, and at least one (none of none). A batch is held whole: 1000 of 5 MB held 5 GB.
 */
export function countWithin(sizes: (number | string)[]): number {
  let total = 0;
  for (const [index, size] of sizes.entries()) {
    total += Number(size);
    if (total > BATCH_TEXT_CHARACTERS && index > 0) return index;
  }
  return sizes.length;
}
