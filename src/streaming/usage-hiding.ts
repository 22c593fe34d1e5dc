import { isObject, type Json } from '../json.ts';

/**
 * A stored stream always asks the provider for usage, so the stored completion carries it. When the
 * client did not ask, it must get what the provider would have sent it: no usage-only chunk (code
 * reading `chunk.choices[0]` would break), no `usage: null` on every chunk, no running usage (some
 * providers send it on every chunk once asked). Usage on the chunk that finishes the last choice
 * stays, once: some providers put it there whether asked or not, and the client would have had it.
 */

/** What a chunk's usage means for the client: the chunk dropped, its `usage` stripped, or the chunk kept as it is. */
export type UsageVerdict = 'drop' | 'strip' | 'keep';

export interface UsageHiding {
  /** Takes in each chunk of the stream, in order, and says what the client gets of its usage. */
  verdict(chunk: Json): UsageVerdict;
}

/** `hideUsage`: the client did not ask for usage (only then is any chunk dropped or stripped). */
export function createUsageHiding(hideUsage: boolean): UsageHiding {
  const choices = createChoiceTracker();
  /** Whether the usage a provider sent unasked has reached the client (once is what it would have had). */
  let usageShown = false;
  return {
    verdict(chunk) {
      if (hideUsage && Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage != null) return 'drop';
      const finishing = choices.finishesAll(chunk);
      const keepUsage = chunk.usage != null && finishing && !usageShown;
      if (keepUsage) usageShown = true;
      return hideUsage && 'usage' in chunk && !keepUsage ? 'strip' : 'keep';
    },
  };
}

/**
 * Follows which choices a stream has begun and finished (a `finish_reason` that is a non-empty string), to
 * tell the chunk that finishes the last of them: where a provider that sends usage unasked puts it.
 */
function createChoiceTracker() {
  const begun = new Set<unknown>();
  const finished = new Set<unknown>();
  return {
    /** Takes in a chunk's choices; true when this chunk finishes a choice and, with it, every choice begun. */
    finishesAll(chunk: Json): boolean {
      if (!Array.isArray(chunk.choices) || chunk.choices.length === 0) return false;
      const before = finished.size;
      for (const choice of chunk.choices) {
        if (!isObject(choice)) continue;
        begun.add(choice.index);
        if (typeof choice.finish_reason === 'string' && choice.finish_reason !== '') finished.add(choice.index);
      }
      return finished.size > before && finished.size === begun.size;
    },
  };
}
