// Acting on the selected completions at once: add a tag, remove a tag, delete. A tag is changed by the service
// in each map as stored (up to 100 completions a request), so operators tagging the same completions at once
// keep each other's pairs; a delete is one request a completion. A few requests at a time, with progress, and
// a summary at the end naming each failure with the API's message. Failures stay selected, so trying again is
// one more press.

import { api, changeMetadata, completionPath, METADATA_CHANGE_MAX_IDS } from './api.js';
import { announce, askToConfirm, field, fieldError, h, replaceChildren, scrollRegion, uid } from './dom.js';
import { formatInteger, METADATA_LIMITS } from './format.js';
import { metadataProblem, problemField } from './metadata-editor.js';
import { suggestMetadata } from './metadata-suggestions.js';
import { rememberTag } from './quick-tag.js';

/** As for the previews: a few at a time leaves the service (and a SQLite writer) room for everyone else. */
const CONCURRENCY = 4;

const completions = (n) => `${formatInteger(n)} completion${n === 1 ? '' : 's'}`;

/** A completion a tag change found already so: nothing was written. */
const UNCHANGED = Symbol('unchanged');

/**
 * Runs `work(batch)` over the ids, `size` of them a call, CONCURRENCY calls at a time, until `stopped()` says so
 * (what is under way then finishes; the rest never starts). `work` answers a Map of the batch's ids to UNCHANGED
 * or an Error (an id absent, or no Map: done), or throws for the whole batch. The outcome in the ids' order, whatever finished first.
 */
async function eachAtMost(ids, size, work, onStep, stopped) {
  const queue = [...ids];
  const outcomes = new Map();
  async function worker() {
    while (queue.length && !stopped()) {
      const batch = queue.splice(0, size);
      let answered;
      try {
        answered = await work(batch);
      } catch (failure) {
        answered = new Map(batch.map((id) => [id, failure]));
      }
      for (const id of batch) outcomes.set(id, answered?.get(id));
      onStep(outcomes.size);
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, Math.ceil(ids.length / size)) }, worker));
  const done = ids.filter((id) => outcomes.has(id) && !(outcomes.get(id) instanceof Error));
  return {
    done,
    unchanged: done.filter((id) => outcomes.get(id) === UNCHANGED).length,
    failures: ids.filter((id) => outcomes.get(id) instanceof Error).map((id) => [id, outcomes.get(id).message]),
  };
}


/**
 * `selection` is the list's (selection.js); `onMetadata(id, metadata)` and `onDeleted(id)` redraw or take out
 * its card in place; `focusList()` takes the focus when the bar and the summary are both gone;
 * `filterHash(key, value)` is the list's URL with that metadata pair added to its filters, and `focusFilterOn(key)`
 * gives that pair's filter the focus once it is drawn;
 * `exportSelected(ids)` downloads those completions, in the list's order, in the format chosen beside "Export".
 */
export function createBulkActions({ selection, onMetadata, onDeleted, focusList, filterHash, focusFilterOn, exportSelected }) {
  const count = h('p', { class: 'bulk-count' });
  const addButton = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false' }, 'Add tag');
  const removeButton = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false' }, 'Remove tag');
  /** The picked completions themselves, by id (`POST /v1/stored-completions/export`): nothing is written to them. */
  const exportButton = h('button', { type: 'button', class: 'secondary' }, 'Export selected');
  const deleteButton = h('button', { type: 'button', class: 'danger' }, 'Delete');
  const clearButton = h('button', { type: 'button', class: 'link-button' }, 'Clear selection');
  const actionButtons = [addButton, removeButton, exportButton, deleteButton];

  const keyInput = h('input', { type: 'text', name: 'tag-key', autocomplete: 'off' });
  const valueInput = h('input', { type: 'text', name: 'tag-value', autocomplete: 'off' });
  const valueField = field('Tag value', valueInput);
  const hint = h('p', { class: 'hint' });
  const formError = fieldError();
  const cancelButton = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const applyButton = h('button', { type: 'submit' }, 'Apply');
  const form = h('form', { class: 'bulk-form', novalidate: true },
    hint,
    h('div', { class: 'pair-fields' }, field('Tag key', keyInput), valueField, suggestMetadata(keyInput, valueInput)),
    formError.element,
    h('div', { class: 'actions' }, applyButton, cancelButton),
  );
  form.hidden = true;
  /** The button whose form is open: Add tag or Remove tag. */
  let formTrigger = null;

  const progressText = h('span', { id: uid('bulk-progress') });
  const progress = h('progress', { max: '1', value: '0', 'aria-labelledby': progressText.id });
  const stopButton = h('button', { type: 'button', class: 'secondary' }, 'Stop');
  const progressLine = h('p', { class: 'bulk-progress' }, progress, progressText, stopButton);
  progressLine.hidden = true;

  const bar = h('section', { class: 'bulk-bar', 'aria-label': 'Selected completions' },
    h('div', { class: 'bulk-head' }, count, h('div', { class: 'toolbar' }, ...actionButtons, clearButton)),
    form,
    progressLine,
  );
  const summary = h('p', { class: 'bulk-summary' });
  const failureList = h('ul', { class: 'bulk-failures', 'aria-label': 'Failures' });
  // Many failures scroll in a box of their own: a region Tab reaches while they do, as other scrolling blocks are.
  const failureBox = h('div', { class: 'bulk-failures-box' }, failureList);
  const checkFailuresScroll = scrollRegion(failureBox, 'Failures');
  const dismissButton = h('button', { type: 'button', class: 'link-button' }, 'Dismiss');
  /** After a tag is added: the view of just the tagged ones (to look at them, export them, tag them further). */
  const showTagged = h('a', { class: 'show-tagged' });
  /** The pair "Show only" shows. */
  let shownTag = null;
  showTagged.hidden = true;
  // Followed, the list loads anew (the selection is cleared): the summary it came from is done with. The link goes
  // with it, and its focus would fall to the page's top: the filter it adds takes it, as after a card's chip.
  showTagged.addEventListener('click', (event) => {
    // Opened in another tab or window (Ctrl, Shift, ⌘), or downloaded (Alt): this list stays as it was, its summary too.
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    result.hidden = true;
    render();
    if (showTagged.getAttribute('href') === location.hash) focusList();
    else focusFilterOn(shownTag[0]);
  });
  const result = h('div', { class: 'bulk-result' }, summary, failureBox, h('div', { class: 'bulk-result-actions' }, showTagged, dismissButton));
  result.hidden = true;
  const element = h('div', { class: 'bulk' }, bar, result);

  /** The action under way (its AbortController), or null: one at a time, on a snapshot of the selection. */
  let running = null;
  /** Stop was pressed: the requests under way finish, no other starts (aborting them would leave their outcome unknown). */
  let stopping = false;
  stopButton.addEventListener('click', () => {
    if (!running || stopping) return;
    stopping = true;
    stopButton.setAttribute('aria-disabled', 'true');
    announce('Stopping: the requests under way finish, no others start.');
  });

  function render() {
    count.textContent = `${completions(selection.size)} selected`;
    if (selection.size === 0 && !form.hidden) closeForm();
    bar.hidden = selection.size === 0 && !running;
    element.hidden = bar.hidden && result.hidden;
  }
  selection.onChange(render);

  function closeForm() {
    form.hidden = true;
    formTrigger?.setAttribute('aria-expanded', 'false');
    const trigger = formTrigger;
    formTrigger = null;
    return trigger;
  }

  function openForm(trigger) {
    if (running) return;
    closeForm();
    formTrigger = trigger;
    trigger.setAttribute('aria-expanded', 'true');
    const adding = trigger === addButton;
    form.setAttribute('aria-label', adding ? 'Add tag' : 'Remove tag');
    hint.textContent = adding
      ? `Sets key = value in each selected completion's metadata, replacing that key's value. Keys up to ${METADATA_LIMITS.keyLength} characters, values up to ${METADATA_LIMITS.valueLength}, ${METADATA_LIMITS.pairs} pairs a completion.`
      : "Removes the key from each selected completion's metadata.";
    valueField.hidden = !adding;
    formError.show('');
    form.hidden = false;
    keyInput.focus();
  }

  addButton.addEventListener('click', () => openForm(addButton));
  removeButton.addEventListener('click', () => openForm(removeButton));
  exportButton.addEventListener('click', () => {
    if (running || exportButton.getAttribute('aria-disabled') === 'true' || selection.size === 0) return;
    closeForm();
    exportSelected(selection.ids());
  });
  cancelButton.addEventListener('click', () => closeForm()?.focus());
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeForm()?.focus();
  });
  // As in the metadata editor: Enter in the key goes on to the value (an empty value is a value, sent if Enter is pressed there).
  keyInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !valueField.hidden) {
      event.preventDefault();
      valueInput.focus();
    }
  });
  clearButton.addEventListener('click', () => {
    selection.drop(selection.ids());
    announce('Selection cleared');
    focusList();
  });
  dismissButton.addEventListener('click', () => {
    result.hidden = true;
    render();
    if (bar.hidden) focusList();
    else addButton.focus();
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const adding = formTrigger === addButton;
    const key = keyInput.value;
    const value = adding ? valueInput.value : '';
    const problem = metadataProblem([[key, value]]);
    if (problem) {
      // The value's field when the value is what is wrong: the key's took the focus whatever the problem.
      const wrong = problemField(value, keyInput, valueInput);
      formError.show(problem, wrong);
      wrong.focus();
      return;
    }
    const trigger = closeForm();
    // The pair set last is what a conversation's "Tag" adds.
    if (adding) rememberTag(key, value);
    // (Built from entries: a key "__proto__" in an object literal would set its prototype, not a pair.)
    if (adding) run(trigger, `Adding ${key}=${value}`, `Added ${key}=${value} to `, retagging({ set: Object.fromEntries([[key, value]]) }), METADATA_CHANGE_MAX_IDS, [key, value]);
    else run(trigger, `Removing ${key}`, `Removed ${key} from `, retagging({ remove: [key] }), METADATA_CHANGE_MAX_IDS);
  });

  deleteButton.addEventListener('click', () => {
    if (!running && selection.size) confirmDelete();
  });

  /**
   * The work of a tag change over a batch: merged by the service into each map as it is stored, never a map the
   * card showed (minutes old perhaps) nor one read a moment ago (another operator may write in between) sent whole.
   */
  const retagging = (change) => async (batch, signal) => {
    const outcomes = new Map();
    for (const answer of await changeMetadata(batch, change, { signal })) {
      // Deleted meanwhile: reported, and its card goes (trying again could only fail the same way). Said in words of
      // its own: the API's sentence repeated the id the line (and its announcement) already begins with.
      if (answer.outcome === 'not_found') {
        onDeleted(answer.id);
        outcomes.set(answer.id, new Error('Deleted meanwhile.'));
        continue;
      }
      // Changed or not, the card gets the map as stored now, which it may not have shown.
      onMetadata(answer.id, answer.metadata);
      if (answer.outcome === 'unchanged') outcomes.set(answer.id, UNCHANGED);
      // Left whole by the service: skipping it silently would look like success.
      if (answer.outcome === 'too_many_pairs') outcomes.set(answer.id, new Error(`It has ${METADATA_LIMITS.pairs} metadata pairs already, the most allowed: remove one first.`));
    }
    return outcomes;
  };

  async function remove(id, signal) {
    try {
      await api(completionPath(id), { method: 'DELETE', signal });
    } catch (failure) {
      // Deleted meanwhile (another tab): what was asked for is done, as in the conversation's Delete.
      if (failure.status !== 404) throw failure;
    }
    onDeleted(id);
  }

  function confirmDelete() {
    const total = selection.size;
    askToConfirm({
      parent: bar,
      title: `Delete ${completions(total)}?`,
      text: `The ${total === 1 ? 'selected completion' : `${formatInteger(total)} selected completions`} and ${total === 1 ? 'its' : 'their'} input messages will be deleted for good. This cannot be undone.`,
      confirmLabel: 'Delete',
      onClose(confirmed) {
        if (confirmed) run(deleteButton, 'Deleting', 'Deleted ', ([id], signal) => remove(id, signal), 1);
        else deleteButton.focus();
      },
    });
  }

  /**
   * Runs `work(batch, signal)` over the selection, `size` ids a batch (a delete is one request a completion, a tag change
   * names up to a hundred), with progress, then says what was done and what failed; `tag`, the pair an "Add tag" set.
   */
  async function run(trigger, doing, didPrefix, work, size, tag = null) {
    const ids = selection.ids();
    if (running || ids.length === 0) return;
    running = new AbortController();
    stopping = false;
    stopButton.removeAttribute('aria-disabled');
    const { signal } = running;
    // A tag form left open when Delete was confirmed: its buttons now wait, so it goes too (its Apply would do nothing).
    closeForm();
    // aria-disabled, not disabled: the focus waits on the button pressed, which a disabled one would drop.
    for (const button of actionButtons) button.setAttribute('aria-disabled', 'true');
    trigger.focus();
    result.hidden = true;
    progress.max = ids.length;
    progress.value = 0;
    progressText.textContent = `${doing}: 0 of ${formatInteger(ids.length)} done`;
    progressLine.hidden = false;
    render();
    announce(progressText.textContent);
    const { done, unchanged, failures } = await eachAtMost(ids, size, (batch) => work(batch, signal), (finished) => {
      progress.value = finished;
      progressText.textContent = `${doing}: ${formatInteger(finished)} of ${formatInteger(ids.length)} done`;
    }, () => stopping);
    if (signal.aborted) return;
    running = null;
    for (const button of actionButtons) button.removeAttribute('aria-disabled');
    progressLine.hidden = true;
    const notStarted = ids.length - done.length - failures.length;
    // Counted are the completions changed: one that already had the pair (or lacked the key) is said apart.
    const changed = done.length - unchanged;
    const counted = done.length < ids.length ? `${formatInteger(changed)} of ${completions(ids.length)}` : completions(changed);
    const alreadySo = unchanged ? `; ${formatInteger(unchanged)} ${tag ? 'already had it' : 'did not have it'}` : '';
    // All of them already so: "Added x=y to 0 completions; 60 already had it" read as a failure.
    const nothingToDo = unchanged === ids.length
      ? `${unchanged === 1 ? 'It' : `All ${formatInteger(unchanged)}`} ${tag ? `already had ${tag[0]}=${tag[1]}` : 'had no such key'}: nothing changed.`
      : null;
    summary.textContent = nothingToDo ?? `${didPrefix}${counted}${alreadySo}.`
      + (notStarted ? ` Stopped: ${formatInteger(notStarted)} not started, still selected.` : '')
      + (failures.length ? ` ${formatInteger(failures.length)} failed:` : '');
    replaceChildren(failureList, failures.map(([id, message]) => h('li', null, h('code', null, id), `: ${message}`)));
    // The box goes too: empty, its margin stood between the summary and its links.
    failureBox.hidden = failures.length === 0;
    checkFailuresScroll();
    showTagged.hidden = !(tag && done.length);
    if (tag) {
      shownTag = tag;
      showTagged.href = filterHash(...tag);
      replaceChildren(showTagged, 'Show only ', h('bdi', null, tag[0]), ' = ', h('bdi', null, tag[1]));
    }
    result.hidden = false;
    // Moved only if it still waits on the button pressed: a user who went on meanwhile keeps their place.
    const waiting = [trigger, stopButton, document.body].includes(document.activeElement);
    selection.drop(done);
    announce([summary.textContent, ...failures.map(([id, message]) => `${id}: ${message}`)].join(' '));
    // Failures still selected: the same button again retries them. Nothing left: the summary's own control.
    if (waiting) (bar.hidden ? dismissButton : trigger).focus();
  }

  render();
  return {
    element,
    /** The list loads anew for other filters or order: a selection of cards no longer shown is dropped. */
    listReloaded() {
      closeForm();
      if (selection.reset()) announce('Selection cleared: the list was loaded again with other filters or order.');
    },
    destroy() {
      running?.abort();
    },
  };
}
