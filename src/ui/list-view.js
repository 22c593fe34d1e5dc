// The list: filters (all in the URL), rows paged by the API's keyset cursor, the usage panel, export. This module
// holds the list's state (the completions loaded, the cursor, the visit in history) and wires the parts that each do
// one job: the filter form (list-filters.js), a card (list-card.js) and its preview (card-previews.js), the
// selection (selection.js) and its bar (bulk-actions.js, bar-clearance.js), "j" and "k" (card-keys.js), the summary
// (list-summary.js), export (list-export.js), and the lists kept for Back (kept-lists.js).

import { api, queryString } from './api.js';
import { keepClearOfBar } from './bar-clearance.js';
import { createBulkActions } from './bulk-actions.js';
import { createCardKeys } from './card-keys.js';
import { loadPreviews } from './card-previews.js';
import { announce, h, replaceChildren } from './dom.js';
import { completionHash, filterPairs, listHash, listKey, matchesMetadata } from './filters.js';
import { relativeTime } from './format.js';
import { createKeptLists } from './kept-lists.js';
import { createKeysHint } from './keys-hint.js';
import { createCards } from './list-card.js';
import { createListExport } from './list-export.js';
import { createFilterForm } from './list-filters.js';
import { showSummary } from './list-summary.js';
import { noteMetadata } from './metadata-suggestions.js';
import { readSetting, writeSetting } from './preferences.js';
import { createSelection } from './selection.js';
import { createUsagePanel } from './usage-panel.js';
import { listTitle } from './view-title.js';

const PAGE_SIZE = 20;

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
  /** Lists left for another, by the history entry that showed them (kept-lists.js). */
  const leftLists = createKeptLists();
  let currentVisit = null;
  let visitsStarted = 0;
  /** Where the list was scrolled when a conversation was opened over it. */
  let hiddenAtScrollY = 0;

  const heading = h('h1', { id: 'list-title', tabindex: '-1' }, 'Completions');
  const filterForm = createFilterForm({
    hidden: () => element.hidden,
    onReplace: () => {
      currentVisit = null;
    },
    refresh,
    heading,
  });
  const { knownModels, navigate, withFilters } = filterForm;
  const keysHint = createKeysHint({ searchInput: filterForm.searchInput, search: () => route?.filters.search });

  // ---- results ------------------------------------------------------------------------------------
  const usageToggle = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', 'aria-controls': 'usage-panel' }, 'Usage');
  /** Completions stored since the list was loaded appear only when asked for: page one again, and the usage. */
  const refreshButton = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
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

  const selection = createSelection({ ids: () => loaded.map((c) => c.id) });
  const listExport = createListExport({
    view: () => route,
    selectedCount: () => selection.size,
    wholeCount: () => (hasMore ? null : loaded.length),
    showFailure: (message) => {
      listError.textContent = message;
      listError.hidden = false;
      // The list itself is as it was: "Try again" would reload it, not retry the export.
      retryButton.hidden = true;
    },
  });
  const cards = createCards({
    checkbox: selection.checkbox,
    hashOf: (id) => completionHash(id, route),
    search: () => route.filters.search,
    filterOn: (key, value) => {
      // The card and its chip are drawn anew: the focus goes to the filter it made (its remove button names it).
      filterForm.focusFilterOn(key);
      navigate(withFilters({ metadata: [...route.filters.metadata.filter(([k]) => k !== key), [key, value]] }));
    },
  });
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
    focusFilterOn: filterForm.focusFilterOn,
    exportSelected: listExport.exportPicked,
  });
  const element = h(
    'section',
    { class: 'list-view', 'aria-labelledby': 'list-title' },
    h('div', { class: 'title-row' },
      heading,
      h('div', { class: 'toolbar' }, refreshButton, usageToggle, compactToggle, listExport.controls),
      listExport.status,
    ),
    filterForm.element,
    usagePanel.element,
    listError,
    retryButton,
    notice,
    // The keys' line ends the summary's row, as it is seen (style.css): first in the DOM, Tab went from its far
    // right back to "Select all loaded" at the row's left, past the summary.
    h('div', { class: 'list-controls' }, selection.selectAll, summary, keysHint.element),
    bulk.element,
    rows,
    h('div', { class: 'more' }, loadMoreError, loadMoreButton),
  );
  const barClearance = keepClearOfBar(bulk.element);

  /**
   * "3 minutes ago" is true when drawn: a list left open for an afternoon said it of every card still. Each
   * card's relative time is redrawn from its <time> every minute while the list is in sight, and on coming back.
   */
  function refreshAges() {
    if (element.hidden) return;
    const now = Date.now();
    for (const time of rows.querySelectorAll('li.row time[datetime]')) {
      const age = time.querySelector('.relative')?.lastChild;
      const said = age && relativeTime(Date.parse(time.dateTime) / 1000, now);
      // Written only where it changed: the same text written again still replaces the span's text (a mutation, a
      // layout of each card's line), 1,200 of them every minute with that many cards loaded, for an hour-old list's "2 hours ago".
      if (age && age.textContent !== said) age.textContent = said;
    }
  }
  const agesTimer = setInterval(refreshAges, 60_000);

  usageToggle.addEventListener('click', () => navigate({ ...route, usage: !route.usage }));
  refreshButton.addEventListener('click', () => refresh());

  /** The same view asked for again: its first page and usage as they are now (the kept pages, scroll, dropped). */
  function refresh() {
    if (!route || element.hidden) return;
    usagePanel.invalidate(true);
    reload();
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
    listExport.forgetLast();
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
      const newRows = fresh.map(cards.draw);
      rows.append(...newRows.map((row) => row.element));
      firstNew = newRows[0]?.element.querySelector('a.row-link') ?? null;
      if (focusOnLoad !== null && (document.activeElement === document.body || !document.activeElement?.isConnected)) {
        // Not on the first page (read further down, or no longer matching): the list's heading, as when it is gone.
        (rowOf(focusOnLoad)?.querySelector('a.row-link') ?? heading).focus();
      }
      focusOnLoad = null;
      loadPreviews(newRows, signal, cards.showUserMessage);
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
    // Hidden, a conversation was in sight since: its scroll is not the list's.
    const scrollY = element.hidden ? hiddenAtScrollY : window.scrollY;
    // The card the focus was in (a chip clicked on it): Back gives the focus to it again, not to the page's body.
    const focusedId = rows.contains(document.activeElement) ? document.activeElement.closest('[data-id]')?.dataset.id : undefined;
    leftLists.keep(currentVisit, { key: currentKey, filters: route.filters, loaded, hasMore, cursor, previews, scrollY, focusedId });
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
    listExport.forgetLast();
    const restored = loaded.map(cards.draw);
    replaceChildren(rows, restored.map((row) => row.element));
    const unread = restored.filter((row) => {
      const text = kept.previews.get(row.id);
      if (text !== undefined) cards.showPreview(row.userPreview, text);
      return text === undefined;
    });
    loadPreviews(unread, controller.signal, cards.showUserMessage);
    selection.refresh();
    updateSummary();
    loadMoreButton.hidden = !hasMore;
    window.scrollTo(0, kept.scrollY);
    // Only where the focus was lost with the list it left (on the body), never taken from a field.
    if (kept.focusedId !== undefined && (document.activeElement === document.body || !document.activeElement?.isConnected)) {
      rowOf(kept.focusedId)?.querySelector('a.row-link')?.focus({ preventScroll: true });
    }
  }


  /** The summary above the cards, from what is loaded now (list-summary.js). */
  function updateSummary() {
    showSummary(summary, { count: loaded.length, hasMore, filters: route.filters, knownModel: knownModels.has });
  }

  retryButton.addEventListener('click', () => {
    if (retryButton.getAttribute('aria-disabled') !== 'true') reload();
  });

  /** The next page, when there is one to ask for and none is on its way: its loading, else null. */
  function loadNextPage() {
    if (!cursor || !controller || loadMoreButton.getAttribute('aria-disabled') === 'true') return null;
    return loadPage(cursor, controller.signal);
  }
  loadMoreButton.addEventListener('click', loadNextPage);
  const cardKeys = createCardKeys({ rows, loadMoreButton, bar: bulk.element, hasMore: () => hasMore, loadNextPage });

  const focusables = (el) => [...el.querySelectorAll('a[href], button, input')];

  /** A completion saved (in its conversation, or by a bulk action): its row drawn anew in place, or taken out when it no longer matches the metadata filters. */
  function completionUpdated(completion) {
    noteMetadata([completion]);
    usagePanel.invalidate(!element.hidden);
    leftLists.apply(completion.id, completion);
    const index = loaded.findIndex((c) => c.id === completion.id);
    if (index === -1) return;
    if (!matchesMetadata(route.filters, completion)) {
      takeOut(index);
      return;
    }
    loaded[index] = completion;
    const old = rowOf(completion.id);
    const row = cards.draw(completion);
    // The preview of the last user message came from the messages endpoint; a metadata change leaves it as it was.
    cards.showPreview(row.userPreview, old?.querySelector('.preview-text')?.textContent ?? '…');
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
    leftLists.apply(id, null);
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
      filterForm.sync(route);
      usageToggle.setAttribute('aria-pressed', String(route.usage));
      // The keys line names "n" and "p" while the list is a search's.
      keysHint.show();
      usagePanel.show(route.usage ? route.filters : null);
      // Its first page had failed (the service down): coming back to it loads it again rather than showing
      // the old error over a service that may be back (as a conversation opened meanwhile already was).
      if (key !== currentKey || !retryButton.hidden) {
        const visit = history.state?.listVisit;
        const kept = leftLists.take(visit, key);
        currentKey = key;
        focusInsteadOf.clear();
        if (kept) {
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
      filterForm.searchInput.focus();
      return true;
    },
    focusCard: cardKeys.focusCard,
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
      listExport.abort();
      bulk.destroy();
      barClearance.disconnect();
      clearInterval(agesTimer);
      filterForm.destroy();
      usagePanel.destroy();
      element.remove();
    },
  };
}
