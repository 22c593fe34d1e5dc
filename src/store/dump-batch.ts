import { BATCH_TEXT_CHARACTERS } from '../batch-text.ts';

/**
 * What a dumped completion weighs, in bytes of its stored texts, for completions row `c`: read from the rows'
 * lengths, which neither backend loads the texts for (SQLite's octet_length, PostgreSQL's TOAST header).
 * Same SQL on both backends.
 */
export const DUMPED_SIZE_SQL = `octet_length(c.body) + octet_length(c.choices)
  + (SELECT coalesce(sum(octet_length(m.body)), 0) FROM input_messages m WHERE m.completion_seq = c.seq)`;

/**
 * The last `seq` of the next dump batch, of the next completions and their sizes in `seq` order: as many as fit in
 * BATCH_TEXT_CHARACTERS, and at least one. A batch is held whole, read and then written: 1000 of 5 MB held 5 GB.
 */
export function lastSeqWithin(sized: { seq: number; size: number | string }[]): number {
  let total = 0;
  for (const [index, { seq, size }] of sized.entries()) {
    total += Number(size);
    if (total > BATCH_TEXT_CHARACTERS && index > 0) return sized[index - 1]!.seq;
  }
  return sized.at(-1)!.seq;
}
