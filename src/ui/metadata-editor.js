// Editing a completion's metadata: add, change and remove pairs, with the API's limits checked before
// "Save" sends the whole map (the update endpoint replaces it).

import { askToConfirm, field, fieldError, h, replaceChildren, shownPairText } from './dom.js';
import { characterCount, METADATA_LIMITS } from './format.js';
import { suggestMetadata } from './metadata-suggestions.js';

/** Why `pairs` would be refused by the API, or null. */
export function metadataProblem(pairs) {
  if (pairs.length > METADATA_LIMITS.pairs) return `At most ${METADATA_LIMITS.pairs} pairs: remove ${pairs.length - METADATA_LIMITS.pairs}.`;
  for (const [key, value] of pairs) {
    if (!key) return 'A key cannot be empty.';
    if (characterCount(key) > METADATA_LIMITS.keyLength) return `The key "${key.slice(0, 20)}…" is longer than ${METADATA_LIMITS.keyLength} characters.`;
    if (characterCount(value) > METADATA_LIMITS.valueLength) return `The value of "${key}" is longer than ${METADATA_LIMITS.valueLength} characters (${characterCount(value)}).`;
  }
  return null;
}

/** The field to correct when a pair typed is refused (metadataProblem): its value when that is too long, else its key. */
export function problemField(value, keyInput, valueInput) {
  return characterCount(value) > METADATA_LIMITS.valueLength ? valueInput : keyInput;
}

/**
 * `save(metadata, pair)` sends the map and resolves when the API accepted it (it throws the API's error
 * otherwise); `pair` is the last one added or changed and still in the map, or null. `close()` is called on cancel,
 * on Escape and after a save.
 */
export function createMetadataEditor(metadata, { save, close: closed }) {
  // A reload or a closed tab with edits typed: the browser's own "Leave site?" question.
  const guardUnload = (event) => {
    if (!form.isConnected) return window.removeEventListener('beforeunload', guardUnload);
    if (hasEdits()) event.preventDefault();
  };
  window.addEventListener('beforeunload', guardUnload);
  const close = () => {
    window.removeEventListener('beforeunload', guardUnload);
    closed();
  };
  const pairs = Object.entries(metadata ?? {});
  /** The map as it was opened, to tell whether leaving would lose anything. */
  const initial = JSON.stringify(pairs);
  const list = h('ul', { class: 'pairs', 'aria-label': 'Metadata pairs' });
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const keyInput = h('input', { type: 'text', autocomplete: 'off', name: 'key' });
  const valueInput = h('input', { type: 'text', autocomplete: 'off', name: 'value' });
  const addButton = h('button', { type: 'button', class: 'secondary' }, 'Add pair');
  const error = fieldError();
  const saveButton = h('button', { type: 'submit' }, 'Save');
  const cancelButton = h('button', { type: 'button', class: 'secondary' }, 'Cancel');

  /**
   * The key whose "Change" filled the fields, until they are taken: the pair then takes the fields' key and value
   * in its place, so a key can be renamed (a new key would otherwise be added beside the old pair).
   */
  let changing = null;
  /** The value of the pair being changed, as stored: the Value field may not hold it as it is (below). */
  let changingValue = null;
  /** The last pair added or changed: what the conversation's "Tag" applies next (quick-tag.js). */
  let lastTaken = null;
  function setChanging(key, value = null) {
    changing = key;
    changingValue = value;
    labelAddButton();
  }

  /**
   * The fields' key and value. A text field drops the line breaks of what it is given, so a pair "Change" put there
   * untouched (a value written with line breaks through the API) was saved without them; it is read back as stored.
   */
  function typedPair() {
    const asGiven = (input, original) => (original !== null && input.value === original.replace(/[\r\n]/g, '') ? original : input.value);
    return changing === null ? [keyInput.value, valueInput.value] : [asGiven(keyInput, changing), asGiven(valueInput, changingValue)];
  }

  /**
   * What the button will do: a key typed that a pair already has replaces that pair's value (a map holds a key
   * once), which "Add pair" did not say.
   */
  function labelAddButton() {
    // Renamed onto another pair's key (Change, then that key typed), the other pair's value is replaced too: said so.
    const replaces = pairs.some(([k]) => k === keyInput.value && k !== changing);
    addButton.textContent = replaces ? 'Replace value' : changing !== null ? 'Update pair' : 'Add pair';
  }

  /** `control`: the field the message is about, if one is. */
  function showError(message, control) {
    error.show(message, ...(control ? [control] : []));
  }

  function renderPairs() {
    replaceChildren(
      list,
      pairs.map(([key, value], index) =>
        h('li', null,
          h('code', { class: 'pair-key' }, shownPairText(key)),
          h('span', { 'aria-hidden': 'true' }, ' = '),
          h('span', { class: 'pair-value' }, shownPairText(value)),
          h('span', { class: 'pair-actions' },
            h('button', { type: 'button', class: 'link-button', 'aria-label': `Change ${key}`, onclick: () => {
              keyInput.value = key;
              valueInput.value = value;
              setChanging(key, value);
              valueInput.focus();
            } }, 'Change'),
            h('button', { type: 'button', class: 'link-button', 'aria-label': `Remove ${key}`, onclick: () => {
              pairs.splice(index, 1);
              // The pair being changed: its key and value in the fields go with it (Save would have put it back).
              if (key === changing) {
                setChanging(null);
                keyInput.value = '';
                valueInput.value = '';
                showError(null);
              }
              renderPairs();
              keyInput.focus();
            } }, 'Remove'),
          ),
        ),
      ),
    );
    if (pairs.length === 0) list.append(h('li', { class: 'muted' }, 'No metadata.'));
    labelAddButton();
    count.textContent = `${pairs.length} of ${METADATA_LIMITS.pairs} pairs`;
  }

  /** Puts the Key and Value fields into the pairs (replacing the key's old value); false when they are invalid. */
  function takeFields({ required }) {
    const [key, value] = typedPair();
    if (!key && !value) {
      if (required) showError('Enter a key and a value.', keyInput);
      return !required;
    }
    const changed = changing === null ? -1 : pairs.findIndex(([k]) => k === changing);
    const index = changed >= 0 ? changed : pairs.findIndex(([k]) => k === key);
    // Renamed onto another pair's key: that pair goes, as typing the key again would have replaced its value.
    const next = pairs.filter(([k], i) => i === index || k !== key);
    const at = next.indexOf(pairs[index]);
    if (at >= 0) next[at] = [key, value];
    else next.push([key, value]);
    const problem = metadataProblem(next);
    if (problem) {
      // To the field to correct (a Save pressed with a value and no key left the focus on Save).
      const wrong = problemField(value, keyInput, valueInput);
      showError(problem, wrong);
      wrong.focus();
      return false;
    }
    pairs.splice(0, pairs.length, ...next);
    lastTaken = [key, value];
    setChanging(null);
    keyInput.value = '';
    valueInput.value = '';
    showError(null);
    renderPairs();
    return true;
  }

  addButton.addEventListener('click', () => {
    if (takeFields({ required: true })) keyInput.focus();
  });
  for (const input of [keyInput, valueInput]) {
    // Both fields emptied: the change is given up, and what is typed next is a pair of its own.
    input.addEventListener('input', () => {
      if (changing !== null && keyInput.value === '' && valueInput.value === '') setChanging(null);
      else labelAddButton();
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && input === keyInput) {
        event.preventDefault();
        valueInput.focus();
      }
    });
  }
  /**
   * While a save is on its way, leaving is not offered: the request cannot be called back, so "Cancel" would only
   * hide a save that still lands (and redraws the conversation over an editor opened again meanwhile).
   */
  const saving = () => saveButton.getAttribute('aria-disabled') === 'true';
  cancelButton.addEventListener('click', () => {
    if (!saving()) close();
  });

  /**
   * Something typed would be lost by leaving: the pairs differ from the opened map, or the fields hold text that
   * is not just the pair "Change" put there untouched.
   */
  function hasEdits() {
    // Sent already: what was typed is in the request on its way, which leaving does not call back.
    if (saving()) return false;
    if (JSON.stringify(pairs) !== initial) return true;
    const [key, value] = typedPair();
    if (!key && !value) return false;
    return !(changing !== null && key === changing && pairs.some(([k, v]) => k === key && v === value));
  }

  /**
   * Escape leaves the editor, as it leaves every form of the page; with edits typed it asks first (Escape is
   * pressed by reflex, and one key must not throw away a map typed pair by pair). "Cancel" is asked for by name.
   */
  function leaveAsked() {
    if (saving()) return;
    if (!hasEdits()) return close();
    const back = document.activeElement;
    askToConfirm({
      parent: form,
      title: 'Discard your changes?',
      text: 'The metadata changes you made have not been saved. Discarding them leaves the completion as it was.',
      confirmLabel: 'Discard changes',
      cancelLabel: 'Keep editing',
      onClose(discarded) {
        if (discarded) close();
        else (back && form.contains(back) ? back : keyInput).focus();
      },
    });
  }

  const form = h('form', { class: 'metadata-editor card', 'aria-label': 'Edit metadata', novalidate: true },
    h('h2', null, 'Edit metadata'),
    h('p', { class: 'hint' }, `Up to ${METADATA_LIMITS.pairs} pairs; keys up to ${METADATA_LIMITS.keyLength} characters, values up to ${METADATA_LIMITS.valueLength}. Saving replaces all of the completion's metadata.`),
    list,
    count,
    h('div', { class: 'pair-fields' },
      field('Key', keyInput),
      h('span', { class: 'equals', 'aria-hidden': 'true' }, '='),
      field('Value', valueInput),
      addButton,
      suggestMetadata(keyInput, valueInput),
    ),
    error.element,
    h('div', { class: 'actions' }, saveButton, cancelButton),
  );
  form.addEventListener('keydown', (event) => {
    // The question's own Escape (a dialog's cancel) answers it: keep editing.
    if (event.key !== 'Escape' || event.defaultPrevented || event.target.closest('dialog')) return;
    event.preventDefault();
    leaveAsked();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    // A pair typed but not yet added is part of what the user means to save.
    if (!takeFields({ required: false })) return;
    const problem = metadataProblem(pairs);
    if (problem) return showError(problem);
    if (saving()) return;
    // aria-disabled, not disabled: a disabled button drops the focus, and a keyboard user whose save the
    // service refused was left on the page's body, away from the error and from Save to try again.
    saveButton.setAttribute('aria-disabled', 'true');
    cancelButton.setAttribute('aria-disabled', 'true');
    try {
      const kept = lastTaken && pairs.some(([k, v]) => k === lastTaken[0] && v === lastTaken[1]);
      await save(Object.fromEntries(pairs), kept ? lastTaken : null);
      close();
    } catch (failure) {
      showError(failure.message);
    } finally {
      saveButton.removeAttribute('aria-disabled');
      cancelButton.removeAttribute('aria-disabled');
    }
  });
  renderPairs();
  return { element: form, focus: () => keyInput.focus(), hasEdits };
}
