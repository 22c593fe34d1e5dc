// The list's filters: Search, Model, Order, the created range, metadata pairs, all held in the URL. A field typed in
// applies after a pause (one history entry a word, not one a pause); the URL's filters are written back into the
// fields when it changes otherwise (Back, a shared link, a chip clicked on a card).

import { field, fieldError, h, isolatedText, pairNodes, replaceChildren, shownPairText } from './dom.js';
import { hasFilters, listHash } from './filters.js';
import { characterCount, fromLocalInput, METADATA_LIMITS, toLocalInput } from './format.js';
import { suggestMetadata } from './metadata-suggestions.js';
import { createModelSuggestions } from './model-suggestions.js';

const TYPING_DELAY_MS = 400;
/** The "Created in the last" choices: label, and how far back from now. */
const QUICK_RANGES = [['hour', 3600], ['24 hours', 86_400], ['7 days', 7 * 86_400], ['30 days', 30 * 86_400]];

/**
 * `hidden()`: whether the list is out of sight (a conversation over it), when typing applies nothing; `onReplace()`:
 * the history entry in sight is being replaced (a word typed in pauses), so nothing can come back to the list it
 * showed; `refresh()`: the same view asked for again (Enter in a field that changed nothing); `heading`: the list's
 * heading, where Escape in Search goes.
 */
export function createFilterForm({ hidden, onReplace, refresh, heading }) {
  /** The route shown (filters.js parseRoute), set by `sync`. */
  let route = null;
  const searchInput = h('input', { type: 'search', name: 'search', autocomplete: 'off', placeholder: 'Words in messages or replies' });
  const modelInput = h('input', { type: 'text', name: 'model', list: 'known-models', autocomplete: 'off', placeholder: 'Any model' });
  const knownModels = createModelSuggestions('known-models');
  const afterInput = h('input', { type: 'datetime-local', name: 'created_after', step: '1' });
  const beforeInput = h('input', { type: 'datetime-local', name: 'created_before', step: '1' });
  /** Most looks are at what was stored lately: one click sets "Created after" that far back from now and clears "Created before". */
  const quickRanges = QUICK_RANGES.map(([label, seconds]) => {
    const button = h('button', { type: 'button', class: 'link-button', 'aria-label': `Created in the last ${label}` }, label);
    button.addEventListener('click', () => {
      const after = String(Math.floor(Date.now() / 1000) - seconds);
      navigate(withFilters({ created_after: after, created_before: undefined }));
    });
    return button;
  });
  const orderSelect = h(
    'select',
    { name: 'order' },
    h('option', { value: 'desc' }, 'Newest first'),
    h('option', { value: 'asc' }, 'Oldest first'),
  );
  const keyInput = h('input', { type: 'text', name: 'metadata-key', autocomplete: 'off', maxlength: String(METADATA_LIMITS.keyLength * 2) });
  const valueInput = h('input', { type: 'text', name: 'metadata-value', autocomplete: 'off' });
  const addFilterButton = h('button', { type: 'button', class: 'secondary' }, 'Add metadata filter');
  const metadataChips = h('ul', { class: 'chips', 'aria-label': 'Metadata filters' });
  const clearButton = h('button', { type: 'button', class: 'link-button' }, 'Clear filters');
  const filterError = fieldError();
  /** Says which times of the link were left out (filters.js parseRoute), instead of filtering on them unseen. */
  const linkError = h('p', { class: 'error', role: 'alert' });
  linkError.hidden = true;
  /** Dates that exclude each other: said, or the empty list would read as "nothing was stored then". */
  const rangeError = fieldError();
  /** A date field with a part left blank: said, as the list it shows is not (yet) filtered by it. */
  const incompleteError = fieldError();

  // On a phone the whole form filled the first screen before any completion: there it shows Search, the metadata
  // chips, and this button, which opens the rest (its count says how many of those hidden filter the list now).
  const moreFilters = h('button', { type: 'button', class: 'secondary more-filters', 'aria-expanded': 'false' });
  moreFilters.addEventListener('click', () => {
    filtersForm.classList.toggle('more-open');
    labelMoreFilters();
  });
  function labelMoreFilters() {
    const open = filtersForm.classList.contains('more-open');
    const hidden = [route.filters.model, route.filters.created_after, route.filters.created_before].filter((value) => value !== undefined).length
      + (route.order === 'asc' ? 1 : 0);
    moreFilters.setAttribute('aria-expanded', String(open));
    moreFilters.textContent = open ? 'Fewer filters' : hidden > 0 ? `More filters (${hidden} set)` : 'More filters';
  }

  const filtersForm = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filters' },
    h('div', { class: 'filter-grid' },
      field('Search', searchInput),
      // Under Search, above what it opens, where it stays (a disclosure's place): after the dates, "Fewer filters"
      // sat in the middle of the open form, the quick ranges and the metadata pair below it.
      moreFilters,
      field('Model', modelInput),
      knownModels.element,
      // Beside Model where they share a row (a phone, a narrow window): the tab order is the order they are seen in.
      field('Order', orderSelect),
      field('Created after', afterInput),
      field('Created before', beforeInput),
    ),
    h('div', { class: 'quick-ranges', role: 'group', 'aria-label': 'Quick date ranges' },
      h('span', { class: 'muted', 'aria-hidden': 'true' }, 'Created in the last'),
      ...quickRanges,
    ),
    h('fieldset', { class: 'metadata-filter' },
      h('legend', null, 'Metadata'),
      field('Key', keyInput),
      h('span', { class: 'equals', 'aria-hidden': 'true' }, '='),
      field('Value', valueInput),
      addFilterButton,
      suggestMetadata(keyInput, valueInput),
    ),
    h('div', { class: 'active-filters' }, metadataChips, clearButton),
    linkError,
    rangeError.element,
    incompleteError.element,
    filterError.element,
  );

  /** A word typed in several pauses is one step back, not one per pause. */
  let typedSinceLastStep = false;
  /**
   * The search and model the fields and the URL last agreed on. A URL that says the same is the echo of
   * the user's own typing and leaves a focused field alone; any other (Clear filters, back) is written into it.
   */
  let appliedFromFields = { search: undefined, model: undefined };
  /** The key of a card's chip just clicked: its filter chip takes the focus once drawn. */
  let focusFilterOn = null;

  /** `replace` rewrites the current history entry instead of adding one (each pause while typing a word). */
  function navigate(next, { replace = false } = {}) {
    const hash = listHash(next);
    if (hash === location.hash || (hash === '#/' && location.hash === '')) return;
    if (replace) {
      // The entry goes (a word typed in pauses): nothing can come back to the list it showed.
      onReplace();
      location.replace(hash);
    } else location.hash = hash;
    typedSinceLastStep = false;
  }

  function withFilters(changes) {
    return { ...route, filters: { ...route.filters, ...changes } };
  }

  /** The text and date fields as they read now, applied if they differ from the URL. */
  function applyFields({ typing = false } = {}) {
    // Hidden behind a conversation (back pressed while typing): neither the pause's timer nor the change
    // event of the search field losing focus may apply its words, which pulled the page back to the list.
    if (!route || hidden()) return;
    const next = withFilters({
      search: searchInput.value.trim() || undefined,
      model: modelInput.value.trim() || undefined,
      created_after: dateFilter(afterInput, route.filters.created_after),
      created_before: dateFilter(beforeInput, route.filters.created_before),
    });
    next.order = orderSelect.value === 'asc' ? 'asc' : 'desc';
    appliedFromFields = { search: next.filters.search, model: next.filters.model };
    const same = listHash(next) === listHash(route);
    navigate(next, { replace: typedSinceLastStep });
    typedSinceLastStep = typing;
    return same;
  }

  /**
   * A date field with a part left blank (a minute deleted to type another, a day typed without its time) reads "" as
   * an empty one does: applied, the first Backspace dropped the date filter and wiped the rest of the field. Until the
   * field is whole (or wholly empty) the view keeps the date it had, and says why.
   */
  function dateFilter(input, applied) {
    return input.validity.badInput ? applied : fromLocalInput(input.value);
  }
  function sayIncompleteDates() {
    const incomplete = [[afterInput, 'Created after'], [beforeInput, 'Created before']].filter(([input]) => input.validity.badInput);
    const text = incomplete.map(([, label]) => `"${label}" is incomplete: fill in each part of its date and time, or clear them all.`).join(' ');
    if (incompleteError.element.textContent !== text) incompleteError.show(text, ...incomplete.map(([input]) => input));
  }

  let typingTimer = null;
  function applySoon() {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => applyFields({ typing: true }), TYPING_DELAY_MS);
  }
  /** True when the fields said what the view already shows. */
  function applyNow() {
    clearTimeout(typingTimer);
    return applyFields();
  }
  /** Enter in a field: its filters applied, or, already the view's, the view asked for again (what was stored since). */
  function applyOrRefresh() {
    // Enter after a pause already applied the words typed: it confirms them, the list just loaded for them.
    const confirmsTyping = typedSinceLastStep;
    if (applyNow() && !confirmsTyping) refresh();
  }
  for (const input of [searchInput, modelInput]) {
    input.addEventListener('input', applySoon);
    input.addEventListener('change', applyNow);
    // The form has no submit button and many fields: Enter submits nothing, and a field not changed fires no change.
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.isComposing) {
        event.preventDefault();
        applyOrRefresh();
      }
    });
  }
  // Escape leaves Search with its words kept, for the list's heading (as Gmail's search box does): the field's own
  // Escape emptied it, which dropped the search, and leaving it was the only way to "j" and "k" (shortcuts.js stays
  // out of fields). From the heading, "j" is the first card in sight. The field's "×" and "Clear filters" still empty it.
  searchInput.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || event.isComposing || event.defaultPrevented) return;
    event.preventDefault();
    applyNow();
    heading.focus();
  });
  orderSelect.addEventListener('change', applyNow);
  for (const input of [afterInput, beforeInput]) {
    // Nothing to apply while incomplete: applying would also draw the fields anew, the part deleted put back.
    input.addEventListener('change', () => {
      sayIncompleteDates();
      if (!input.validity.badInput) applyNow();
    });
    // A date typed without its time fires no change (the value stays ""): Enter or leaving the field says it.
    input.addEventListener('blur', sayIncompleteDates);
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') sayIncompleteDates();
    });
  }
  filtersForm.addEventListener('submit', (event) => {
    event.preventDefault();
    applyOrRefresh();
  });

  /** `control`: the field to correct, which takes the focus. */
  function showFilterError(message, control) {
    filterError.show(message, ...(control ? [control] : []));
    control?.focus();
  }

  function addMetadataFilter() {
    const key = keyInput.value;
    const value = valueInput.value;
    if (!key) return showFilterError('Enter a metadata key to filter on.', keyInput);
    if (characterCount(key) > METADATA_LIMITS.keyLength) return showFilterError(`Metadata keys are at most ${METADATA_LIMITS.keyLength} characters.`, keyInput);
    if (characterCount(value) > METADATA_LIMITS.valueLength) return showFilterError(`Metadata values are at most ${METADATA_LIMITS.valueLength} characters.`, valueInput);
    const metadata = route.filters.metadata.filter(([k]) => k !== key);
    if (metadata.length >= METADATA_LIMITS.pairs) return showFilterError(`At most ${METADATA_LIMITS.pairs} metadata filters.`, keyInput);
    showFilterError('');
    metadata.push([key, value]);
    keyInput.value = '';
    valueInput.value = '';
    navigate(withFilters({ metadata }));
    keyInput.focus();
  }
  addFilterButton.addEventListener('click', addMetadataFilter);
  for (const input of [keyInput, valueInput]) {
    input.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' || event.isComposing) return;
      event.preventDefault();
      // Enter in a key typed alone goes on to its value, as in the metadata editor: it added a filter on the empty
      // value, which matched nothing. Enter in the value (empty too, on purpose) adds the filter.
      if (input === keyInput && keyInput.value !== '' && valueInput.value === '') valueInput.focus();
      else addMetadataFilter();
    });
    input.addEventListener('input', showClearButton);
  }
  clearButton.addEventListener('click', () => {
    // A pair typed but not added is no filter, but it reads as one: cleared with the rest, not left behind.
    keyInput.value = '';
    valueInput.value = '';
    showFilterError('');
    navigate({ ...route, filters: { model: undefined, metadata: [], created_after: undefined, created_before: undefined, search: undefined } });
    showClearButton();
    searchInput.focus();
  });

  /** "Clear filters" is there when there is something to clear: a filter, or a pair typed and not yet added. */
  function showClearButton() {
    clearButton.hidden = !(hasFilters(route.filters) || keyInput.value || valueInput.value);
  }

  /** Puts the URL's filters (`next`, the route shown) into the fields (after back/forward or a shared link). */
  function sync(next) {
    route = next;
    const { filters } = route;
    if (document.activeElement !== searchInput || filters.search !== appliedFromFields.search) searchInput.value = filters.search ?? '';
    if (document.activeElement !== modelInput || filters.model !== appliedFromFields.model) modelInput.value = filters.model ?? '';
    appliedFromFields = { search: filters.search, model: filters.model };
    afterInput.value = toLocalInput(filters.created_after);
    beforeInput.value = toLocalInput(filters.created_before);
    sayIncompleteDates();
    orderSelect.value = route.order;
    labelMoreFilters();
    const ignored = route.ignored ?? [];
    linkError.textContent = ignored
      .map(([label, value, number]) =>
        number
          ? `"${label}" in this link (${value}, in Unix seconds) is not a date this page can show: it was left out.`
          : `"${label}" in this link (${value}) is not a time in Unix seconds: it was left out.`,
      )
      .join(' ');
    linkError.hidden = ignored.length === 0;
    const inverted = filters.created_after !== undefined && filters.created_before !== undefined && Number(filters.created_after) >= Number(filters.created_before);
    const rangeText = inverted ? '"Created after" is not earlier than "Created before": no completion can match both.' : '';
    // Set only when it changes: an alert written again is read again, at every other filter's change.
    if (rangeError.element.textContent !== rangeText) rangeError.show(rangeText, afterInput, beforeInput);
    replaceChildren(
      metadataChips,
      filters.metadata.map(([key, value]) =>
        h('li', { class: 'chip filter-chip' },
          // An empty value is a filter too (on the empty string): shown as "" so that it reads as one (shownPairText).
          h('span', { title: `${isolatedText(shownPairText(key))} = ${isolatedText(shownPairText(value))}` }, pairNodes(key, ' = ', value)),
          h('button', {
            type: 'button',
            class: 'chip-remove',
            'aria-label': `Remove filter ${shownPairText(key)} = ${value === '' ? 'empty value' : shownPairText(value)}`,
            onclick: () => {
              navigate(withFilters({ metadata: route.filters.metadata.filter(([k]) => k !== key) }));
              // The chip and its button are drawn anew: focus goes where another pair is added, as after adding one.
              keyInput.focus();
            },
          }, '×'),
        ),
      ),
    );
    showClearButton();
    if (focusFilterOn !== null) {
      const index = filters.metadata.findIndex(([k]) => k === focusFilterOn);
      focusFilterOn = null;
      metadataChips.children[index]?.querySelector('button').focus();
    }
  }

  return {
    element: filtersForm,
    searchInput,
    /** The models this project has stored, offered in Model (model-suggestions.js). */
    knownModels,
    sync,
    navigate,
    withFilters,
    /** The filter chip of `key` takes the focus once drawn (its pair was just added from a card or a tag). */
    focusFilterOn(key) {
      focusFilterOn = key;
    },
    destroy() {
      clearTimeout(typingTimer);
    },
  };
}
