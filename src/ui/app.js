// The entry: sign-in, and a router over the URL's hash between the list and a conversation.

import { api, forgetKey, maskKey, onUnauthorized, rememberKey, signedOutHere, storedKey } from './api.js';
import { createConversationView } from './conversation-view.js';
import { announce, field, fieldError, h, replaceChildren } from './dom.js';
import { completionHash, listHash, listKey, parseRoute } from './filters.js';
import { keyFromOpenTabs, shareKeyWithNewTabs } from './key-handoff.js';
import { createListView } from './list-view.js';
import { forgetMetadata } from './metadata-suggestions.js';
import { neighboursFromApi } from './neighbours.js';
import { installShortcuts } from './shortcuts.js';

const main = document.getElementById('main');
const signOutButton = document.getElementById('sign-out');
const signedIn = document.getElementById('signed-in');

/** The list survives a visit to a conversation, so coming back keeps its pages and scroll position. */
let listView = null;
let conversationView = null;
let lastOpenedId = null;
/** Where "← Completions" leads: the list as it was filtered when a conversation was opened. */
let lastListHash = '#/';
/**
 * Which sign-in the views belong to: it changes whenever they are dropped (sign-out, a refused key). An answer
 * still on its way for an earlier one (a metadata save sent just before "Sign out") must not reach the list
 * drawn for the key signed in since: that may be another project's, holding a completion of the same id.
 */
let session = 0;

function dropViews() {
  session++;
  forgetMetadata();
  conversationView?.destroy();
  conversationView = null;
  listView?.destroy();
  listView = null;
}

function renderSignIn(message) {
  dropViews();
  signOutButton.hidden = true;
  signedIn.hidden = true;
  document.title = 'Sign in · Stored completions';
  const keyInput = h('input', {
    type: 'text',
    class: 'secret',
    name: 'api-key',
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    required: true,
  });
  // The key is what a message here is about (one refused since signing in, too).
  const error = fieldError();
  error.show(message, keyInput);
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'sign-in card', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h('p', { class: 'muted' }, 'Use the API key your clients use: you will see the completions stored for its project. The key stays in this browser tab and is sent only to this service.'),
    field('API key', keyInput),
    error.element,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = typedKey(keyInput.value);
    if (!key) {
      error.show('Enter an API key.', keyInput);
      keyInput.focus();
      return;
    }
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      // Any listing proves the key: the service answers 401 with OpenAI's message otherwise.
      await api('/v1/chat/completions?limit=1', { key });
      rememberKey(key);
      announce('Signed in');
      route();
      // The form that had focus is gone: the list's heading takes it (a conversation's already has it).
      if (!main.contains(document.activeElement)) main.querySelector('h1')?.focus();
    } catch (failure) {
      error.show(signInProblem(failure), keyInput);
      keyInput.select();
      keyInput.focus();
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  replaceChildren(main, form);
  keyInput.focus();
}

/**
 * The key in what was typed: a whole Authorization value pasted (`Bearer sk-…`, as a curl command or a client's
 * settings show it, with the header's name too: `Authorization: Bearer sk-…`) is the key after its scheme; the API
 * itself is not changed to take the scheme twice. Quotes around it, copied with it from a `.env` file, code or a curl
 * command's `-H "…"`, go too: in pass-through mode the quoted key signed in, to an empty store of its own.
 */
function typedKey(value) {
  return unquoted(unquoted(value.trim()).replace(/^authorization:\s*/i, '').replace(/^bearer\s+/i, ''));
}

/** `text` without one pair of matching quotes around it (", ' or `), which no key begins and ends with. */
function unquoted(text) {
  return /^(["'`])([^]*)\1$/.exec(text)?.[2].trim() ?? text;
}

/**
 * What a refused key means here: OpenAI's text sends the user to OpenAI's site for a key, but this service's
 * keys are its operator's (API_KEYS), and an OpenAI key is not one of them.
 */
function signInProblem(failure, { revoked = false } = {}) {
  if (failure.code !== 'invalid_api_key') return failure.message;
  return revoked
    ? 'This service no longer accepts the key you signed in with (its operator may have changed API_KEYS). Sign in with a key it accepts.'
    : 'This service does not accept this key. Use a key set in its API_KEYS by whoever runs it: the key your clients send to this service, which need not be an OpenAI key.';
}

/**
 * The address held the signed-out key's view: its filters (search words, metadata values) or a completion's id.
 * The next key starts from its own list, not from them.
 */
function forgetView() {
  history.replaceState(null, '', location.pathname + location.search);
  lastListHash = '#/';
  lastOpenedId = null;
}

function signOut() {
  // Metadata typed and not saved is asked about here too, as on leaving the conversation for another view.
  if (conversationView?.hasUnsavedEdits() && !window.confirm('Sign out? The metadata changes you made have not been saved.')) return;
  forgetKey();
  // (A link followed before signing in still opens: the address is kept at sign-in, not here.)
  forgetView();
  renderSignIn();
  announce('Signed out');
}

/**
 * The list a conversation is read in, and so its "Previous", "Next" and "← Completions": named by its address
 * (`#/completions/ID?model=…&order=asc`), or kept in its history entry (a reload), or the list drawn that holds it
 * (a row's link). The drawn list gives its neighbours when it is that list and holds the completion (at its last
 * row, "Next" loads its next page); otherwise the API is asked. Addresses name the list when the conversation's did,
 * or when the neighbours came from the API, so reading on after a reload or a shared link keeps the list.
 */
function readingList({ id, within: named }) {
  const drawn = listView?.within();
  const held = Object.keys(listView?.neighboursOf(id) ?? {}).length > 0;
  const kept = history.state?.within ? parseRoute(history.state.within) : null;
  const within = named ?? kept ?? (held ? drawn : null);
  if (!within) return { within: null, neighbours: {}, hrefOf: completionHash, backHash: lastListHash };
  const fromDrawn = held && listKey(within) === listKey(drawn);
  return {
    within,
    neighbours: fromDrawn ? listView.neighboursOf(id) : (signal) => neighboursFromApi(id, within, signal),
    hrefOf: named || !fromDrawn ? (neighbour) => completionHash(neighbour, within) : completionHash,
    // The drawn list's own address when it is this list; else this list's, with its usage panel when it had it.
    backHash: fromDrawn ? lastListHash : listHash(within),
  };
}

/** The URL the page shows, to go back to when leaving it is called off. */
let shownUrl = location.href;
/** The list the conversation shown is read in (its `within`, as an address), kept with it in its history entry. */
let shownWithin = null;

function route() {
  // Leaving a conversation with metadata typed and not saved (Back, "← Completions", a chip): asked first,
  // as Escape in the editor and a reload are; called off, the URL goes back to the conversation, the view
  // never left (pushState fires no hashchange).
  if (conversationView?.hasUnsavedEdits() && location.href !== shownUrl
    && !window.confirm('Leave this completion? The metadata changes you made have not been saved.')) {
    history.pushState({ conversation: true, within: shownWithin }, '', shownUrl);
    conversationView.historyMoved();
    return;
  }
  shownUrl = location.href;
  const key = storedKey();
  if (!key) {
    renderSignIn();
    return;
  }
  signOutButton.hidden = false;
  signedIn.hidden = false;
  replaceChildren(signedIn, h('span', { class: 'signed-in-label' }, 'Key '), maskKey(key));
  const current = parseRoute();
  if (current.view === 'completion') {
    lastOpenedId = current.id;
    // Opened from the list just now, not reached again by Back or Forward: the entry before this one is that
    // list, so a delete goes back to it rather than adding a second entry of the same list.
    const openedFromList = Boolean(listView && !listView.element.hidden) && !history.state?.conversation;
    const { within, neighbours, hrefOf, backHash } = readingList(current);
    // The list it is read in, kept in the history entry too: a reload (or Back to it later) still has its
    // "Previous" and "Next", though its address (one typed, the search's "Open chatcmpl-…") may not name the
    // list; and its usage panel, which "← Completions" shows again.
    shownWithin = within && listHash(within);
    history.replaceState({ ...history.state, conversation: true, within: shownWithin }, '');
    // Opened from a link before any list was drawn: the sign-in form may still be there.
    if (listView) listView.hide();
    else replaceChildren(main);
    conversationView?.destroy();
    const openedIn = session;
    conversationView = createConversationView(current.id, {
      openedFromList,
      search: within?.filters.search,
      neighbours,
      hrefOf,
      nextAfterLoading: (id) => listView.nextAfterLoading(id),
      onUpdated: (completion) => {
        if (session === openedIn) listView?.completionUpdated(completion);
      },
      onDeleted: (id, said) => {
        if (session === openedIn) listView?.completionDeleted(id, said);
      },
      onSaveLost: (id, reason) => {
        if (session === openedIn) listView?.say(`The metadata of ${id} was not saved: ${reason}`);
      },
      backHash,
    });
    main.append(conversationView.element);
    conversationView.focus();
    return;
  }
  conversationView?.destroy();
  conversationView = null;
  if (!listView) {
    replaceChildren(main);
    listView = createListView();
    main.append(listView.element);
  }
  lastListHash = location.hash || '#/';
  listView.show(current, lastOpenedId);
  lastOpenedId = null;
}

// The page's scroll is the views' own: a list shown again by Back is drawn as it was left, then scrolled where
// it was (list-view.js). The browser's own restoring ran before that, on the height of the view being left, and
// moved the page before the list could note where it had been.
history.scrollRestoration = 'manual';
signOutButton.addEventListener('click', signOut);
// The skip link moves focus only: following its `#main` would be read by the router as a list with no filters.
document.querySelector('.skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
// A key revoked while the page is open: back to the sign-in form, saying so. The next key may be another
// project's: it starts from its own list, as after "Sign out", not on the revoked key's completion or filters.
onUnauthorized((failure) => {
  if (!storedKey()) return;
  forgetKey();
  forgetView();
  renderSignIn(signInProblem(failure, { revoked: true }));
});
// The brand on the list it leads to: no change of address, so no hashchange; taken as "show it again".
document.querySelector('.brand').addEventListener('click', (event) => {
  if (listView && !listView.element.hidden && (location.hash === '#/' || location.hash === '')) {
    event.preventDefault();
    listView.refresh();
  }
});
// Two changes of address in quick succession (a click, then Back at once) can both be read after the second:
// the address is then the one shown, and drawing it again would only throw away what the view held (metadata
// typed in the editor, where the user scrolled).
window.addEventListener('hashchange', () => {
  if (location.href !== shownUrl) route();
});
installShortcuts(() => ({
  list: !conversationView && listView && !listView.element.hidden ? listView : null,
  conversation: conversationView,
}));
/** The sign-in form, still there and untouched: what another tab's key may replace. */
function untouchedSignIn() {
  const keyField = main.querySelector('form.sign-in input[name="api-key"]');
  return !storedKey() && keyField !== null && keyField.value === '';
}

/**
 * A new tab (a card opened with a middle-click): signed in with the key of the tabs already open, when they agree
 * on one and the service still takes it (asked as the form asks; a key taken out of API_KEYS leaves the plain form).
 * The form is drawn at once, so a key typed straight away is not lost; the answer (a few milliseconds later) is taken
 * only while the form is still there, untouched. A tab signed out stays so, reloaded too.
 */
async function signInFromOpenTabs() {
  const { key, ambiguous } = await keyFromOpenTabs();
  if (!untouchedSignIn()) return;
  if (ambiguous) {
    renderSignIn('Other tabs of this service are signed in with different keys: sign in with the one to use in this tab.');
    return;
  }
  if (!key) return;
  try {
    await api('/v1/chat/completions?limit=1', { key });
  } catch {
    return;
  }
  if (!untouchedSignIn()) return;
  rememberKey(key);
  announce('Signed in with the key of your other tab');
  route();
  // The form that had focus is gone, as after typing the key: the list's heading takes it.
  if (!main.contains(document.activeElement)) main.querySelector('h1')?.focus();
}

shareKeyWithNewTabs();
const signedInAtStart = Boolean(storedKey());
route();
if (!signedInAtStart && !signedOutHere()) signInFromOpenTabs();
