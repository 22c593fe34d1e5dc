// A conversation opened in a new tab (Ctrl-click, middle-click, "Open link in new tab") starts with an empty
// sessionStorage, so it asked for the key again: opening several conversations side by side meant typing it in each.
// A tab of this page without a key asks the others of this browser instead, over a BroadcastChannel (this origin's
// pages only, which can read sessionStorage anyway). Every tab signed in answers with its key; the new tab takes it
// only when the answers name one key. Tabs signed in with different keys (two projects) leave it to the user: a link
// from one opened under the other's key would show the other project.

const CHANNEL = 'stored-completions:key';
/** How long a new tab waits for answers: tabs answer within milliseconds; without any, the sign-in form shows after this. */
const WAIT_MS = 150;

let channel = null;
try {
  channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : null;
} catch {
  channel = null;
}

/** Answers other tabs' asks with the key this tab holds now (`currentKey()`), if any. */
export function answerKeyAsks(currentKey) {
  channel?.addEventListener('message', (event) => {
    if (event.data?.type !== 'ask') return;
    const key = currentKey();
    if (key) channel.postMessage({ type: 'key', key });
  });
}

/** The key the other tabs hold, when they hold one and the same; null otherwise. */
export function askOtherTabs() {
  if (!channel) return Promise.resolve(null);
  return new Promise((resolve) => {
    const keys = new Set();
    const take = (event) => {
      if (event.data?.type === 'key' && typeof event.data.key === 'string' && event.data.key) keys.add(event.data.key);
    };
    channel.addEventListener('message', take);
    channel.postMessage({ type: 'ask' });
    setTimeout(() => {
      channel.removeEventListener('message', take);
      resolve(keys.size === 1 ? [...keys][0] : null);
    }, WAIT_MS);
  });
}
