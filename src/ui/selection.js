// Which loaded completions are selected for a bulk action: a checkbox on each card, "Select all loaded",
// and shift-click for a range. Only loaded cards can be selected, so an action never reaches a completion
// the user cannot see: the list takes ids out (forget) as its cards go, and clears it when it loads anew.

import { h } from './dom.js';

/** `ids()` gives the loaded completions' ids in list order. */
export function createSelection({ ids }) {
  const selected = new Set();
  /** Each loaded card's checkbox; a card drawn anew (after a save) registers its new one. */
  const boxes = new Map();
  const listeners = new Set();
  /** The card last clicked without shift: one end of a shift-click range. */
  let anchor = null;

  const allBox = h('input', { type: 'checkbox', class: 'select-box' });
  const selectAll = h('label', { class: 'select-all' }, allBox, 'Select all loaded');

  function changed() {
    const loaded = ids();
    const count = loaded.filter((id) => selected.has(id)).length;
    allBox.checked = loaded.length > 0 && count === loaded.length;
    allBox.indeterminate = count > 0 && count < loaded.length;
    selectAll.hidden = loaded.length === 0;
    for (const [id, box] of boxes) box.checked = selected.has(id);
    for (const listener of listeners) listener();
  }

  function set(id, on) {
    if (on) selected.add(id);
    else selected.delete(id);
  }

  allBox.addEventListener('change', () => {
    // The browser's own step: unchecked or mixed becomes checked (every loaded card), checked clears.
    for (const id of ids()) set(id, allBox.checked);
    anchor = null;
    changed();
  });

  return {
    selectAll,
    /** The card's checkbox, named by the completion's id (each card's link has the same name). */
    checkbox(id) {
      const box = h('input', { type: 'checkbox', class: 'select-box', 'aria-label': `Select ${id}`, checked: selected.has(id) });
      box.addEventListener('click', (event) => {
        const loaded = ids();
        const from = anchor === null ? -1 : loaded.indexOf(anchor);
        const to = loaded.indexOf(id);
        if (event.shiftKey && from !== -1 && to !== -1) {
          for (const other of loaded.slice(Math.min(from, to), Math.max(from, to) + 1)) set(other, box.checked);
        } else {
          set(id, box.checked);
          anchor = id;
        }
        changed();
      });
      boxes.set(id, box);
      return h('span', { class: 'row-select' }, box);
    },
    has: (id) => selected.has(id),
    get size() {
      return selected.size;
    },
    /** The selected ids in list order (the order actions run and report in). */
    ids: () => ids().filter((id) => selected.has(id)),
    /** Unselects `done` (a finished action's successes); failures stay selected to try again. */
    drop(done) {
      for (const id of done) selected.delete(id);
      changed();
    },
    /** A card taken out of the list (deleted, or no longer matching the filters). */
    forget(id) {
      selected.delete(id);
      boxes.delete(id);
      if (anchor === id) anchor = null;
      changed();
    },
    /** The list loads anew (other filters or order): its cards, and any selection of them, are gone. */
    reset() {
      const had = selected.size;
      selected.clear();
      boxes.clear();
      anchor = null;
      changed();
      return had;
    },
    /** After a page of cards was added: "Select all loaded" is now partly checked. */
    refresh: changed,
    onChange(listener) {
      listeners.add(listener);
    },
    focusSelectAll() {
      if (selectAll.hidden) return false;
      allBox.focus();
      return true;
    },
  };
}
