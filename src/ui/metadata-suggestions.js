// Suggestions for the metadata fields (the filter's, the editor's, the selection's tag form): the keys, and the values
// of the key typed, of every completion this page has drawn (the list's pages, a conversation, a save). The API has
// no list of keys (SPEC.md), and what was read is what the user is working on. Held in the page only, and dropped
// when the views are (sign-out, a refused key): the next key may be another project's.

import { h, replaceChildren, uid } from './dom.js';

/** A datalist past a few hundred options is a list nobody reads, and each option is a node. */
const MAX_KEYS = 200;
const MAX_VALUES = 100;

/** key → Set of its values seen. */
let seen = new Map();

/** The pairs of completions just drawn. */
export function noteMetadata(completions) {
  for (const completion of completions) {
    for (const [key, value] of Object.entries(completion?.metadata ?? {})) {
      if (!seen.has(key)) {
        if (seen.size >= MAX_KEYS) continue;
        seen.set(key, new Set());
      }
      const values = seen.get(key);
      // An empty value is a value, but an empty suggestion is nothing to pick.
      if (value !== '' && values.size < MAX_VALUES) values.add(value);
    }
  }
}

export function forgetMetadata() {
  seen = new Map();
}

function fill(list, texts) {
  replaceChildren(list, [...texts].sort().map((text) => h('option', { value: text })));
}

/**
 * `keyInput` suggests the keys seen, `valueInput` the values seen of the key in `keyInput`; filled as each field is
 * focused, so they hold what was drawn since. Returns the two datalists, to be put in the page beside the fields.
 */
export function suggestMetadata(keyInput, valueInput) {
  const keys = h('datalist', { id: uid('metadata-keys') });
  const values = h('datalist', { id: uid('metadata-values') });
  keyInput.setAttribute('list', keys.id);
  valueInput.setAttribute('list', values.id);
  keyInput.addEventListener('focus', () => fill(keys, seen.keys()));
  valueInput.addEventListener('focus', () => fill(values, seen.get(keyInput.value) ?? []));
  return [keys, values];
}
