// The line above the cards: how many are loaded and whether more follow, or, for an empty list, why it may be
// empty (the service matches whole words, whole model names, exact metadata values), which a bare "nothing
// found" left the user to guess.

import { h, replaceChildren } from './dom.js';
import { completionHash, hasFilters } from './filters.js';
import { formatInteger } from './format.js';

/** A key added without a value filters on the empty string, which reads like "has this key": the API has no such filter. */
function emptyValueHint(filters) {
  const empty = filters.metadata.find(([, value]) => value === '');
  if (!empty) return '';
  return ` The filter ${empty[0]} = "" matches only an empty value, not every completion that has the key: metadata is matched by exact values.`;
}

/**
 * Why a model filter may have found nothing: it is matched by its whole name. Said only where the model is the one
 * filter and not one of the project's (`knownModel`): beside other filters, or naming a model the project has, it is
 * not the reason.
 */
function modelHint(filters, knownModel) {
  const { model } = filters;
  if (!model || hasFilters({ ...filters, model: undefined }) || knownModel(model)) return '';
  return ' The model is matched by its whole name: "gpt-4o" does not find "gpt-4o-mini".';
}

/** Why a search may have found nothing, as the service searches (docs/api.md, "Search semantics"). */
function searchHint(search) {
  if (!search) return '';
  // The service's own test of a word: one without a letter or digit is left out of the search.
  if (!/[\p{L}\p{N}\p{Co}]/u.test(search)) return ' Emoji and symbols alone are not searched: a search needs a word with a letter or digit.';
  return ' Search finds whole words, every one of them: "refund" does not find "refunds" or "refunded". It reads the text of messages and replies, not tool calls.';
}

/**
 * What a search that looks like it uses operators gets told: the service has none, so `-refund` finds what
 * `refund` finds, the opposite of what was meant, and without a word it would read as a search that worked.
 */
function operatorNote(search) {
  if (!search || !/(^|\s)-\S|["*]|(^|\s)(OR|AND|NOT)(\s|$)/.test(search)) return '';
  return ' Search has no operators: quotes, a leading -, OR, AND, NOT and * are read as plain words, and every word must appear.';
}

/**
 * Writes the summary into `summary`: `count` cards loaded, `hasMore` when the list goes on, for the view's `filters`;
 * `knownModel(model)` says whether the project has stored a completion of that model.
 */
export function showSummary(summary, { count, hasMore, filters, knownModel }) {
  let text;
  if (count === 0 && hasMore) {
    // Every card loaded was taken out (deleted, or no longer matching); the list goes on past them.
    text = 'None of the completions loaded so far are left here; more below.';
  } else if (count === 0) {
    // Without filters, nothing is stored for this key; in pass-through mode a mistyped key signs in too
    // (it is a key of its own, with nothing of its own), so an empty list also asks to check the key.
    text = hasFilters(filters)
      ? `No completions match these filters.${searchHint(filters.search)}${modelHint(filters, knownModel)}${emptyValueHint(filters)}`
      : 'No stored completions for this key yet: create one with "store": true. Expected some? Check the key ("Sign out", then sign in with it again).';
  } else if (hasMore) {
    text = `Showing ${formatInteger(count)} completions; more below.`;
  } else {
    text = count === 1 ? 'Showing 1 completion.' : `Showing all ${formatInteger(count)} completions.`;
  }
  text += operatorNote(filters.search);
  // An id pasted into Search (the text search never finds one: ids are not message text) is offered as a link.
  const id = /^\s*(chatcmpl-\S+?)\s*$/.exec(filters.search ?? '')?.[1];
  replaceChildren(summary, text, id ? [' ', h('a', { href: completionHash(id) }, 'Open ', h('bdi', null, id))] : []);
}
