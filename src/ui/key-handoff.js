// A new tab of the page (a card opened with a middle-click, a link pasted into another tab) starts signed in
// when a tab of this service already is, rather than asking for the key again: the key is asked of the open
// tabs over a BroadcastChannel, which reaches only this origin's pages in this browser profile, and never
// written anywhere that outlives the tabs (it stays in each tab's sessionStorage, as typed keys do).

import { storedKey } from './api.js';

const CHANNEL = 'stored-completions:key';
/** How long a new tab listens for any signed-in tab to answer (same-machine messages take a few milliseconds). */
const FIRST_ANSWER_MS = 250;
/** After the first answer, how long it listens for others: two tabs may be signed in with different keys. */
const MORE_ANSWERS_MS = 60;

function openChannel() {
  try {
    return typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : null;
  } catch {
    return null;
  }
}

/** Answers the tabs that ask, with this tab's key when it is signed in (read at each question: it may sign out). */
export function shareKeyWithNewTabs() {
  const channel = openChannel();
  if (!channel) return;
  channel.addEventListener('message', (event) => {
    const ask = event.data?.ask;
    const key = storedKey();
    if (typeof ask === 'string' && key) channel.postMessage({ answer: ask, key });
  });
}

/**
 * The key the open tabs are signed in with: `{ key }` when they all use one, `{ ambiguous: true }` when they use
 * different keys (projects: this tab cannot tell which was meant), `{}` when none answers.
 */
export function keyFromOpenTabs() {
  const channel = openChannel();
  if (!channel) return Promise.resolve({});
  const question = `${Date.now()}-${Math.random()}`;
  const keys = new Set();
  return new Promise((resolve) => {
    const finish = () => {
      channel.close();
      if (keys.size === 1) resolve({ key: [...keys][0] });
      else resolve(keys.size > 1 ? { ambiguous: true } : {});
    };
    let timer = setTimeout(finish, FIRST_ANSWER_MS);
    channel.addEventListener('message', (event) => {
      if (event.data?.answer !== question || typeof event.data.key !== 'string' || event.data.key === '') return;
      if (keys.size === 0) {
        clearTimeout(timer);
        timer = setTimeout(finish, MORE_ANSWERS_MS);
      }
      keys.add(event.data.key);
    });
    channel.postMessage({ ask: question });
  });
}
