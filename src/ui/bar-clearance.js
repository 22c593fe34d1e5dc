// The selection bar is sticky at the window's top, over the cards: a card's control focused from below (Shift+Tab,
// "k") would be scrolled to that top, wholly behind it.

/**
 * Keeps the controls of the cards in `list` (the list view) clear of `bar`: the bar's height and a small gap, kept up
 * to date (a form opens, a summary wraps), are their scroll margin (style.css); none while the bar is hidden. Set
 * through the CSSOM, which the page's style-src 'self' allows. Where the bar is not sticky (style.css: a phone or a
 * short window), the margin is none. Returns the observer, to disconnect when the list goes.
 */
export function keepClearOfBar(bar, list) {
  const observer = new ResizeObserver(() => {
    const height = bar.offsetHeight;
    list.style.setProperty('--bulk-height', height ? `calc(${height}px + 0.5rem)` : '0px');
  });
  observer.observe(bar);
  return observer;
}
