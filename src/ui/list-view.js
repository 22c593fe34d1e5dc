// The list: filters (all in the URL), rows paged by the API's keyset cursor, the usage panel, export.

import { api, apiResponse, completionPath, queryString } from './api.js';
import { createBulkActions } from './bulk-actions.js';
import { announce, field, fieldError, h, isolatedText, pairNodes, replaceChildren, shownPairText } from './dom.js';
import { completionHash, filterPairs, hasFilters, listHash, listKey } from './filters.js';
import {
  characterCount,
  cutReasons,
  finishReasons,
  formatInteger,
  fromLocalInput,
  isoTime,
  localStamp,
  localTime,
  messagePreview,
  METADATA_LIMITS,
  relativeTime,
  replyPreview,
  shortTime,
  toLocalInput,
} from './format.js';
import { createModelSuggestions } from './model-suggestions.js';
import { noteMetadata, suggestMetadata } from './metadata-suggestions.js';
import { readSetting, writeSetting } from './preferences.js';
import { markMatches } from './search-marks.js';
import { searchMatcher } from './search-words.js';
import { shortcutsActive, shortcutsOn, turnShortcuts } from './shortcuts.js';
import { createSelection } from './selection.js';
import { createUsagePanel } from './usage-panel.js';
import { listTitle } from './view-title.js';

const PAGE_SIZE = 20;
/** Previews of the last user message need one request per row; a few at a time keeps the page's own requests ahead. */
const PREVIEW_CONCURRENCY = 4;
const TYPING_DELAY_MS = 400;

/**
 * An eval file from the UI carries each stored reply as its `sample` (`{item, sample}`): what it is downloaded for is
 * an eval run that grades the replies as they were given, which reads them from the sample. The API's default line
 * is `{item}` alone.
 */
function withSample(format) {
  return format === 'eval';
}

/** OpenAI's ids all begin so: in a compact line's narrow column it took half the room, and told no two apart. */
const SHARED_ID_PREFIX = 'chatcmpl-';
/** Characters of an id's end a compact line always shows (as a tag's answer names a conversation by them). */
const ID_END = 6;

/**
 * A row link's text: the whole id, in parts a compact line can cut in the middle (style.css). The shared prefix is
 * hidden there and the end kept, with "…" between: a column cut at its end showed "chatcmpl-nr3EoQL…" on every line,
 * the part that tells ids apart gone. The link's text and a copy of it stay the whole id; its name is the id given
 * as its label, since Chromium names a link of boxes with spaces between them ("chatcmpl- nr3EoQL a9XvPO").
 */
function idParts(id) {
  const prefix = id.startsWith(SHARED_ID_PREFIX) ? SHARED_ID_PREFIX : '';
  const rest = [...id.slice(prefix.length)];
  const end = rest.length > 2 * ID_END ? rest.splice(-ID_END).join('') : '';
  return [prefix ? h('span', { class: 'id-prefix' }, prefix) : null, h('span', { class: 'id-start' }, rest.join('')), end ? h('span', { class: 'id-end' }, end) : null];
}

/** Metadata chips a card shows before "+N more". */
const CHIPS_SHOWN = 6;
/** Lists gone from (a chip clicked, a filter changed) kept to show again as they were on Back: the latest few. */
const LISTS_KEPT = 5;
/** The "Created in the last" choices: label, and how far back from now. */
const QUICK_RANGES = [['hour', 3600], ['24 hours', 86_400], ['7 days', 7 * 86_400], ['30 days', 30 * 86_400]];

/** Whether a completion (changed since it was listed) still has every metadata pair a list is filtered on. */
function matchesMetadata(filters, completion) {
  return filters.metadata.every(([key, value]) => completion.metadata?.[key] === value);
}

export function createListView() {
  let route = null;
  let currentKey = null;
  let loaded = [];
  /** Where focus goes back to when the row it would go to was taken out meanwhile: its neighbour, or the heading (null). */
  const focusInsteadOf = new Map();
  /**
   * Each row taken out (takeOut): the id of the row before it then, or null for the first: its place in the list, so
   * that "Next" from its conversation (open while it was deleted elsewhere) still goes on from there.
   */
  const takenOutAfter = new Map();
  let hasMore = false;
  /**
   * Where the next page starts: the last completion the API sent, kept apart from the rows, since a bulk delete
   * (or a tag removed that the filters need) can take every loaded row out while more are still to come.
   */
  let cursor = null;
  let controller = null;
  /**
   * Lists left for another, by the history entry that showed them (its state's `listVisit`): Back (or Forward) to
   * that entry shows the list as it was left, its pages and scroll position, instead of page one at the top.
   * A new visit to the same filters (a link, the filter typed again) loads afresh.
   */
  const leftLists = new Map();
  let currentVisit = null;
  let visitsStarted = 0;
  /** Where the list was scrolled when a conversation was opened over it. */
  let hiddenAtScrollY = 0;

  // ---- filters -------------------------------------------------------------------------------------
  const searchInput = h('input', { type: 'search', name: 'search', autocomplete: 'off', placeholder: 'Words in messages or replies' });
  const modelInput = h('input', { type: 'text', name: 'model', list: 'known-models', autocomplete: 'off', placeholder: 'Any model' });
  const knownModels = createModelSuggestions('known-models');

  /** A key added without a value filters on the empty string, which reads like "has this key": the API has no such filter. */
  function emptyValueHint(filters) {
    const empty = filters.metadata.find(([, value]) => value === '');
    if (!empty) return '';
    return ` The filter ${empty[0]} = "" matches only an empty value, not every completion that has the key: metadata is matched by exact values.`;
  }
  /**
   * Why a model filter may have found nothing: it is matched by its whole name. Said only where the model is the one
   * filter and not one of the project's: beside other filters, or naming a model the project has, it is not the reason.
   */
  function modelHint(filters) {
    const { model } = filters;
    if (!model || hasFilters({ ...filters, model: undefined }) || knownModels.has(model)) return '';
    return ' The model is matched by its whole name: "gpt-4o" does not find "gpt-4o-mini".';
  }
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

  /**
   * The keys (shortcuts.js), said in one quiet line beside the list's summary (not on a phone, which has no keyboard to
   * press them), with the way to turn them off: single keys can be set off by speech input (WCAG 2.1.4).
   */
  const keysText = h('span');
  const keysToggle = h('button', { type: 'button', class: 'link-button' });
  const keysHint = h('p', { class: 'hint keys-hint' }, keysText, ' ', keysToggle);
  function showKeys() {
    const on = shortcutsOn();
    // "n" and "p" named only where they act: in a conversation opened from a search (search-marks.js).
    const matchKeys = route?.filters.search ? ' · n and p: next and previous match' : '';
    // Short enough to share the summary's row at 1280 px: "card or conversation" and "the conversation" took it past.
    keysText.textContent = on ? `Keys: / Search · j and k: next and previous${matchKeys} · t: tag · Escape: back to the list.` : 'Keyboard shortcuts are off.';
    // Its name is its visible text (WCAG 2.5.3): a speech-input user says what they see.
    keysToggle.textContent = on ? 'Turn off shortcuts' : 'Turn on shortcuts';
    searchInput.toggleAttribute('aria-keyshortcuts', shortcutsActive());
    if (shortcutsActive()) searchInput.setAttribute('aria-keyshortcuts', '/');
  }
  keysToggle.addEventListener('click', () => {
    turnShortcuts(!shortcutsOn());
    showKeys();
    announce(shortcutsOn() ? 'Keyboard shortcuts on' : 'Keyboard shortcuts off');
  });
  showKeys();

  // ---- results ------------------------------------------------------------------------------------
  const usageToggle = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', 'aria-controls': 'usage-panel' }, 'Usage');
  const exportFormat = h(
    'select',
    { name: 'export-format', 'aria-label': 'Export format' },
    h('option', { value: 'completions' }, 'Completions (JSONL)'),
    h('option', { value: 'finetune' }, 'Fine-tuning (JSONL)'),
    h('option', { value: 'eval' }, 'Evals (JSONL)'),
  );
  const exportButton = h('button', { type: 'button', class: 'secondary' }, 'Export');
  /** Completions stored since the list was loaded appear only when asked for: page one again, and the usage. */
  const refreshButton = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  /** What an export is doing, in sight: a large one takes a while, and a dimmed button alone said nothing. */
  const exportStatus = h('p', { class: 'export-status muted' });
  exportStatus.hidden = true;
  const usagePanel = createUsagePanel();
  usagePanel.element.id = 'usage-panel';
  const summary = h('p', { class: 'summary', 'aria-live': 'polite' });
  /** What was just done from a conversation (a delete), said in sight of the list it came back to. */
  const notice = h('p', { class: 'notice' });
  notice.hidden = true;
  /** Set since the list was last shown: the next showing keeps the notice, the one after drops it. */
  let noticeFresh = false;
  const rows = h('ol', { class: 'rows', 'aria-label': 'Completions' });
  const listError = h('p', { class: 'error', role: 'alert' });
  listError.hidden = true;
  /** The first page failed (the service down a moment): the same list again, without retyping a filter. */
  const retryButton = h('button', { type: 'button', class: 'secondary' }, 'Try again');
  retryButton.hidden = true;
  const loadMoreButton = h('button', { type: 'button', class: 'load-more' }, 'Load more');
  loadMoreButton.hidden = true;
  /** A later page that failed is said beside "Load more", where the user is, not pages above at the list's top. */
  const loadMoreError = h('p', { class: 'error load-more-error', role: 'alert' });
  loadMoreError.hidden = true;

  /**
   * A completion a line, as in a table: the cards show three or four completions a screen, enough to read one
   * but not to scan a day of them. Kept in this browser for the next visit, like the Markdown box.
   */
  const compactToggle = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Compact');
  function showCompact(compact) {
    compactToggle.setAttribute('aria-pressed', String(compact));
    rows.classList.toggle('compact', compact);
  }
  showCompact(readSetting('list-density', 'cards') === 'compact');
  compactToggle.addEventListener('click', () => {
    const compact = !rows.classList.contains('compact');
    showCompact(compact);
    writeSetting('list-density', compact ? 'compact' : 'cards');
  });

  const heading = h('h1', { id: 'list-title', tabindex: '-1' }, 'Completions');
  const selection = createSelection({ ids: () => loaded.map((c) => c.id) });
  const bulk = createBulkActions({
    selection,
    // The service answers a tag change with each map alone: the card keeps the rest of what it showed.
    onMetadata: (id, metadata) => {
      const shown = loaded.find((c) => c.id === id);
      if (shown) completionUpdated({ ...shown, metadata });
    },
    onDeleted: completionDeleted,
    focusList: () => selection.focusSelectAll() || heading.focus(),
    filterHash: (key, value) => listHash(withFilters({ metadata: [...route.filters.metadata.filter(([k]) => k !== key), [key, value]] })),
    focusFilterOn: (key) => {
      focusFilterOn = key;
    },
    exportSelected: (ids) => {
      if (exportButton.getAttribute('aria-disabled') !== 'true') exportPicked(ids);
    },
  });
  const element = h(
    'section',
    { class: 'list-view', 'aria-labelledby': 'list-title' },
    h('div', { class: 'title-row' },
      heading,
      // The format and "Export" wrap as one: a narrow window put "Export" alone on a line under its format.
      h('div', { class: 'toolbar' }, refreshButton, usageToggle, compactToggle, h('span', { class: 'export-pair' }, exportFormat, exportButton)),
      exportStatus,
    ),
    filtersForm,
    usagePanel.element,
    listError,
    retryButton,
    notice,
    // The keys' line ends the summary's row, as it is seen (style.css): first in the DOM, Tab went from its far
    // right back to "Select all loaded" at the row's left, past the summary.
    h('div', { class: 'list-controls' }, selection.selectAll, summary, keysHint),
    bulk.element,
    rows,
    h('div', { class: 'more' }, loadMoreError, loadMoreButton),
  );
  // The bulk bar is sticky at the window's top: a card's control focused from below (Shift+Tab) would be scrolled
  // to that top, wholly behind it. Its height and a small gap, kept up to date (a form opens, a summary wraps), are
  // the controls' scroll margin (style.css); none while the bar is hidden. Set through the CSSOM, which the page's
  // style-src 'self' allows. Where the bar is not sticky (style.css: a phone or a short window), the margin is none.
  const barHeight = new ResizeObserver(() => {
    const height = bulk.element.offsetHeight;
    element.style.setProperty('--bulk-height', height ? `calc(${height}px + 0.5rem)` : '0px');
  });
  barHeight.observe(bulk.element);

  /** Where the cards start to show: under the selection bar while it is in sight (sticky, it covers the cards). */
  function coveredTo() {
    const box = bulk.element.getBoundingClientRect();
    return box.height ? Math.max(0, box.bottom) : 0;
  }

  /**
   * "3 minutes ago" is true when drawn: a list left open for an afternoon said it of every card still. Each
   * card's relative time is redrawn from its <time> every minute while the list is in sight, and on coming back.
   */
  function refreshAges() {
    if (element.hidden) return;
    const now = Date.now();
    for (const time of rows.querySelectorAll('li.row time[datetime]')) {
      const relativeSpan = time.querySelector('.relative');
      if (relativeSpan) relativeSpan.lastChild.textContent = relativeTime(Date.parse(time.dateTime) / 1000, now);
    }
  }
  const agesTimer = setInterval(refreshAges, 60_000);

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
      currentVisit = null;
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
    if (!route || element.hidden) return;
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

  usageToggle.addEventListener('click', () => navigate({ ...route, usage: !route.usage }));
  refreshButton.addEventListener('click', () => refresh());

  /** The same view asked for again: its first page and usage as they are now (the kept pages, scroll, dropped). */
  function refresh() {
    if (!route || element.hidden) return;
    usagePanel.invalidate(true);
    reload();
  }
  exportButton.addEventListener('click', () => {
    if (exportButton.getAttribute('aria-disabled') !== 'true') exportView();
  });

  /** Puts the URL's filters into the fields (after back/forward or a shared link). */
  function syncFields() {
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
    usageToggle.setAttribute('aria-pressed', String(route.usage));
    if (focusFilterOn !== null) {
      const index = filters.metadata.findIndex(([k]) => k === focusFilterOn);
      focusFilterOn = null;
      metadataChips.children[index]?.querySelector('button').focus();
    }
  }

  // ---- loading ------------------------------------------------------------------------------------
  function listPath(after) {
    return `/v1/chat/completions${queryString([...filterPairs(route.filters), ['order', route.order], ['limit', PAGE_SIZE], ['after', after]])}`;
  }

  async function reload() {
    controller?.abort();
    controller = new AbortController();
    loaded = [];
    hasMore = false;
    cursor = null;
    notice.hidden = true;
    bulk.listReloaded();
    // The rows in sight stay, dimmed and out of reach, until the first page replaces them: emptied at once,
    // a slow answer showed an empty page, and the scroll position was lost with it.
    markStale(true);
    loadMoreButton.hidden = true;
    summary.textContent = 'Loading…';
    // What the last export did was about the view before this one.
    if (exportButton.getAttribute('aria-disabled') !== 'true') showExportStatus('');
    knownModels.refresh();
    await loadPage(undefined, controller.signal);
  }

  /** Rows of the view before a reload, kept in sight while its first page is on its way. */
  function markStale(stale) {
    rows.inert = stale;
    rows.classList.toggle('stale', stale);
  }

  async function loadPage(after, signal) {
    listError.hidden = true;
    loadMoreError.hidden = true;
    // As "Load more": aria-disabled, so a keyboard user who pressed it keeps the focus while it runs.
    retryButton.setAttribute('aria-disabled', 'true');
    element.setAttribute('aria-busy', 'true');
    // Not `disabled`: a disabled button loses the focus, and a keyboard user pressing "Load more" would
    // be left on the page's body, with the next Tab leaving the page.
    loadMoreButton.setAttribute('aria-disabled', 'true');
    let firstNew = null;
    try {
      const page = await api(listPath(after), { signal });
      if (signal.aborted) return;
      if (!after) {
        replaceChildren(rows);
        markStale(false);
      }
      const fresh = page.data.filter((c) => !loaded.some((seen) => seen.id === c.id));
      loaded.push(...fresh);
      knownModels.add(fresh);
      noteMetadata(fresh);
      hasMore = page.has_more;
      cursor = page.data.at(-1)?.id ?? cursor;
      const newRows = fresh.map(renderRow);
      rows.append(...newRows.map((row) => row.element));
      firstNew = newRows[0]?.element.querySelector('a.row-link') ?? null;
      if (focusOnLoad !== null && (document.activeElement === document.body || !document.activeElement?.isConnected)) {
        // Not on the first page (read further down, or no longer matching): the list's heading, as when it is gone.
        (rowOf(focusOnLoad)?.querySelector('a.row-link') ?? heading).focus();
      }
      focusOnLoad = null;
      loadPreviews(newRows, signal);
      selection.refresh();
      updateSummary();
      if (after) announce(`${fresh.length} more completion${fresh.length === 1 ? '' : 's'} loaded`);
    } catch (failure) {
      if (signal.aborted || failure.name === 'AbortError') return;
      if (after) {
        // The pages loaded stay, and so does what the summary says of them; "Load more" is there to press again.
        loadMoreError.textContent = `More could not be loaded: ${failure.message}`;
        loadMoreError.hidden = false;
      } else {
        replaceChildren(rows);
        markStale(false);
        listError.textContent = failure.message;
        listError.hidden = false;
        summary.textContent = '';
        // The first page has nothing else to press.
        retryButton.hidden = false;
      }
    } finally {
      if (!signal.aborted) {
        element.removeAttribute('aria-busy');
        retryButton.removeAttribute('aria-disabled');
        if (listError.hidden && !retryButton.hidden) {
          const hadFocus = document.activeElement === retryButton;
          retryButton.hidden = true;
          if (hadFocus) (firstNew ?? heading).focus();
        }
        loadMoreButton.removeAttribute('aria-disabled');
        // The last page: the button goes, and the focus it had goes to the first row it brought.
        if (!hasMore && document.activeElement === loadMoreButton) (firstNew ?? heading).focus();
        loadMoreButton.hidden = !hasMore;
      }
    }
  }

  /** The row to focus once the first page is in: a conversation read in this list, gone back to from it (show). */
  let focusOnLoad = null;

  /** The next page being loaded for a conversation's "Next" (its two buttons ask for one page). */
  let loadingNext = null;

  /**
   * The completions before and after `id` among those loaded, in the list's order, and whether more come after the
   * last: a conversation's "Previous" and "Next".
   */
  /**
   * The row whose next is `id`'s next: `id` while loaded; for a row taken out, the one that was before it (followed
   * back while that one was taken out too; null: the list's start). Bounded: a row may be taken out of two lists.
   */
  function placeOf(id) {
    for (let steps = 0; steps <= takenOutAfter.size && id !== null && !loaded.some((c) => c.id === id) && takenOutAfter.has(id); steps++) {
      id = takenOutAfter.get(id);
    }
    return id;
  }

  function neighboursOf(id) {
    const index = loaded.findIndex((completion) => completion.id === id);
    if (index === -1) return {};
    return { previous: loaded[index - 1]?.id, next: loaded[index + 1]?.id, more: index === loaded.length - 1 && hasMore };
  }

  /**
   * "j" and "k" (shortcuts.js): the focus to the next or previous card's link, as Tab would put it there; from
   * outside the cards, to the first card in sight, so reading starts where the page was scrolled to. In sight is below
   * the selection bar: focused, a card wholly under it stayed there, hidden. One partly under it is taken, and the
   * focus scrolls its link out from under the bar (the links' scroll margin, style.css), as Tab's does.
   */
  function focusCard(step) {
    const cards = [...rows.children];
    if (!cards.length || rows.inert) return false;
    // "j" on "Load more" (under the last card) is pressing it.
    if (document.activeElement === loadMoreButton && step > 0) {
      loadMoreButton.click();
      return true;
    }
    const current = document.activeElement?.closest('li.row');
    let index = cards.indexOf(current);
    if (index === -1) {
      const top = coveredTo();
      index = cards.findIndex((card) => card.getBoundingClientRect().bottom > top);
      if (index === -1) index = cards.length - 1;
    } else index += step;
    if (index === cards.length && hasMore) return loadMoreFrom(cards[index - 1]);
    const target = cards[index]?.querySelector('a.row-link');
    target?.focus();
    return Boolean(target);
  }

  /**
   * "j" past the last card loaded is "Load more": the focus waits on that card while the page comes (a failure is
   * said beside "Load more", and "j" again tries again), then goes on to the first card it brought, unless the user
   * has moved it meanwhile.
   */
  function loadMoreFrom(last) {
    if (!cursor || !controller || loadMoreButton.getAttribute('aria-disabled') === 'true') return true;
    loadPage(cursor, controller.signal).then(() => {
      if (document.activeElement?.closest('li.row') === last) last.nextElementSibling?.querySelector('a.row-link')?.focus();
    });
    return true;
  }

  function rowOf(id) {
    return [...rows.children].find((row) => row.dataset.id === id);
  }

  /** Takes the row at `index` out of the list; focus coming back to it goes to its neighbour instead. */
  function takeOut(index) {
    const { id } = loaded[index];
    focusInsteadOf.set(id, loaded[index + 1]?.id ?? loaded[index - 1]?.id ?? null);
    takenOutAfter.set(id, loaded[index - 1]?.id ?? null);
    loaded.splice(index, 1);
    rowOf(id)?.remove();
    selection.forget(id);
    updateSummary();
  }

  /** The list in sight, kept under its history entry as it is left: only whole, not while a page is on its way. */
  function keepCurrent() {
    if (currentVisit === null || !retryButton.hidden || element.getAttribute('aria-busy') === 'true') return;
    const previews = new Map();
    for (const row of rows.children) {
      const text = row.querySelector('.preview-text')?.textContent;
      // "…": its request was still on its way, and is made again when the list comes back.
      if (text && text !== '…') previews.set(row.dataset.id, text);
    }
    leftLists.delete(currentVisit);
    // Hidden, a conversation was in sight since: its scroll is not the list's.
    const scrollY = element.hidden ? hiddenAtScrollY : window.scrollY;
    // The card the focus was in (a chip clicked on it): Back gives the focus to it again, not to the page's body.
    const focusedId = rows.contains(document.activeElement) ? document.activeElement.closest('[data-id]')?.dataset.id : undefined;
    leftLists.set(currentVisit, { key: currentKey, filters: route.filters, loaded, hasMore, cursor, previews, scrollY, focusedId });
    while (leftLists.size > LISTS_KEPT) leftLists.delete(leftLists.keys().next().value);
  }

  /** Marks the history entry in sight as showing the current list, so Back to it can find it kept. */
  function stampVisit() {
    if (history.state?.listVisit !== currentVisit) history.replaceState({ ...history.state, listVisit: currentVisit }, '');
  }

  /** Shows a kept list again as it was left; its previews not yet read are asked for again. */
  function restore(kept) {
    controller?.abort();
    controller = new AbortController();
    // A page the abort cut short skips its own clean-up (loadPage's finally): done here, or the list stayed busy
    // and "Load more" pressed in vain.
    element.removeAttribute('aria-busy');
    loadMoreButton.removeAttribute('aria-disabled');
    retryButton.removeAttribute('aria-disabled');
    // Nor does it replace the rows a reload left dimmed and inert: the kept ones drawn below are live.
    markStale(false);
    bulk.listReloaded();
    ({ loaded, hasMore, cursor } = kept);
    notice.hidden = true;
    listError.hidden = true;
    loadMoreError.hidden = true;
    retryButton.hidden = true;
    if (exportButton.getAttribute('aria-disabled') !== 'true') showExportStatus('');
    const restored = loaded.map(renderRow);
    replaceChildren(rows, restored.map((row) => row.element));
    const unread = restored.filter((row) => {
      const text = kept.previews.get(row.id);
      if (text !== undefined) showPreview(row.userPreview, text);
      return text === undefined;
    });
    loadPreviews(unread, controller.signal);
    selection.refresh();
    updateSummary();
    loadMoreButton.hidden = !hasMore;
    window.scrollTo(0, kept.scrollY);
    // Only where the focus was lost with the list it left (on the body), never taken from a field.
    if (kept.focusedId !== undefined && (document.activeElement === document.body || !document.activeElement?.isConnected)) {
      rowOf(kept.focusedId)?.querySelector('a.row-link')?.focus({ preventScroll: true });
    }
  }

  /** A change made in sight of another list (a save, a delete) applied to the kept ones, so none comes back stale. */
  function applyToKept(id, completion) {
    for (const kept of leftLists.values()) {
      const index = kept.loaded.findIndex((c) => c.id === id);
      if (index === -1) continue;
      if (completion && matchesMetadata(kept.filters, completion)) kept.loaded[index] = completion;
      else kept.loaded.splice(index, 1);
    }
  }

  /** Why a search may have found nothing, as the service searches (docs/api.md, "Search semantics"). */
  function searchHint(search) {
    if (!search) return '';
    // The service's own test of a word: one without a letter or digit is left out of the search.
    if (!/[\p{L}\p{N}\p{Co}]/u.test(search)) return ' Emoji and symbols alone are not searched: a search needs a word with a letter or digit.';
    return ' Search finds whole words, every one of them: "refund" does not find "refunds" or "refunded". It reads the text of messages and replies, not tool calls.';
  }

  /**
   * A fine-tuning export leaves out the completions that make no example (a refusal, a reply cut off, a tool call
   * without its result: SKIP_REASONS in src/export/formats.ts), which a count of lines alone does not say. How many
   * is said when the whole view is loaded, so its count is known.
   */
  function skippedNote(format, lines) {
    if (format !== 'finetune') return '';
    const skipped = hasMore ? 0 : loaded.length - lines;
    if (skipped <= 0) return hasMore ? ' Completions that make no fine-tuning example are left out.' : '';
    return ` ${formatInteger(skipped)} of the ${formatInteger(loaded.length)} completions make no fine-tuning example (a refusal, a reply cut off, a tool call without its result...) and were left out: the command-line export names each one's reason.`;
  }

  /**
   * What a search that looks like it uses operators gets told: the service has none, so `-refund` finds what
   * `refund` finds, the opposite of what was meant, and without a word it would read as a search that worked.
   */
  function operatorNote(search) {
    if (!search || !/(^|\s)-\S|["*]|(^|\s)(OR|AND|NOT)(\s|$)/.test(search)) return '';
    return ' Search has no operators: quotes, a leading -, OR, AND, NOT and * are read as plain words, and every word must appear.';
  }

  function updateSummary() {
    const count = formatInteger(loaded.length);
    let text;
    if (loaded.length === 0 && hasMore) {
      // Every card loaded was taken out (deleted, or no longer matching); the list goes on past them.
      text = 'None of the completions loaded so far are left here; more below.';
    } else if (loaded.length === 0) {
      // Without filters, nothing is stored for this key; in pass-through mode a mistyped key signs in too
      // (it is a key of its own, with nothing of its own), so an empty list also asks to check the key.
      text = hasFilters(route.filters)
        ? `No completions match these filters.${searchHint(route.filters.search)}${modelHint(route.filters)}${emptyValueHint(route.filters)}`
        : 'No stored completions for this key yet: create one with "store": true. Expected some? Check the key ("Sign out", then sign in with it again).';
    } else if (hasMore) {
      text = `Showing ${count} completions; more below.`;
    } else {
      text = loaded.length === 1 ? 'Showing 1 completion.' : `Showing all ${count} completions.`;
    }
    text += operatorNote(route.filters.search);
    // An id pasted into Search (the text search never finds one: ids are not message text) is offered as a link.
    const id = /^\s*(chatcmpl-\S+?)\s*$/.exec(route.filters.search ?? '')?.[1];
    replaceChildren(summary, text, id ? [' ', h('a', { href: completionHash(id) }, 'Open ', h('bdi', null, id))] : []);
  }

  retryButton.addEventListener('click', () => {
    if (retryButton.getAttribute('aria-disabled') !== 'true') reload();
  });

  loadMoreButton.addEventListener('click', () => {
    if (loadMoreButton.getAttribute('aria-disabled') === 'true') return;
    if (cursor && controller) loadPage(cursor, controller.signal);
  });

  /** The search's matcher (search-words.js), made once per search. */
  let matcherFor = { search: undefined, matcher: null };
  function listMatcher() {
    const search = route.filters.search;
    if (matcherFor.search !== search) matcherFor = { search, matcher: search ? searchMatcher(search) : null };
    return matcherFor.matcher;
  }

  /** A preview's text, with the list's search words marked in it: why the search found the completion. */
  function showPreview(span, text) {
    span.textContent = text;
    markMatches(span, listMatcher());
  }

  function renderRow(completion) {
    const userPreview = h('span', { class: 'preview-text', dir: 'auto' }, '…');
    const reply = h('span', { class: 'preview-text', dir: 'auto' });
    showPreview(reply, replyPreview(completion, listMatcher()) || '(empty)');
    const tokens = completion.usage?.total_tokens;
    const metadata = Object.entries(completion.metadata ?? {});
    const cut = cutReasons(completion);
    const notes = [completion.choices?.length > 1 ? `${completion.choices.length} choices` : null, ...cut].filter(Boolean);
    const element = h(
      'li',
      { class: 'row', 'data-id': completion.id },
      h('div', { class: 'row-head' },
        selection.checkbox(completion.id),
        // Its title, the id (whole: a compact line cuts it), time and model, shows wherever the pointer is on the card:
        // the link covers it.
        // Its address names the list (filters, order, usage): copied or opened in a new tab, the conversation has
        // its "Previous", "Next" and "← Completions" there too, which the bare address gives no one.
        h('a', { class: 'row-link', href: completionHash(completion.id, route), title: `${completion.id} · ${localTime(completion.created)} · ${completion.model}`, 'aria-label': completion.id }, ...idParts(completion.id)),
        h('time', { datetime: isoTime(completion.created), title: isoTime(completion.created) },
          h('span', { class: 'absolute' }, localTime(completion.created)),
          // A compact line's time: a day of completions all read "yesterday" by their age alone.
          h('span', { class: 'short-time' }, shortTime(completion.created)),
          // The age in a span of its own, which refreshAges rewrites each minute.
          h('span', { class: 'relative' }, h('span', { class: 'age-separator' }, ' · '), h('span', null, relativeTime(completion.created))),
        ),
      ),
      h('div', { class: 'row-facts' },
        h('span', { class: 'model', title: completion.model }, completion.model),
        h('span', { class: 'tokens' }, tokens === undefined ? 'no usage' : `${formatInteger(tokens)} tokens`),
        completion.choices?.length > 1 ? h('span', { class: 'choices' }, `${completion.choices.length} choices`) : null,
        // A reply cut off at the token limit or withheld by a filter, in the danger colour: "stop" on every other card.
        h('span', { class: cut.length ? 'finish cut' : 'finish' }, finishReasons(completion)),
      ),
      h('p', { class: 'preview user-preview' }, h('span', { class: 'preview-label' }, 'User'), userPreview),
      // `data-before`: a compact line, which has no room for the card's "2 choices" and finish reason, says before
      // the reply that there are several, and that one was cut short.
      h('p', { class: cut.length ? 'preview reply-preview cut' : 'preview reply-preview', 'data-before': notes.length ? `${notes.join(' · ')} ·` : null }, h('span', { class: 'preview-label' }, 'Reply'), reply),
      metadata.length ? metadataList(metadata) : null,
    );
    return { element, id: completion.id, userPreview };
  }

  /**
   * A card's metadata as chips that filter on their pair. Past CHIPS_SHOWN, the rest wait behind "+N more":
   * 16 pairs of long values made one card as tall as a screen, and the list could no longer be scanned.
   */
  function metadataList(metadata) {
    const chips = metadata.map(([key, value]) =>
      h('li', null,
        h('button', {
          type: 'button',
          class: 'chip',
          title: `${isolatedText(shownPairText(key))}: ${isolatedText(shownPairText(value))} (click to filter on this pair)`,
          // Holds the pair as shown ("env: prod", `env: " prod"`), so speech input saying it finds the chip (WCAG 2.5.3).
          'aria-label': `Filter on ${shownPairText(key)}: ${shownPairText(value)}`,
          onclick: () => {
            // The card and its chip are drawn anew: the focus goes to the filter it made (its remove button names it).
            focusFilterOn = key;
            navigate(withFilters({ metadata: [...route.filters.metadata.filter(([k]) => k !== key), [key, value]] }));
          },
        }, pairNodes(key, ': ', value)),
      ),
    );
    const list = h('ul', { class: 'chips', 'aria-label': 'Metadata' }, chips);
    const rest = chips.slice(CHIPS_SHOWN);
    if (rest.length) {
      for (const chip of rest) chip.hidden = true;
      // The name starts with what it shows, so speech input can say "+10 more" (WCAG 2.5.3), then says more of what.
      const more = h('button', { type: 'button', class: 'chip more-chips', 'aria-label': `+${rest.length} more metadata pairs` }, `+${rest.length} more`);
      const moreItem = h('li', null, more);
      more.addEventListener('click', () => {
        for (const chip of rest) chip.hidden = false;
        moreItem.remove();
        // The button is gone: the focus goes on to the first pair it showed.
        rest[0].querySelector('button').focus();
      });
      list.append(moreItem);
    }
    return list;
  }

  /** The list endpoint carries no input messages: each row asks for its conversation's last ones. */
  function loadPreviews(pending, signal) {
    const queue = [...pending];
    const worker = async () => {
      while (queue.length && !signal.aborted) {
        const row = queue.shift();
        try {
          let page = await api(`${completionPath(row.id)}/messages?order=desc&limit=20`, { signal });
          const latest = page.data[0];
          let lastUser = page.data.find((m) => m.role === 'user');
          // An agent's turn can end in more than a page of tool calls and results: the user spoke before them.
          while (!lastUser && page.has_more && page.data.length) {
            const after = page.data[page.data.length - 1].id;
            page = await api(`${completionPath(row.id)}/messages${queryString([['order', 'desc'], ['limit', 100], ['after', after]])}`, { signal });
            lastUser = page.data.find((m) => m.role === 'user');
          }
          showPreview(row.userPreview, messagePreview(lastUser ?? latest, listMatcher()) || '(empty)');
        } catch {
          if (!signal.aborted) row.userPreview.textContent = '(not available)';
        }
      }
    };
    for (let i = 0; i < PREVIEW_CONCURRENCY; i++) worker();
  }

  // ---- export -------------------------------------------------------------------------------------
  function showExportStatus(text) {
    exportStatus.textContent = text;
    exportStatus.hidden = !text;
  }

  /** The export under way: the list is dropped only at sign-out, and a key's export must end with its session. */
  let exportController = null;

  /** The view: its filters and order (the export's own default is oldest first, so the file reads as the list does). */
  function exportView() {
    const format = exportFormat.value;
    // Cards were checked: the file is the whole view, which a user who picked some may not have meant.
    const picked = selection.size ? ` That is the whole view, not only the ${formatInteger(selection.size)} selected: "Export selected" downloads those.` : '';
    return runExport({
      format,
      request: (signal) => apiResponse(`/v1/stored-completions/export${queryString([['format', format], ...(withSample(format) ? [['sample', 'true']] : []), ...filterPairs(route.filters), ['order', route.order]])}`, { signal }),
      nothing: format === 'finetune' ? 'Nothing to export: no completion in this view makes a fine-tuning example.' : 'Nothing to export: no completion matches this view.',
      done: (lines) => `${skippedNote(format, lines)}${picked}`,
    });
  }

  /** The selected completions themselves, by id, in the list's order ("Export selected"): nothing is written to them. */
  function exportPicked(ids) {
    const format = exportFormat.value;
    const skipped = (lines) => (format === 'finetune' && lines < ids.length
      ? ` ${formatInteger(ids.length - lines)} of the ${formatInteger(ids.length)} selected make no fine-tuning example (a refusal, a reply cut off, a tool call without its result...) and were left out.`
      : '');
    return runExport({
      format,
      request: (signal) => apiResponse('/v1/stored-completions/export', { method: 'POST', body: { ids, format, sample: withSample(format) }, signal }),
      nothing: format === 'finetune'
        ? `Nothing to export: none of the ${formatInteger(ids.length)} selected makes a fine-tuning example.`
        : 'Nothing to export: the selected completions were deleted meanwhile.',
      done: (lines) => ` From the ${ids.length === 1 ? 'selected completion' : `${formatInteger(ids.length)} selected completions`}.${skipped(lines)}`,
    });
  }

  /**
   * Downloads an export as a file: `request(signal)` is its response, read as it streams, counting lines, so the count
   * shows while a large export runs; `nothing` is said instead of saving an empty file, `done(lines)` after the count.
   */
  async function runExport({ format, request, nothing, done }) {
    // aria-disabled, not disabled: a disabled button drops the focus of the keyboard user who pressed it.
    exportButton.setAttribute('aria-disabled', 'true');
    announce('Exporting…');
    showExportStatus('Exporting…');
    let lines = 0;
    const exporting = (exportController = new AbortController());
    const { signal } = exporting;
    try {
      const response = await request(signal);
      // A body the service broke off (its database lost midway) is an error here, not a file saved short.
      const chunks = [];
      const reader = response.body.getReader();
      for (;;) {
        let next;
        try {
          next = await reader.read();
        } catch (failure) {
          if (signal.aborted) throw failure;
          throw new Error(`the service broke the export off after ${formatInteger(lines)} line${lines === 1 ? '' : 's'}; nothing was saved. Try again.`);
        }
        if (next.done) break;
        chunks.push(next.value);
        for (let at = next.value.indexOf(10); at !== -1; at = next.value.indexOf(10, at + 1)) lines++;
        showExportStatus(`Exporting… ${formatInteger(lines)} line${lines === 1 ? '' : 's'}`);
      }
      if (lines === 0) {
        // An empty file would download as if something had been exported.
        showExportStatus(nothing);
        announce(nothing);
        return;
      }
      const blob = new Blob(chunks, { type: 'application/x-ndjson' });
      const link = h('a', { href: URL.createObjectURL(blob), download: `stored-completions-${format}-${localStamp()}.jsonl`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
      const said = `Exported ${formatInteger(lines)} line${lines === 1 ? '' : 's'} (${format}).${done(lines)}`;
      showExportStatus(said);
      announce(`Export downloaded. ${said}`);
    } catch (failure) {
      // Signed out meanwhile: the export went with the key, and nothing of it is saved or said.
      if (signal.aborted) return;
      showExportStatus('');
      listError.textContent = `Export failed: ${failure.message}`;
      listError.hidden = false;
      // The list itself is as it was: "Try again" would reload it, not retry the export.
      retryButton.hidden = true;
    } finally {
      if (exportController === exporting) exportController = null;
      exportButton.removeAttribute('aria-disabled');
    }
  }

  const focusables = (el) => [...el.querySelectorAll('a[href], button, input')];

  /** A completion saved (in its conversation, or by a bulk action): its row drawn anew in place, or taken out when it no longer matches the metadata filters. */
  function completionUpdated(completion) {
    noteMetadata([completion]);
    usagePanel.invalidate(!element.hidden);
    applyToKept(completion.id, completion);
    const index = loaded.findIndex((c) => c.id === completion.id);
    if (index === -1) return;
    if (!matchesMetadata(route.filters, completion)) {
      takeOut(index);
      return;
    }
    loaded[index] = completion;
    const old = rowOf(completion.id);
    const row = renderRow(completion);
    // The preview of the last user message came from the messages endpoint; a metadata change leaves it as it was.
    showPreview(row.userPreview, old?.querySelector('.preview-text')?.textContent ?? '…');
    // A control of the old card may hold the focus (a keyboard user going on while a bulk action runs): its counterpart takes it.
    const focusedAt = old ? focusables(old).indexOf(document.activeElement) : -1;
    old?.replaceWith(row.element);
    if (focusedAt !== -1) (focusables(row.element)[focusedAt] ?? row.element.querySelector('a.row-link')).focus();
  }

  /** Says `text` above the list: now if the list is in sight, else when it next is (once). */
  function say(text) {
    notice.textContent = text;
    notice.hidden = false;
    noticeFresh = element.hidden;
    if (!element.hidden) announce(text);
  }

  /**
   * A completion deleted (in its conversation, or by a bulk action): its row taken out; the pages loaded so far
   * stay. `said`: what to show above the list (a bulk action has its own summary).
   */
  function completionDeleted(id, said) {
    usagePanel.invalidate(!element.hidden);
    if (said) say(said);
    applyToKept(id, null);
    const index = loaded.findIndex((c) => c.id === id);
    if (index !== -1) takeOut(index);
  }

  return {
    element,
    show(next, focusId) {
      const key = listKey(next);
      // Kept before `route` changes: the list is kept with its own filters, which later changes are tested against.
      if (key !== currentKey) keepCurrent();
      const cameBack = element.hidden;
      route = next;
      // The cards kept (the same list, its usage turned on or off) name the view in their links: now this one.
      for (const row of rows.children) row.querySelector('a.row-link').setAttribute('href', completionHash(row.dataset.id, route));
      element.hidden = false;
      if (!noticeFresh) notice.hidden = true;
      noticeFresh = false;
      refreshAges();
      document.title = listTitle(route);
      syncFields();
      // The keys line names "n" and "p" while the list is a search's.
      showKeys();
      usagePanel.show(route.usage ? route.filters : null);
      // Its first page had failed (the service down): coming back to it loads it again rather than showing
      // the old error over a service that may be back (as a conversation opened meanwhile already was).
      if (key !== currentKey || !retryButton.hidden) {
        const visit = history.state?.listVisit;
        const kept = leftLists.get(visit);
        currentKey = key;
        focusInsteadOf.clear();
        if (kept?.key === key) {
          leftLists.delete(visit);
          currentVisit = visit;
          restore(kept);
        } else {
          currentVisit = `${Date.now()}-${++visitsStarted}`;
          reload();
        }
      } else if (cameBack) {
        // Back from a conversation to the same list: where it was left (the page's scroll is ours: app.js).
        window.scrollTo(0, hiddenAtScrollY);
      }
      stampVisit();
      if (focusId) {
        const target = focusInsteadOf.has(focusId) ? focusInsteadOf.get(focusId) : focusId;
        focusInsteadOf.clear();
        const back = target === null ? heading : rowOf(target)?.querySelector('a.row-link');
        back?.focus();
        // Back from a conversation read in this list, which was not the one drawn: its row, once the page is in.
        focusOnLoad = back || element.getAttribute('aria-busy') !== 'true' ? null : target;
      }
    },
    completionUpdated,
    completionDeleted,
    say,
    refresh,
    neighboursOf,
    /** "/" (shortcuts.js). */
    focusSearch() {
      searchInput.focus();
      return true;
    },
    focusCard,
    /**
     * The list drawn (in sight, or hidden behind a conversation): its filters, order and whether it shows its usage, as
     * a conversation's `within`.
     */
    within: () => (route ? { filters: route.filters, order: route.order, usage: route.usage } : null),
    /**
     * The completion after `id` (`next`), the list's next page loaded first when `id` is its last loaded row and more
     * are to come, once however many ask; `error` when that page could not be loaded.
     */
    async nextAfterLoading(id) {
      const at = placeOf(id);
      if ((at === null ? loaded.length === 0 : loaded.at(-1)?.id === at) && hasMore && cursor && controller) {
        loadingNext ??= loadPage(cursor, controller.signal).finally(() => {
          loadingNext = null;
        });
        await loadingNext;
        if (!loadMoreError.hidden) return { error: loadMoreError.textContent };
      }
      return { next: at === null ? loaded[0]?.id : neighboursOf(at).next };
    },
    hide() {
      hiddenAtScrollY = window.scrollY;
      element.hidden = true;
    },
    destroy() {
      controller?.abort();
      exportController?.abort();
      bulk.destroy();
      barHeight.disconnect();
      clearInterval(agesTimer);
      clearTimeout(typingTimer);
      usagePanel.destroy();
      element.remove();
    },
  };
}
