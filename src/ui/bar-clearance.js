// The selection bar is sticky at the window's top, over the cards: a card's control focused from below (Shift+Tab,
// "k") would be scrolled to that top, wholly behind it.

/**
 * Keeps the cards' controls clear of `bar`: the bar's height and a small gap, kept up to date (a form opens, a summary
 * wraps), are the window's scroll padding while the focus is among the cards (style.css); none while the bar is
 * hidden. Set through the CSSOM, which the page's style-src 'self' allows. Where the bar is not sticky (style.css: a
 * phone or a short window), the padding is none.
 *
 * Set on the root, as a custom property no element inherits (style.css registers it so): set on the list, which each
 * card's controls read it from, a change recomputed the style of every element of every card (a second or near it
 * with 1,200 cards loaded); on the root alone, it recomputes one element's. Returns what to disconnect when the list goes.
 */
export function keepClearOfBar(bar) {
  const root = document.documentElement;
  const observer = new ResizeObserver(() => {
    const height = bar.offsetHeight;
    const clearance = height ? `calc(${height}px + 0.5rem)` : '0px';
    root.style.setProperty('--bar-clearance', clearance);
    // The bar's own controls sit in that padding: their scroll margin gives it back (style.css).
    bar.style.setProperty('--bar-clearance-back', clearance);
  });
  observer.observe(bar);
  return {
    disconnect() {
      observer.disconnect();
      root.style.removeProperty('--bar-clearance');
    },
  };
}
