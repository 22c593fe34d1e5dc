// Lists left for another (a chip clicked, a filter changed), by the history entry that showed them (its state's
// `listVisit`): Back (or Forward) to that entry shows the list as it was left, its pages and scroll position, instead
// of page one at the top. A new visit to the same filters (a link, the filter typed again) loads afresh.

import { matchesMetadata } from './filters.js';

/** Lists kept: the latest few, as memory for Back is worth less the further back it goes. */
const LISTS_KEPT = 5;

/**
 * Each kept list is what list-view.js left: its `key` (filters.js listKey), `filters`, `loaded` completions, and
 * whatever else it needs to draw it again as it was.
 */
export function createKeptLists() {
  const lists = new Map();
  return {
    /** Keeps `list` as what the history entry `visit` showed, in place of what it showed before. */
    keep(visit, list) {
      lists.delete(visit);
      lists.set(visit, list);
      while (lists.size > LISTS_KEPT) lists.delete(lists.keys().next().value);
    },
    /** The list `visit` showed, given back once, if it is the list `key` names; else null (it stays kept). */
    take(visit, key) {
      const kept = lists.get(visit);
      if (kept?.key !== key) return null;
      lists.delete(visit);
      return kept;
    },
    /**
     * A change made in sight of another list (a save: `completion`; a delete: null) applied to the kept ones, so none
     * comes back stale: a completion that no longer matches a kept list's filters is taken out of it.
     */
    apply(id, completion) {
      for (const kept of lists.values()) {
        const index = kept.loaded.findIndex((c) => c.id === id);
        if (index === -1) continue;
        if (completion && matchesMetadata(kept.filters, completion)) kept.loaded[index] = completion;
        else kept.loaded.splice(index, 1);
      }
    },
  };
}
