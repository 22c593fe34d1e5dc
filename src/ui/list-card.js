// A completion's card in the list: its id, time, model, tokens, the last user message and the reply (the list's
// search words marked in both: why the search found it), and its metadata as chips that filter on their pair.

import { h, isolatedText, pairNodes, shownPairText } from './dom.js';
import { cutReasons, finishReasons, formatInteger, isoTime, localTime, messagePreview, relativeTime, replyPreview, shortTime } from './format.js';
import { markMatches } from './search-marks.js';
import { searchMatcher } from './search-words.js';

/** OpenAI's ids all begin so: in a compact line's narrow column it took half the room, and told no two apart. */
const SHARED_ID_PREFIX = 'chatcmpl-';
/** Characters of an id's end a compact line always shows (as a tag's answer names a conversation by them). */
const ID_END = 6;
/** Metadata chips a card shows before "+N more". */
const CHIPS_SHOWN = 6;

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

/**
 * A card's metadata as chips that filter on their pair (`filterOn(key, value)`). Past CHIPS_SHOWN, the rest wait
 * behind "+N more": 16 pairs of long values made one card as tall as a screen, and the list could no longer be scanned.
 */
function metadataList(metadata, filterOn) {
  const chips = metadata.map(([key, value]) =>
    h('li', null,
      h('button', {
        type: 'button',
        class: 'chip',
        title: `${isolatedText(shownPairText(key))}: ${isolatedText(shownPairText(value))} (click to filter on this pair)`,
        // Holds the pair as shown ("env: prod", `env: " prod"`), so speech input saying it finds the chip (WCAG 2.5.3).
        'aria-label': `Filter on ${shownPairText(key)}: ${shownPairText(value)}`,
        onclick: () => filterOn(key, value),
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

/**
 * `checkbox(id)`: the card's selection box (selection.js); `hashOf(id)`: the address of its conversation within the
 * list; `search()`: the list's search words, marked in the previews; `filterOn(key, value)`: a metadata chip clicked.
 */
export function createCards({ checkbox, hashOf, search, filterOn }) {
  /** The search's matcher (search-words.js), made once per search. */
  let matcherFor = { search: undefined, matcher: null };
  function matcher() {
    const words = search();
    if (matcherFor.search !== words) matcherFor = { search: words, matcher: words ? searchMatcher(words) : null };
    return matcherFor.matcher;
  }

  /** A preview's text, with the list's search words marked in it: why the search found the completion. */
  function showPreview(span, text) {
    span.textContent = text;
    markMatches(span, matcher());
  }

  /** A card: its element, its completion's id, and the span its user preview goes in once read (card-previews.js). */
  function draw(completion) {
    const userPreview = h('span', { class: 'preview-text', dir: 'auto' }, '…');
    const reply = h('span', { class: 'preview-text', dir: 'auto' });
    showPreview(reply, replyPreview(completion, matcher()) || '(empty)');
    const tokens = completion.usage?.total_tokens;
    const metadata = Object.entries(completion.metadata ?? {});
    const cut = cutReasons(completion);
    const notes = [completion.choices?.length > 1 ? `${completion.choices.length} choices` : null, ...cut].filter(Boolean);
    const element = h(
      'li',
      { class: 'row', 'data-id': completion.id },
      h('div', { class: 'row-head' },
        checkbox(completion.id),
        // Its title, the id (whole: a compact line cuts it), time and model, shows wherever the pointer is on the card:
        // the link covers it.
        // Its address names the list (filters, order, usage): copied or opened in a new tab, the conversation has
        // its "Previous", "Next" and "← Completions" there too, which the bare address gives no one.
        h('a', { class: 'row-link', href: hashOf(completion.id), title: `${completion.id} · ${localTime(completion.created)} · ${completion.model}`, 'aria-label': completion.id }, ...idParts(completion.id)),
        h('time', { datetime: isoTime(completion.created), title: isoTime(completion.created) },
          h('span', { class: 'absolute' }, localTime(completion.created)),
          // A compact line's time: a day of completions all read "yesterday" by their age alone.
          h('span', { class: 'short-time' }, shortTime(completion.created)),
          // The age in a span of its own, which refreshAges (list-view.js) rewrites each minute.
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
      metadata.length ? metadataList(metadata, filterOn) : null,
    );
    return { element, id: completion.id, userPreview };
  }

  return {
    draw,
    showPreview,
    /** The card's user preview from its conversation's last user message (or last message, if no user spoke). */
    showUserMessage(card, message) {
      showPreview(card.userPreview, messagePreview(message, matcher()) || '(empty)');
    },
  };
}
