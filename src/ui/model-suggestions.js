// The Model filter's suggestions (its <datalist>): every model of the project. They were read once, when
// the page opened, so a model first used since then was never suggested. Each page of rows adds its
// models at no cost, and each reload of the list asks the unfiltered usage again, at most every
// REFRESH_MS: the service reads it from its per-day rollup (its cost follows days and models, not
// completions, docs/api.md), and the models that are gone (deleted, retention) leave with it.

import { h, replaceChildren } from './dom.js';
import { loadUsage } from './usage-panel.js';

const REFRESH_MS = 30_000;

export function createModelSuggestions(id) {
  const element = h('datalist', { id });
  let known = new Set();
  let askedAt = -Infinity;
  let asking = false;

  function show(models) {
    const next = new Set([...models].filter((model) => typeof model === 'string' && model));
    if (next.size === known.size && [...next].every((model) => known.has(model))) return;
    known = next;
    replaceChildren(element, [...known].sort().map((model) => h('option', { value: model })));
  }

  return {
    element,
    /** Whether the project is known to have `model` (as the model a response named). */
    has: (model) => known.has(model),
    /** The models of rows just loaded, added at once. */
    add(completions) {
      show([...known, ...completions.map((completion) => completion.model)]);
    },
    /** The whole project's models, asked again unless asked within REFRESH_MS (or still on the way). */
    refresh() {
      if (asking || Date.now() - askedAt < REFRESH_MS) return;
      asking = true;
      askedAt = Date.now();
      loadUsage({ metadata: [] })
        .then((usage) => show(usage.data.map((item) => item.model)))
        .catch(() => {})
        .finally(() => {
          asking = false;
        });
    },
  };
}
