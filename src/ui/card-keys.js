// "j" and "k" (shortcuts.js) between the list's cards: the focus to a card's link as Tab would put it there, the
// selection bar (sticky over the cards) kept out of the way, and "j" past the last card loading the next page.

/**
 * `rows`: the list of cards; `loadMoreButton`: "Load more", under the last; `bar`: the selection bar, sticky at the
 * window's top; `hasMore()`: whether the list goes on past the loaded cards; `loadNextPage()`: loads it (a promise
 * of its end), or null when it cannot now (one on its way).
 */
export function createCardKeys({ rows, loadMoreButton, bar, hasMore, loadNextPage }) {
  /** Where the cards start to show: under the selection bar while it is in sight (sticky, it covers the cards). */
  function coveredTo() {
    const box = bar.getBoundingClientRect();
    return box.height ? Math.max(0, box.bottom) : 0;
  }

  /**
   * "j" past the last card loaded is "Load more": the focus waits on that card while the page comes (a failure is
   * said beside "Load more", and "j" again tries again), then goes on to the first card it brought, unless the user
   * has moved it meanwhile.
   */
  function loadMoreFrom(last) {
    loadNextPage()?.then(() => {
      if (document.activeElement?.closest('li.row') === last) last.nextElementSibling?.querySelector('a.row-link')?.focus();
    });
    return true;
  }

  /**
   * The focus to the next (`step` 1) or previous (-1) card's link; from outside the cards, to the first card in
   * sight, so reading starts where the page was scrolled to. In sight is below the selection bar: focused, a card
   * wholly under it stayed there, hidden. One partly under it is taken, and the focus scrolls its link out from under
   * the bar (the scroll padding of bar-clearance.js), as Tab's does. False when there is no card to go to.
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
    if (index === cards.length && hasMore()) return loadMoreFrom(cards[index - 1]);
    const target = cards[index]?.querySelector('a.row-link');
    target?.focus();
    return Boolean(target);
  }

  return { focusCard };
}
