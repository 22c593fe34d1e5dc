import { isObject } from '../json.ts';
import { createListReader } from './list-pages.ts';
import { printable } from './printable.ts';
import type { MirrorFilters } from './run-mirror.ts';
import { type SourceClient, SourceAccountError, SourceError, SourceUnavailableError } from './source-client.ts';

/**
 * Where `--since` begins in the source's list. OpenAI's list has no created filter, so a walk from the oldest read every
 * page of the history before `--since` to drop it (a year of history for the last week's: thousands of pages). The list
 * is read newest-first instead (`order=desc`), one page per ascending page the walk reads meanwhile, until a completion
 * older than `--since` is found: the walk lists on after it. Read side by side, the search costs no more pages than the
 * walk reads before `--since` (a `--since` near the start of the history), and with `--since` near its end it ends
 * within a few pages.
 *
 * Any completion older than `--since` is a safe place to list on after, however the source orders ties or its
 * newest-first pages: every completion created at or after `--since` sorts after it in the ascending list, which is
 * ordered by `created` (the walk relies on that already, to end at `--created-before`). The order only decides how
 * soon one is found. A search that cannot go on (an error, a page it gave before, `has_more` without an id to go on
 * after) is dropped, said in a note, and the walk goes on from the oldest, as it would without it.
 */

/** A completion older than `--since`, to list on after. */
export interface SinceStart {
  id: string;
  created: number;
}

export type SinceSearchStep = { found: SinceStart } | 'searching' | 'ended';

export function createSinceSearch(
  source: SourceClient,
  filters: MirrorFilters,
  since: number,
  events: { onPage: () => void; onNote: ((text: string) => void) | undefined },
) {
  const { onPage, onNote } = events;
  const reader = createListReader(source, filters, 'desc', onNote);
  let after: string | undefined;
  const cursors = new Set<string>();
  const giveUp = (why: string): SinceSearchStep => {
    onNote?.(`the source's newest-first list ${why}: not searched for where --since begins, listing on from the oldest`);
    return 'ended';
  };
  return {
    /** Reads the next newest-first page: a completion older than `--since` on it, or whether to ask again. */
    async step(): Promise<SinceSearchStep> {
      let answer;
      try {
        answer = await reader.read(after);
      } catch (err) {
        // A source that refuses the key or is down fails the walk's next page too, which says so; any other answer is this search's alone.
        const fatal = err instanceof SourceAccountError || err instanceof SourceUnavailableError || (err instanceof SourceError && (err.status === 401 || err.status === 403));
        if (fatal || !(err instanceof SourceError)) throw err;
        return giveUp(`could not be read (${err.message})`);
      }
      onPage();
      const { body } = answer;
      if (!Array.isArray(body.data)) return giveUp('answered without a "data" array');
      reader.sized(body.data.length, answer.bytes);
      const items = body.data.filter(isObject);
      for (const item of items) {
        const created = Number(item.created);
        if (typeof item.id === 'string' && Number.isFinite(created) && created < since) return { found: { id: item.id, created } };
      }
      // The walk found one older, or it would not search: a source whose newest-first list ends without one lists differently each way.
      if (body.has_more !== true) return giveUp('ended without a completion older than --since');
      const last = items.at(-1)?.id;
      if (typeof last !== 'string') return giveUp('promised more with no id to ask for it by');
      if (cursors.has(last)) return giveUp(`answered a page ending at ${printable(last)} again`);
      cursors.add(last);
      after = last;
      return 'searching';
    },
  };
}
