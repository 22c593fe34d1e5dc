// Why a search found a completion: its words marked (<mark>) where they are in the text drawn, and in a
// conversation a way to go from one to the next. Only text nodes are split, after the markdown is drawn, so a
// mark never touches the markup's syntax, an attribute or a link's address, and no text passes through HTML.

import { announce, h } from './dom.js';
import { formatInteger } from './format.js';
import { shortcutsActive } from './shortcuts.js';

/** Marks the search's words in the text under `root`; returns how many marks it drew. */
export function markMatches(root, matcher) {
  if (!matcher || matcher.empty) return 0;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement?.closest('mark.match')) nodes.push(node);
  }
  let count = 0;
  for (const node of nodes) {
    const text = node.data;
    const ranges = matcher.ranges(text);
    if (!ranges.length) continue;
    // Gathered in a fragment, not passed as arguments: a paragraph of 100,000 matches overflowed the call's stack.
    const pieces = document.createDocumentFragment();
    let at = 0;
    for (const [start, end] of ranges) {
      if (start > at) pieces.append(text.slice(at, start));
      pieces.append(h('mark', { class: 'match' }, text.slice(start, end)));
      at = end;
    }
    if (at < text.length) pieces.append(text.slice(at));
    node.replaceWith(pieces);
    count += ranges.length;
  }
  return count;
}

/**
 * "3 matches" with "Previous match" and "Next match": each goes to a mark in `scope()` (drawn anew when
 * "Markdown" is toggled, so looked up at each press), opening a closed fold around it, and says where it is.
 * The marks are counted at each press too: "Show more" draws the text past a cut, and its marks with it.
 * `go(step)` is "n" and "p" (shortcuts.js): false when there is no mark to go to, so the key is left alone.
 */
export function matchNavigation(scope, search) {
  const count = h('span', { class: 'match-count' });
  const keys = shortcutsActive();
  const previous = h('button', { type: 'button', class: 'secondary small', 'aria-keyshortcuts': keys ? 'p' : null }, 'Previous match');
  const next = h('button', { type: 'button', class: 'secondary small', 'aria-keyshortcuts': keys ? 'n' : null }, 'Next match');
  const element = h('div', { class: 'match-nav', role: 'group', 'aria-label': 'Search matches' }, count, previous, next);
  let current = -1;
  const marks = () => [...scope().querySelectorAll('mark.match')];
  const say = () => {
    const all = marks();
    element.hidden = all.length === 0;
    const index = all.findIndex((mark) => mark.classList.contains('current'));
    count.textContent = index === -1
      ? `${formatInteger(all.length)} ${all.length === 1 ? 'match' : 'matches'} of “${search}”`
      : `Match ${formatInteger(index + 1)} of ${formatInteger(all.length)}`;
  };
  const go = (step) => {
    const all = marks();
    if (!all.length) {
      say();
      return false;
    }
    const at = all.findIndex((mark) => mark.classList.contains('current'));
    current = at === -1 ? (step > 0 ? 0 : all.length - 1) : (at + step + all.length) % all.length;
    for (const mark of all) mark.classList.remove('current');
    const mark = all[current];
    mark.classList.add('current');
    for (let fold = mark.closest('details:not([open])'); fold; fold = fold.parentElement?.closest('details:not([open])')) fold.open = true;
    mark.scrollIntoView({ block: 'center' });
    say();
    announce(count.textContent);
    return true;
  };
  previous.addEventListener('click', () => go(-1));
  next.addEventListener('click', () => go(1));
  return { element, update: say, go };
}
