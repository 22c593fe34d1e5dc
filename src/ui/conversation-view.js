// One stored completion: the conversation as sent and received, every choice, usage, the echoed
// request fields, metadata (editable), delete, raw JSON and replay snippets.

import { allMessages, api, completionPath, storedKey } from './api.js';
import { announce, askToConfirm, copyButton, h, isolatedText, pairNodes, replaceChildren, shownPairText } from './dom.js';
import { completionHash, listHash } from './filters.js';
import { cutReasons, finishReasons, formatInteger, isoTime, localTime, relativeTime } from './format.js';
import { markdownShown, showMarkdown } from './markdown.js';
import { conversationCards, jsonBlock, longText, messageCard, toolList } from './message-render.js';
import { createMetadataEditor } from './metadata-editor.js';
import { noteMetadata } from './metadata-suggestions.js';
import { neighbourLinks, OUTSIDE_NOTE } from './neighbours.js';
import { createQuickTag, rememberTag } from './quick-tag.js';
import { forgetLoadedImages, loadAllImagesBar, nameImageButtons } from './remote-images.js';
import { shortcutsActive } from './shortcuts.js';
import { curlSnippet, openaiSnippet, replayRequest } from './replay.js';
import { matchNavigation } from './search-marks.js';
import { searchMatcher } from './search-words.js';

const REQUEST_FIELDS = [
  ['temperature', 'Temperature'],
  ['top_p', 'Top p'],
  ['seed', 'Seed'],
  ['presence_penalty', 'Presence penalty'],
  ['frequency_penalty', 'Frequency penalty'],
  ['tool_choice', 'Tool choice'],
  ['response_format', 'Response format'],
  ['input_user', 'User'],
  ['service_tier', 'Service tier'],
  ['system_fingerprint', 'System fingerprint'],
  ['request_id', 'Request id'],
];

function definitionList(entries) {
  return h('dl', { class: 'facts-list' }, entries.map(([term, value]) => [h('dt', null, term), h('dd', null, value)]));
}

function fieldValue(value) {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return h('code', null, String(value));
  // An integer past 2^53, kept as the service answered it (parseJson).
  if (JSON.isRawJSON?.(value)) return h('code', null, value.rawJSON);
  return jsonBlock(value);
}

function usageSection(usage) {
  if (!usage) return h('p', { class: 'muted' }, 'The provider reported no usage.');
  const entries = [
    ['Prompt tokens', formatInteger(usage.prompt_tokens)],
    ['Completion tokens', formatInteger(usage.completion_tokens)],
    ['Total tokens', formatInteger(usage.total_tokens)],
  ];
  const cached = usage.prompt_tokens_details?.cached_tokens;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  if (cached) entries.push(['Cached prompt tokens', formatInteger(cached)]);
  if (reasoning) entries.push(['Reasoning tokens', formatInteger(reasoning)]);
  return definitionList(entries);
}

function metadataChips(metadata) {
  const pairs = Object.entries(metadata ?? {});
  if (pairs.length === 0) return h('p', { class: 'muted' }, 'No metadata.');
  // Each pair links to the list filtered on it (the href is ours, built from URLSearchParams).
  return h('ul', { class: 'chips', 'aria-label': 'Metadata' }, pairs.map(([key, value]) =>
    h('li', null, h('a', { class: 'chip', href: listHash({ filters: { metadata: [[key, value]] }, order: 'desc', usage: false }), title: `${isolatedText(shownPairText(key))}: ${isolatedText(shownPairText(value))} (all completions with this pair)` }, pairNodes(key, ': ', value))),
  ));
}

function choiceCards(choices, matcher) {
  return choices.map((choice) =>
    messageCard(choice.message ?? {}, {
      matcher,
      // Named apart by their index ("Choice 0"), or the one card under the heading "Reply".
      heading: choices.length > 1 ? `Choice ${choice.index}` : 'Assistant',
      copyLabel: choices.length > 1 ? `Copy choice ${choice.index}` : 'Copy reply',
      // A choice cut off or withheld in the danger colour, as the facts above say it: among three choices, the one to
      // distrust stood out only there, as "finish: stop, length", not on its own card.
      extra: h('span', { class: cutReasons({ choices: [choice] }).length ? 'finish cut' : 'finish muted' }, ` · finish reason: ${choice.finish_reason ?? 'none'}${choice.logprobs ? ' · logprobs stored' : ''}`),
    }),
  );
}

/**
 * `neighbours`: the completions before and after this one (app.js), or a function of an abort signal that
 * promises them (asked of the API); `hrefOf` writes their addresses.
 */
export function createConversationView(id, { onUpdated, onDeleted, onSaveLost, backHash = '#/', openedFromList = false, neighbours = {}, nextAfterLoading, hrefOf = completionHash, search }) {
  /** Whether the history entry before this one is the list it was opened from (app.js); false once history moved. */
  let listEntryBefore = openedFromList;
  const heading = h('h1', { tabindex: '-1', class: 'completion-id' }, id);
  const body = h('div', { class: 'conversation-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const viewLinks = h('div', { class: 'view-links' },
    h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumbs' }, h('a', { href: backHash, 'aria-keyshortcuts': shortcutsActive() ? 'Escape' : null }, '← Completions')),
  );
  const element = h('section', { class: 'conversation-view', 'aria-labelledby': 'conversation-title', 'aria-busy': 'true' },
    viewLinks,
    h('div', { class: 'title-row' }, heading, copyButton('Copy id', () => id)),
    body,
  );
  const drawNeighbours = (found) => {
    const links = (where) => neighbourLinks(found, { nextAfterLoading: () => nextAfterLoading(id), hrefOf, where });
    viewLinks.append(links('top') ?? '');
    // Again under a long conversation, where its reader is once it is read.
    body.after(links('end') ?? '');
    // Drawn after the focus went to the heading, and above it: a screen reader reading on from there never hears it.
    if (found.outside) announce(OUTSIDE_NOTE);
  };
  heading.id = 'conversation-title';
  // Images loaded in the conversation read before are not loaded here unasked.
  forgetLoadedImages();
  document.title = `${id} · Stored completions`;
  const controller = new AbortController();
  /**
   * "j" or "k" pressed while the neighbours are still being asked of the API (after a reload, from a link): the last
   * one pressed, carried out once they are drawn. Dropped, reading on at speed lost keys; counted, two presses
   * could skip a conversation never seen.
   */
  let neighboursPending = typeof neighbours === 'function';
  let pendingMove = null;
  if (neighboursPending) {
    neighbours(controller.signal).then((found) => {
      if (controller.signal.aborted) return;
      drawNeighbours(found);
      neighboursPending = false;
      if (pendingMove) openNeighbour(pendingMove);
      pendingMove = null;
    });
  } else drawNeighbours(neighbours);
  let messages = [];
  /** The metadata editor while it is open, to tell whether leaving the page would lose what was typed. */
  let openEditor = null;
  /** The drawn completion's "Tag" (quick-tag.js), once it is loaded. */
  let quickTag = null;
  /** The drawn completion's "Previous match" and "Next match" (search-marks.js), when it is read within a search. */
  let matchNav = null;

  function render(completion) {
    const editorSlot = h('div', { class: 'editor-slot' });
    const editButton = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false' }, 'Edit metadata');
    const deleteButton = h('button', { type: 'button', class: 'danger' }, 'Delete');
    const choices = completion.choices ?? [];
    const request = replayRequest(completion, messages);
    noteMetadata([completion]);
    const metadataSection = h('section', null, h('h2', null, 'Metadata'), metadataChips(completion.metadata));
    const rawDetails = () => h('details', { class: 'raw' },
      h('summary', null, 'Raw JSON'),
      h('div', { class: 'toolbar' }, copyButton('Copy raw JSON', () => JSON.stringify({ ...completion, input_messages: messages }, null, 2))),
      jsonBlock({ ...completion, input_messages: messages }, 'Raw JSON'),
    );
    let raw = rawDetails();
    // A tag written: only what shows the metadata is drawn again, so the focus, the scroll and the folds stay.
    const quick = createQuickTag(id, {
      onMetadata(metadata) {
        const updated = { ...completion, metadata };
        onUpdated?.(updated);
        // Answered after the view was left (a sign-out, the next key perhaps another project's): not drawn, not noted.
        if (controller.signal.aborted) return;
        completion = updated;
        noteMetadata([updated]);
        metadataSection.lastChild.replaceWith(metadataChips(updated.metadata));
        const redrawn = rawDetails();
        redrawn.open = raw.open;
        raw.replaceWith(redrawn);
        raw = redrawn;
      },
      // Deleted meanwhile: its card leaves the list, as when opening it answers 404 (load, below).
      onGone: () => onDeleted?.(id),
    });
    quickTag = quick;

    editButton.addEventListener('click', () => {
      if (editButton.getAttribute('aria-expanded') === 'true') return;
      // A tag on its way: the editor would open on the map without it, and its save would take the tag out again.
      if (quick.busy()) return quick.sayBusy();
      // While the editor is open its map is the one to be saved: a tag written meanwhile would be overwritten by it.
      const tagShown = !quick.button.hidden;
      quick.button.hidden = true;
      const editor = createMetadataEditor(completion.metadata, {
        save: async (metadata, pair) => {
          const holder = storedKey();
          let updated;
          try {
            updated = await api(completionPath(id), { method: 'POST', body: { metadata } });
          } catch (failure) {
            // Left while it was on its way (leaving does not ask then): said where the user went, not lost unseen.
            if (!element.isConnected) onSaveLost?.(id, failure.message);
            // Deleted meanwhile: its card leaves the list, as when opening it answers 404 (load, below).
            if (failure.status === 404) onDeleted?.(id);
            throw failure;
          }
          onUpdated?.(updated);
          // The pair set last is what "Tag" adds to the next conversations: the saving key's, whoever is signed in now.
          if (pair) rememberTag(...pair, holder);
          announce('Metadata saved');
          // Answered after the view was left (a sign-out): its map is not drawn, nor offered as suggestions.
          if (!controller.signal.aborted) render(updated);
        },
        close: () => {
          openEditor = null;
          quick.button.hidden = !tagShown;
          replaceChildren(editorSlot);
          editButton.setAttribute('aria-expanded', 'false');
          // After a save the view was drawn again: focus goes to the new button, not the detached one.
          (editButton.isConnected ? editButton : body.querySelector('[aria-expanded]'))?.focus();
        },
      });
      editButton.setAttribute('aria-expanded', 'true');
      openEditor = editor;
      replaceChildren(editorSlot, editor.element);
      editor.focus();
    });

    deleteButton.addEventListener('click', () => confirmDelete(deleteButton));

    // Read within a search: its words marked, and "Next match" to go from one to the next (search-marks.js).
    const matcher = search ? searchMatcher(search) : null;
    const drawConversation = (earlierOpen) => {
      const drawn = h('div', { class: 'conversation' },
        h('h2', null, `Input messages (${messages.length})`),
        messages.length ? conversationCards(messages, { earlierOpen, matcher }) : h('p', { class: 'muted' }, 'No input messages were stored.'),
        h('h2', null, choices.length > 1 ? `Choices (${choices.length})` : 'Reply'),
        choiceCards(choices, matcher),
      );
      nameImageButtons(drawn);
      drawn.prepend(loadAllImagesBar(drawn) ?? '');
      return drawn;
    };
    let conversation = drawConversation();
    const matches = matchNavigation(() => conversation, search);
    matchNav = matcher ? matches : null;
    // Markdown drawn, or the characters as stored (what a prompt with "*" or "#" in it really said): only
    // the messages are drawn again, so metadata being edited stays as typed.
    const markdownToggle = h('input', { type: 'checkbox', checked: markdownShown() });
    markdownToggle.addEventListener('change', () => {
      showMarkdown(markdownToggle.checked);
      // Earlier messages the reader opened stay open: the toggle changes how they read, not what is shown.
      const redrawn = drawConversation(conversation.querySelector(':scope > details.earlier-messages')?.open);
      conversation.replaceWith(redrawn);
      conversation = redrawn;
      matches.update();
    });

    const tools = completion.tools;
    const requestEntries = REQUEST_FIELDS.filter(([name]) => completion[name] !== null && completion[name] !== undefined).map(([name, label]) => [label, fieldValue(completion[name])]);

    replaceChildren(
      body,
      h('p', { class: 'facts' },
        h('time', { datetime: isoTime(completion.created) }, localTime(completion.created)),
        h('span', { class: 'muted' }, ` (${relativeTime(completion.created)})`),
        ' · ', h('span', { class: 'model' }, completion.model),
        // As the list's card says it: "— tokens" read as a figure lost, where the provider sent none.
        ' · ', completion.usage?.total_tokens === undefined ? 'no usage' : `${formatInteger(completion.usage.total_tokens)} tokens`,
        // Cut off or withheld, in the danger colour, as on the list's card.
        ' · ', h('span', { class: cutReasons(completion).length ? 'finish cut' : 'finish' }, `finish: ${finishReasons(completion)}`),
      ),
      h('div', { class: 'toolbar' }, editButton, quick.button, deleteButton, h('label', { class: 'markdown-toggle' }, markdownToggle, 'Markdown')),
      quick.status,
      editorSlot,
      matcher ? matches.element : null,
      // "Show more" draws more of a text, and its marks: counted again once the click has drawn them.
      h('div', { class: 'conversation-layout', onclick: matcher ? () => matches.update() : null },
        conversation,
        h('aside', { class: 'details', 'aria-label': 'Details' },
          metadataSection,
          h('section', null, h('h2', null, 'Usage'), usageSection(completion.usage)),
          h('section', null, h('h2', null, 'Request'), requestEntries.length ? definitionList(requestEntries) : h('p', { class: 'muted' }, 'No sampling fields were set.')),
          Array.isArray(tools) && tools.length ? h('section', null, h('h2', null, `Tools (${tools.length})`), toolList(tools)) : null,
          h('section', { class: 'replay' },
            h('h2', null, 'Replay'),
            h('div', { class: 'toolbar' },
              copyButton('Copy curl command', () => curlSnippet(request)),
              copyButton('Copy openai snippet', () => openaiSnippet(request)),
            ),
            h('details', null, h('summary', null, 'curl'), longText(curlSnippet(request), 'code', 'curl command')),
            h('details', null, h('summary', null, 'openai (Node)'), longText(openaiSnippet(request), 'code', 'openai snippet')),
          ),
        ),
      ),
      raw,
    );
    matches.update();
  }

  function confirmDelete(trigger) {
    // While the question is open the page has one "Delete": the one that answers it.
    trigger.hidden = true;
    askToConfirm({
      parent: element,
      title: 'Delete this completion?',
      text: `${id} and its input messages will be deleted for good. This cannot be undone.`,
      confirmLabel: 'Delete',
      async onConfirm() {
        let gone = `Deleted ${id}`;
        try {
          await api(completionPath(id), { method: 'DELETE' });
        } catch (failure) {
          // Deleted meanwhile (another tab, another person): what was asked for is done.
          if (failure.status !== 404) throw failure;
          gone = `${id} was already deleted`;
        }
        // Said above the list only when this view is still the one in sight (not left while the delete ran).
        onDeleted?.(id, element.isConnected ? `${gone}.` : undefined);
        announce(gone);
      },
      onClose(deleted) {
        trigger.hidden = false;
        if (element.isConnected) trigger.focus();
        // Left meanwhile (Back pressed while the delete ran): the user is where they went, and stays there.
        if (!deleted || !element.isConnected) return;
        // Back to the list's own entry when it is the one before; otherwise (a link opened it) this entry becomes
        // the list, so Back does not lead to a completion that is gone.
        if (listEntryBefore) history.back();
        else location.replace(backHash);
      },
    });
  }

  function load() {
    element.setAttribute('aria-busy', 'true');
    // Asked inside `then`, so an id no path can carry (which `completionPath` refuses at once) fails like any 404.
    return Promise.resolve()
      .then(() => Promise.all([api(completionPath(id), { signal: controller.signal }), allMessages(id, controller.signal)]))
      .then(([completion, stored]) => {
        messages = stored;
        render(completion);
        return true;
      })
      .catch((failure) => {
        if (controller.signal.aborted) return false;
        // Deleted since the list was drawn (another tab, a script, a teammate): the list takes its card out too, or
        // "← Completions" came back to a card that only ever opens this 404.
        if (failure.status === 404) onDeleted?.(id);
        // The service down or restarting, or failing for a moment: the list offers "Try again", and so does
        // this page, which otherwise left a reload of the whole page as the only way back.
        const passing = !(failure.status >= 400 && failure.status < 500) || failure.status === 429;
        const retry = passing ? h('button', { type: 'button', class: 'secondary' }, 'Try again') : null;
        retry?.addEventListener('click', async () => {
          if (retry.getAttribute('aria-disabled') === 'true') return;
          // aria-disabled, not disabled: the focus waits on the button while it loads.
          retry.setAttribute('aria-disabled', 'true');
          retry.textContent = 'Loading…';
          const hadFocus = document.activeElement === retry;
          const loaded = await load();
          if (!hadFocus || !element.isConnected) return;
          if (loaded) heading.focus();
          else body.querySelector('button')?.focus();
        });
        replaceChildren(body, h('p', { class: 'error', role: 'alert' }, failure.message), retry);
        return false;
      })
      .finally(() => element.removeAttribute('aria-busy'));
  }
  load();

  /**
   * "j" or "k" (shortcuts.js): the top "Next" or "Previous" followed as if clicked, unless it goes nowhere or the
   * metadata editor is open (its buttons are focused between fields; a key there must not leave the form); kept for
   * when they are drawn while they are on their way.
   */
  function openNeighbour(which) {
    if (openEditor?.element.isConnected) return false;
    if (neighboursPending) {
      pendingMove = which;
      return true;
    }
    const node = element.querySelector(`.neighbours [data-neighbour=${which}]`);
    if (!node || node.getAttribute('aria-disabled') === 'true') return false;
    node.click();
    return true;
  }

  return {
    element,
    focus: () => heading.focus(),
    /** Metadata typed in the editor and not saved. */
    hasUnsavedEdits: () => Boolean(openEditor?.element.isConnected && openEditor.hasEdits()),
    openNeighbour,
    /** "n" and "p" (shortcuts.js): "Next match" and "Previous match", when read within a search and there are marks. */
    goToMatch: (step) => Boolean(matchNav?.element.isConnected && matchNav.go(step)),
    /** "t" (shortcuts.js): "Tag", unless the metadata editor is open (its map would overwrite the tag) or nothing is drawn yet. */
    tag() {
      if (openEditor?.element.isConnected || !quickTag?.button.isConnected) return false;
      return quickTag.press();
    },
    /** Escape (shortcuts.js): "← Completions", unless the metadata editor is open (its own Escape closes it). */
    backToList() {
      if (openEditor?.element.isConnected) return false;
      element.querySelector('.breadcrumbs a').click();
      return true;
    },
    /** A leave called off pushed this entry again: the one before it is now wherever the user tried to go. */
    historyMoved() {
      listEntryBefore = false;
    },
    destroy() {
      controller.abort();
      element.remove();
    },
  };
}
