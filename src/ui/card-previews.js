// The list endpoint carries no input messages: each card asks for its conversation's last ones, to preview what
// the user last said.

import { api, completionPath, queryString } from './api.js';

/** Previews of the last user message need one request per card; a few at a time keeps the page's own requests ahead. */
const PREVIEW_CONCURRENCY = 4;

/**
 * Reads the last user message of each card's completion (`pending`: cards from list-card.js) and hands it to
 * `show(card, message)`: the last message instead when no user spoke. Stops when `signal` aborts (the list loads anew).
 */
export function loadPreviews(pending, signal, show) {
  const queue = [...pending];
  const worker = async () => {
    while (queue.length && !signal.aborted) {
      const card = queue.shift();
      try {
        let page = await api(`${completionPath(card.id)}/messages?order=desc&limit=20`, { signal });
        const latest = page.data[0];
        let lastUser = page.data.find((m) => m.role === 'user');
        // An agent's turn can end in more than a page of tool calls and results: the user spoke before them.
        while (!lastUser && page.has_more && page.data.length) {
          const after = page.data[page.data.length - 1].id;
          page = await api(`${completionPath(card.id)}/messages${queryString([['order', 'desc'], ['limit', 100], ['after', after]])}`, { signal });
          lastUser = page.data.find((m) => m.role === 'user');
        }
        show(card, lastUser ?? latest);
      } catch {
        if (!signal.aborted) card.userPreview.textContent = '(not available)';
      }
    }
  };
  for (let i = 0; i < PREVIEW_CONCURRENCY; i++) worker();
}
