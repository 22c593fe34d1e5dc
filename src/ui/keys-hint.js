// The keys (shortcuts.js), said in one quiet line beside the list's summary (not on a phone, which has no keyboard to
// press them), with the way to turn them off: single keys can be set off by speech input (WCAG 2.1.4).

import { announce, h } from './dom.js';
import { shortcutsActive, shortcutsOn, turnShortcuts } from './shortcuts.js';

/** `searchInput`: the field "/" goes to, which says so (aria-keyshortcuts); `search()`: the list's search words. */
export function createKeysHint({ searchInput, search }) {
  const keysText = h('span');
  const keysToggle = h('button', { type: 'button', class: 'link-button' });
  const element = h('p', { class: 'hint keys-hint' }, keysText, ' ', keysToggle);
  function show() {
    const on = shortcutsOn();
    // "n" and "p" named only where they act: in a conversation opened from a search (search-marks.js).
    const matchKeys = search() ? ' · n and p: next and previous match' : '';
    // Short enough to share the summary's row at 1280 px: "card or conversation" and "the conversation" took it past.
    keysText.textContent = on ? `Keys: / Search · j and k: next and previous${matchKeys} · t: tag · Escape: back to the list.` : 'Keyboard shortcuts are off.';
    // Its name is its visible text (WCAG 2.5.3): a speech-input user says what they see.
    keysToggle.textContent = on ? 'Turn off shortcuts' : 'Turn on shortcuts';
    searchInput.toggleAttribute('aria-keyshortcuts', shortcutsActive());
    if (shortcutsActive()) searchInput.setAttribute('aria-keyshortcuts', '/');
  }
  keysToggle.addEventListener('click', () => {
    turnShortcuts(!shortcutsOn());
    show();
    announce(shortcutsOn() ? 'Keyboard shortcuts on' : 'Keyboard shortcuts off');
  });
  show();
  return { element, show };
}
