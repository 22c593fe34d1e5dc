// Keys for reading a day of conversations without the mouse: "/" to Search, "j" and "k" through the cards (or on
// to a conversation's Next and Previous), "n" and "p" through a search's matches in a conversation (Gmail's pair for
// next and previous: Shift+"n" would be refused with every other capital, below), "t" to tag a conversation, Escape
// from a conversation back to its list. Single keys: taken only
// where nothing else wants them, and they can be turned off (WCAG 2.1.4: a speech-input user's words are keys).

import { readSetting, writeSetting } from './preferences.js';

/**
 * Where a key is someone else's: a field being typed in, a select, contenteditable, and any ARIA widget that reads
 * keys itself (a screen reader in focus mode hands them to it). A checkbox or a button is not: "j" from a card's
 * checkbox goes on to the next card.
 */
const TYPING = [
  'input:not([type=checkbox], [type=radio], [type=button], [type=submit], [type=reset])',
  'textarea',
  'select',
  '[contenteditable]:not([contenteditable=false])',
  ...['textbox', 'searchbox', 'combobox', 'listbox', 'grid', 'treegrid', 'tree', 'menu', 'menubar', 'slider', 'spinbutton', 'tablist', 'radiogroup', 'application'].map((role) => `[role=${role}]`),
].join(', ');

/**
 * Where the line naming the keys, with its "Turn off", is not shown (a phone, a touch screen, a window 560 px wide or
 * less: the same query as `.keys-hint` in style.css), the keys are off too: never keys without their off switch.
 */
const keysLineHidden = window.matchMedia('(hover: none), (max-width: 560px)');

export function shortcutsOn() {
  return readSetting('shortcuts', 'on') !== 'off';
}

/** Whether the keys act here and now: turned on, and their line shown. What `aria-keyshortcuts` may announce. */
export function shortcutsActive() {
  return shortcutsOn() && !keysLineHidden.matches;
}

export function turnShortcuts(on) {
  writeSetting('shortcuts', on ? 'on' : 'off');
}

/**
 * `views()` says what is in sight: `{ list }` (focusSearch, focusCard) or `{ conversation }` (openNeighbour,
 * goToMatch, tag, backToList), each answering whether it did something; only then is the key's default prevented.
 */
export function installShortcuts(views) {
  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey || !shortcutsActive()) return;
    // "/" takes Shift on some layouts (German: Shift+7); a letter with Shift is another key ("J").
    if (event.shiftKey && event.key !== '/') return;
    if (event.target instanceof Element && event.target.closest(TYPING)) return;
    // A dialog open (a delete asked about) has the keys: Escape answers it, and nothing behind it moves.
    if (document.querySelector('dialog[open]')) return;
    const { list, conversation } = views();
    const step = { j: 1, k: -1 }[event.key];
    const matchStep = { n: 1, p: -1 }[event.key];
    let done = false;
    if (list) {
      if (event.key === '/') done = list.focusSearch();
      else if (step) done = list.focusCard(step);
    } else if (conversation && !event.repeat) {
      // (Not on repeat: a held key would open and drop a conversation per repeat.)
      if (step) done = conversation.openNeighbour(step > 0 ? 'next' : 'previous');
      else if (matchStep) done = conversation.goToMatch(matchStep);
      else if (event.key === 't') done = conversation.tag();
      else if (event.key === 'Escape') done = conversation.backToList();
    }
    if (done) event.preventDefault();
  });
}
