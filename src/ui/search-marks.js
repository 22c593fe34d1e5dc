// Why a search found a completion: its words marked (<mark>) where they are in the text drawn, and in a
// conversation a way to go from one to the next. Only text nodes are split, after the markdown is drawn, so a
// mark never touches the markup's syntax, an attribute or a link's address, and no text passes through HTML.

import { announce, h } from './dom.js';
import { formatInteger } from './format.js';
import { shortcutsActive } from './shortcuts.js';

/** Marks the search's words in the text under `root`; returns how many marks it drew. */
export function markMatches(root, matcher) {
  return markAll(root, matcher).count;
}

/** Marks every text under `root`; returns the count, and the last text's record (`markText`) for `growMarked`. */
function markAll(root, matcher) {
  const found = { count: 0, last: null };
  if (!matcher || matcher.empty) return found;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    // A button's label ("Copy" on a code block) is the page's, not the message's: never a match.
    if (!node.parentElement?.closest('mark.match, button')) nodes.push(node);
  }
  for (const node of nodes) {
    found.last = markText(node, matcher);
    found.count += found.last.ranges.length;
  }
  return found;
}

/**
 * A text node split into text and marks, from the `kept` pieces of an earlier, shorter text on (its first `reused`
 * ranges). Returns the record `growMarked` extends: the text, its ranges and the pieces now in its place.
 */
function markText(node, matcher, kept = [], reused = 0, ranges = matcher.ranges(node.data)) {
  const text = node.data;
  let at = reused ? ranges[reused - 1][1] : 0;
  // The text after the kept pieces: the node holds it from there on.
  if (at) node.data = text.slice(at);
  if (ranges.length === reused) return { text, ranges, pieces: kept.concat(node) };
  // Gathered in a fragment, not passed as arguments: a paragraph of 100,000 matches overflowed the call's stack.
  const pieces = document.createDocumentFragment();
  for (const [start, end] of ranges.slice(reused)) {
    if (start > at) pieces.append(text.slice(at, start));
    pieces.append(h('mark', { class: 'match' }, text.slice(start, end)));
    at = end;
  }
  if (at < text.length) pieces.append(text.slice(at));
  const added = [...pieces.childNodes];
  node.replaceWith(pieces);
  return { text, ranges, pieces: kept.length ? kept.concat(added) : added };
}

/**
 * Draws `nodes` (the text, as markdown or as the characters, not marked yet) into `block` with the search's words
 * marked. `state` (an object kept between draws of one text) lets a longer draw of the same text ("Show more") leave
 * what was drawn in the page: when the new nodes are the old ones with their last text longer and more after it,
 * only what was added is drawn and marked. Everything was drawn and marked again, and 100,000 marks took seconds a
 * click. Otherwise (the markdown read the old end anew: a line that made the paragraph before it a heading) all is
 * drawn afresh. Either way the marks are those marking afresh gives.
 */
export function growMarked(block, nodes, matcher, state) {
  const plain = nodes.map((node) => node.cloneNode(true));
  if (state.plain && state.last && grows(state.plain, nodes)) {
    extend(block, state.plain, nodes, matcher, state);
  } else {
    const drawn = document.createDocumentFragment();
    for (const node of nodes) drawn.append(node);
    state.last = markAll(drawn, matcher).last;
    block.replaceChildren(drawn);
  }
  state.plain = plain;
}

/** Whether `after` is `before` with its last text longer and nodes added after it, at every depth. */
function grows(before, after) {
  const last = before.length - 1;
  if (last < 0 || after.length <= last) return false;
  for (let i = 0; i < last; i++) if (!before[i].isEqualNode(after[i])) return false;
  const [old, now] = [before[last], after[last]];
  if (old.isEqualNode(now)) return true;
  if (old.nodeType === Node.TEXT_NODE) return now.nodeType === Node.TEXT_NODE && now.data.startsWith(old.data);
  return old.nodeType === Node.ELEMENT_NODE && old.cloneNode(false).isEqualNode(now.cloneNode(false)) && grows([...old.childNodes], [...now.childNodes]);
}

/** Draws into `live` (what `before` was drawn as) what `after` adds: the last text's rest, then the nodes after it. */
function extend(live, before, after, matcher, state) {
  const last = before.length - 1;
  const [old, now] = [before[last], after[last]];
  if (old.nodeType === Node.TEXT_NODE && !old.isEqualNode(now)) {
    // The last text drawn: its pieces up to the last match the longer text still has stay; the rest is marked anew.
    const { ranges, pieces } = state.last;
    const longer = matcher.ranges(now.data);
    let reused = 0;
    while (reused < ranges.length && reused < longer.length && ranges[reused][0] === longer[reused][0] && ranges[reused][1] === longer[reused][1]) reused++;
    let cut = 0;
    for (let marks = 0; marks < reused; cut++) if (pieces[cut].nodeName === 'MARK') marks++;
    for (const piece of pieces.slice(cut)) piece.remove();
    const rest = document.createTextNode(now.data);
    live.append(rest);
    state.last = markText(rest, matcher, pieces.slice(0, cut), reused, longer);
  } else if (!old.isEqualNode(now)) {
    // An element drawn last (it holds the last text, whose pieces are its last children): grown inside.
    extend(live.lastChild, [...old.childNodes], [...now.childNodes], matcher, state);
  }
  const added = document.createDocumentFragment();
  for (const node of after.slice(last + 1)) added.append(node);
  const found = markAll(added, matcher);
  if (found.last) state.last = found.last;
  live.append(added);
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
