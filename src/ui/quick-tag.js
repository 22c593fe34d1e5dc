// Tagging the conversation being read in one step: "Tag" (or "t") applies the pair last set in "Edit metadata"
// or in the selection's "Add tag", and "Undo" puts that key back as it was. Reading conversation after
// conversation to pick some for an eval was otherwise: open the editor, type a key and a value, save, each time.

import { changeMetadata, storedKey } from './api.js';
import { announce, h, isolatedText, pairNodes, shownPairText } from './dom.js';
import { METADATA_LIMITS } from './format.js';
import { metadataProblem } from './metadata-editor.js';
import { readSetting, writeSetting } from './preferences.js';
import { shortcutsActive } from './shortcuts.js';

/**
 * The setting's name for the key signed in: each key-holder (project) has its own pair, since another project's
 * tag, offered after a sign-out, would be the last one's data. A 32-bit FNV-1a of the key, never the key itself
 * (kept in the tab's sessionStorage only): four bytes say next to nothing of a secret of 20 characters or more.
 */
function settingName(holder = storedKey()) {
  let hash = 0x811c9dc5;
  for (const char of holder ?? '') hash = Math.imul(hash ^ char.codePointAt(0), 0x01000193) >>> 0;
  return `tag.${hash.toString(16)}`;
}

/** The pair "Tag" applies for the key signed in, or null. */
export function rememberedTag() {
  try {
    const pair = JSON.parse(readSetting(settingName(), 'null'));
    const valid = Array.isArray(pair) && pair.length === 2 && pair.every((part) => typeof part === 'string');
    return valid && !metadataProblem([pair]) ? pair : null;
  } catch {
    return null;
  }
}

/** `holder`: the key the pair was set with, signed out since perhaps (a save answered after the sign-out). */
export function rememberTag(key, value, holder = storedKey()) {
  writeSetting(settingName(holder), JSON.stringify([key, value]));
}

/** A pair in a sentence, each side isolated (FSI…PDI): a right-to-left value does not reorder the words after it. */
const pairText = (key, value) => `${isolatedText(key)}: ${isolatedText(value)}`;
const valueOf = (metadata, key) => (Object.hasOwn(metadata, key) ? metadata[key] : undefined);
/** "Conversation ending 3fK9qZ" (the last 6 characters of a long id; a short id whole), isolated as a pair's sides are. */
function conversationName(id) {
  const characters = [...id];
  return characters.length > 12 ? `Conversation ending ${isolatedText(characters.slice(-6).join(''))}` : `Conversation ${isolatedText(id)}`;
}

/**
 * For the conversation `id`: its "Tag" button and the line saying what it did, with "Undo". `onMetadata(metadata)`
 * gets the map as stored after each change (as it is, when nothing was written); `onGone()` runs when the service
 * answers that the completion was deleted meanwhile.
 */
export function createQuickTag(id, { onMetadata, onGone }) {
  const pair = rememberedTag();
  // Its name begins with what it shows (WCAG 2.5.3), the pair isolated as a chip's is; at most a chip's width, whole
  // in its tooltip (a value may be 512 characters).
  const button = h('button', {
    type: 'button',
    class: 'secondary tag-button',
    'aria-keyshortcuts': shortcutsActive() ? 't' : null,
    title: pair ? `Tag ${isolatedText(shownPairText(pair[0]))}: ${isolatedText(shownPairText(pair[1]))}` : null,
  }, 'Tag ', pair ? pairNodes(pair[0], ': ', pair[1]) : null);
  button.hidden = !pair;
  const said = h('span');
  const undoButton = h('button', { type: 'button', class: 'link-button' }, 'Undo');
  undoButton.hidden = true;
  const status = h('p', { class: 'tag-status' }, said, ' ', undoButton);
  status.hidden = true;
  /** A write on its way: another press waits for it, as "Edit metadata" does (its map would be the old one). */
  let busy = false;
  /** What "Undo" puts back: the key, the value the tag set, and the value before (undefined: it had none). */
  let undoable = null;

  function say(text, { failed = false, canUndo = false } = {}) {
    said.textContent = text;
    status.classList.toggle('error', failed);
    status.hidden = false;
    undoButton.hidden = !canUndo;
    // Answered after the user moved on ("j", "k"): the line is gone with its view, so the announcement says which
    // conversation it was about, by its id's end (the whole id is long to hear).
    announce(status.isConnected ? text : `${conversationName(id)}: ${text}`);
  }

  /** A press while a write runs does nothing: said, so that it is not taken for a press unheard. */
  const sayBusy = () => announce('Wait: a tag is still being saved.');

  /**
   * `change` ({ set, remove, expect }) merged by the service into the map as it is stored at that moment: the map
   * drawn may be minutes old, and even one read just before could change before a write of it whole (another tab,
   * another operator), which would undo theirs. The service's answer for this completion, whose map is drawn.
   */
  async function write(change) {
    const [answer] = await changeMetadata([id], change);
    if (answer.outcome === 'not_found') {
      // Deleted meanwhile (another tab, another client): said as such, not as the API's sentence with the whole id
      // (long to hear), and without an "Undo" that could only fail the same way.
      undoable = null;
      onGone?.();
      throw new Error('this completion was deleted meanwhile.');
    }
    onMetadata(answer.metadata);
    return answer;
  }

  /** `work` with presses refused while it runs (and said to wait); a failure said after `failed` ("Not tagged: "). */
  async function run(failed, work) {
    if (busy) return sayBusy();
    busy = true;
    button.setAttribute('aria-disabled', 'true');
    try {
      await work();
    } catch (failure) {
      say(failed + failure.message, { failed: true, canUndo: undoable !== null });
    } finally {
      busy = false;
      button.removeAttribute('aria-disabled');
    }
  }

  /** A map of one pair (built from entries: a key "__proto__" in an object literal would set its prototype, not a pair). */
  const pairMap = (key, value) => Object.fromEntries([[key, value]]);

  function tag() {
    const [key, value] = pair;
    return run('Not tagged: ', async () => {
      const answer = await write({ set: pairMap(key, value) });
      const before = valueOf(answer.previous_metadata, key);
      if (answer.outcome === 'too_many_pairs') {
        // Left whole by the service; the map it holds (drawn now) is why.
        throw new Error(`it has ${METADATA_LIMITS.pairs} metadata pairs already, the most allowed. Remove one in "Edit metadata" first.`);
      }
      if (answer.outcome === 'unchanged') return say(`It already has ${pairText(key, value)}: nothing changed.`, { canUndo: undoable !== null });
      undoable = { key, value, before };
      say(`Tagged ${pairText(key, value)}${before === undefined ? '' : ` (it was ${pairText(key, before)})`}.`, { canUndo: true });
    });
  }

  function undo() {
    const { key, value, before } = undoable;
    return run('Not undone: ', async () => {
      // Only while the key still holds the tag: changed since by someone else, theirs is kept, not overwritten with
      // what was there before the tag (the service checks at the moment it writes).
      const expect = pairMap(key, value);
      const answer = await write(before === undefined ? { remove: [key], expect } : { set: pairMap(key, before), expect });
      undoable = null;
      if (answer.outcome === 'expectation_failed') {
        const now = valueOf(answer.metadata, key);
        return say(`Not undone: ${isolatedText(key)} was ${now === undefined ? 'removed' : `changed to ${isolatedText(now)}`} meanwhile, and is left so.`);
      }
      say(before === undefined ? `Removed ${pairText(key, value)} again.` : `Put back ${pairText(key, before)}.`);
    });
  }

  undoButton.addEventListener('click', async () => {
    await undo();
    // The Undo pressed is hidden now: the focus waits on "Tag", next to it, not on the page's body.
    if (undoButton.hidden && document.activeElement !== button) button.focus();
  });
  button.addEventListener('click', () => {
    if (pair) tag();
  });

  return {
    button,
    status,
    busy: () => busy,
    sayBusy,
    /** "t" (shortcuts.js): the button pressed, or the way to set a pair said when there is none. */
    press() {
      if (pair) tag();
      else announce('No tag to add yet: a pair added in "Edit metadata" (or with "Add tag") is the one "t" adds.');
      return true;
    },
  };
}
