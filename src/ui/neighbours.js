// "Previous" and "Next" of a conversation: the completions beside it in the list it is read in.

import { api, queryString } from './api.js';
import { h } from './dom.js';
import { filterPairs } from './filters.js';
import { shortcutsActive } from './shortcuts.js';

/**
 * The completions beside `id` in the list `within`, asked of the API (a reload or a shared link has no list drawn
 * to read them from): Next is that list after `id`, Previous the same filters in the opposite order after `id`. The
 * cursor is a position, so a completion deleted since, or no longer matching, gets the neighbours of where it was;
 * a side the API refuses (an id never stored: 400) is left empty rather than breaking the page.
 * `outside`: the completion is not in that list (a link naming a list it does not match, a completion changed or
 * deleted since): its neighbours are then only the list's completions nearest its place, which the reader is told.
 * Known by one more question: the one before Next (or after Previous) is this completion only if the list holds it.
 */
export async function neighboursFromApi(id, within, signal) {
  const opposite = within.order === 'asc' ? 'desc' : 'asc';
  const first = (order, after) =>
    api(`/v1/chat/completions${queryString([...filterPairs(within.filters), ['order', order], ['limit', 1], ['after', after]])}`, { signal })
      .then((page) => page.data[0]?.id, () => null);
  const [next, previous] = await Promise.all([first(within.order, id), first(opposite, id)]);
  const beside = next ? await first(opposite, next) : previous ? await first(within.order, previous) : id;
  // (A question that failed tells nothing: then nothing is said.)
  return { previous, next, outside: beside !== id && beside !== null };
}

/** Said beside the links when the completion is not in the list they are read in. */
export const OUTSIDE_NOTE = 'Not in this list: its completions nearest by date';

/**
 * The links, so a day of conversations is read one after another without going back to the list between them. At
 * the last row loaded, with more to come, "Next" loads the list's next page first. At either end the word stays, a
 * link that goes nowhere (aria-disabled). `hrefOf` writes a neighbour's address (with or without the list in it).
 */
export function neighbourLinks({ previous, next, more, outside }, { nextAfterLoading, hrefOf, where }) {
  if (!previous && !next && !more) return null;
  const label = (arrow, text, arrowFirst) => {
    const arrowNode = h('span', { 'aria-hidden': 'true' }, arrow);
    return arrowFirst ? [arrowNode, ` ${text}`] : [`${text} `, arrowNode];
  };
  // Which one "j" and "k" open (shortcuts.js), said to assistive technology while the keys act (not on an end's
  // link, which goes nowhere).
  const keys = (which) => ({ 'data-neighbour': which, 'aria-keyshortcuts': shortcutsActive() ? { next: 'j', previous: 'k' }[which] : null });
  const link = (neighbour, text, which) => neighbour
    ? h('a', { href: hrefOf(neighbour), title: neighbour, ...keys(which) }, text)
    : h('a', { role: 'link', 'aria-disabled': 'true', class: 'muted', 'data-neighbour': which }, text);
  let nextNode = link(next, label('↓', 'Next', false), 'next');
  const problem = h('span', { class: 'error', role: 'alert' });
  problem.hidden = true;
  if (!next && more) {
    nextNode = h('button', { type: 'button', class: 'link-button', ...keys('next') }, label('↓', 'Next', false));
    nextNode.addEventListener('click', async () => {
      if (nextNode.getAttribute('aria-disabled') === 'true') return;
      nextNode.setAttribute('aria-disabled', 'true');
      problem.hidden = true;
      const { next: found, error } = await nextAfterLoading();
      // Left meanwhile (Back, "← Completions", "Previous"): the user is where they went, and stays there.
      if (!nextNode.isConnected) return;
      nextNode.removeAttribute('aria-disabled');
      if (error) {
        // Said here, where the user is (the list's own message is out of sight), and "Next" tries again.
        problem.textContent = error;
        problem.hidden = false;
      } else if (found) location.hash = hrefOf(found);
      else {
        // The list ended there after all (its last ones deleted since): the word stays, going nowhere, and keeps the
        // focus the button had, which would otherwise fall to the page's top.
        const end = link(undefined, label('↓', 'Next', false), 'next');
        const hadFocus = document.activeElement === nextNode;
        nextNode.replaceWith(end);
        if (hadFocus) {
          end.tabIndex = -1;
          end.focus();
        }
      }
    });
  }
  // Said once, above the conversation: the links alone read as this completion's place in the list.
  const note = outside && where === 'top' ? h('span', { class: 'muted' }, OUTSIDE_NOTE) : null;
  return h('nav', { class: 'neighbours', 'aria-label': `Completions in the list (${where})` }, note, link(previous, label('↑', 'Previous', true), 'previous'), nextNode, problem);
}
