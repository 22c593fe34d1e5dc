// How a message looks: roles, text (collapsed when long, read as markdown unless the reader asked for
// the characters as stored), content parts, tool calls beside their results, refusals. Everything is
// elements and text nodes; images only from http(s) (when the reader asks) and data:image URLs.

import { copyButton, h, replaceChildren, scrollRegion, uid } from './dom.js';
import { contentText, cutAtBreak, formatInteger, prettyJsonText } from './format.js';
import { directionOf, markdownNodes, markdownShown, nameCodeCopies } from './markdown.js';
import { remoteImage } from './remote-images.js';
import { growMarked } from './search-marks.js';
import { mentionsAny } from './search-words.js';

/** Characters shown before "Show more", and added by each click: a 1 MB message never lays out at once. */
const COLLAPSED_LENGTH = 3000;
const EXPAND_STEP = 100_000;

/**
 * `label` names a block that may scroll (a snippet, the raw JSON): while it does, Tab reaches it (dom.js's scrollRegion).
 * `matcher`: the search's (search-words.js), whose words are marked in the text drawn, and again in what "Show more" adds.
 */
export function longText(text, className = 'text', label = undefined, matcher = null) {
  const value = String(text ?? '');
  const node = document.createTextNode(value.length > COLLAPSED_LENGTH ? cutAtBreak(value, COLLAPSED_LENGTH) : value);
  // Prose in Hebrew or Arabic reads right to left: each paragraph takes the direction of its first letter
  // (dir=auto, unicode-bidi: plaintext), or a Hebrew question showed its "?" at the wrong end.
  // Only prose is read as markdown (when the reader has not asked for the characters as stored): a JSON
  // block or a snippet is code already.
  const markdown = className === 'text' && markdownShown();
  const block = h('div', { class: markdown ? 'text markdown' : className }, node);
  const checkScrolling = label ? scrollRegion(block, label) : () => {};
  // What was drawn and marked last (search-marks.js): "Show more" draws and marks only what it adds.
  const marked = {};
  const draw = () => {
    // Markdown's blocks each carry their direction, which an auto one would skip: the message takes that of
    // its first letter (markdown.js's `directed` says why it is set, and set once the blocks are in).
    block.removeAttribute('dir');
    // Marked before they are in the page, where each mark split off a text would be laid out again. Marked as a
    // copy: `node` keeps the text shown whole for "Show more".
    if (matcher) growMarked(block, markdown ? markdownNodes(node.data) : [document.createTextNode(node.data)], matcher, marked);
    else if (markdown) replaceChildren(block, markdownNodes(node.data));
    if (className === 'text') block.setAttribute('dir', markdown ? directionOf(node.data) : 'auto');
    if (markdown) nameCodeCopies(block);
  };
  draw();
  if (value.length <= COLLAPSED_LENGTH) return block;
  let shown = node.data.length;
  const rest = h('span', { class: 'rest muted' });
  const button = h('button', { type: 'button', class: 'secondary small' }, 'Show more');
  const update = () => {
    rest.textContent = `… ${formatInteger(value.length - shown)} more characters`;
    if (shown >= value.length) {
      // The button goes with the last of the text: its focus would fall to the page's top, so the text takes it.
      const hadFocus = document.activeElement === button;
      rest.remove();
      button.remove();
      if (hadFocus) {
        if (!block.hasAttribute('tabindex')) block.setAttribute('tabindex', '-1');
        block.focus();
      }
    }
  };
  button.addEventListener('click', () => {
    node.data = cutAtBreak(value, Math.min(value.length, shown + EXPAND_STEP));
    shown = node.data.length;
    draw();
    checkScrolling();
    update();
  });
  update();
  return h('div', { class: 'long-text' }, block, h('div', { class: 'expand' }, rest, button));
}

/** `label`: what the block is, named while it scrolls; "JSON" where no more is known. */
export function jsonBlock(value, label = 'JSON', matcher = null) {
  return longText(typeof value === 'string' ? prettyJsonText(value) : JSON.stringify(value, null, 2), 'code', label, matcher);
}

/** Input audio formats OpenAI takes, and those a browser may play, by their media type. */
const AUDIO_TYPES = { wav: 'audio/wav', mp3: 'audio/mpeg', flac: 'audio/flac', ogg: 'audio/ogg', opus: 'audio/ogg', webm: 'audio/webm', aac: 'audio/aac', m4a: 'audio/mp4' };
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function describeUrl(url) {
  if (url.startsWith('data:')) return `${url.slice(0, url.indexOf(',') + 1 || 40).slice(0, 60)} (${formatInteger(url.length)} characters)`;
  return url.length > 300 ? `${url.slice(0, 300)}…` : url;
}

function partLabel(text) {
  return h('span', { class: 'part-label' }, text);
}

/**
 * A reasoning model's thinking, folded away under its size: the reply is what a reader came for, the thinking
 * what they open when the reply puzzles them (as a chat app shows it).
 */
function thinkingBlock(text) {
  return h('details', { class: 'thinking' },
    h('summary', null, partLabel('Thinking'), h('span', { class: 'muted' }, `${formatInteger(text.length)} characters`)),
    longText(text),
  );
}

/** Mistral's thinking part holds text parts (`{"type":"thinking","thinking":[{"type":"text","text":"…"}]}`). */
function thinkingText(thinking) {
  if (typeof thinking === 'string') return thinking;
  if (!Array.isArray(thinking)) return '';
  return thinking.map((part) => (typeof part === 'string' ? part : typeof part?.text === 'string' ? part.text : '')).filter((text) => text !== '').join('\n');
}

/** The thinking sent beside the reply: `reasoning_content` (DeepSeek, vLLM), `reasoning` (OpenRouter, Groq, newer vLLM). */
function sideThinking(message) {
  const text = [message?.reasoning_content, message?.reasoning].find((value) => typeof value === 'string' && value !== '');
  return text === undefined ? null : thinkingBlock(text);
}

function renderPart(part, matcher) {
  const type = String(part?.type ?? 'unknown');
  if (type === 'text') return longText(part.text, 'text', undefined, matcher);
  if (type === 'thinking') {
    const text = thinkingText(part.thinking);
    return text === '' ? h('div', { class: 'part' }, partLabel('Thinking'), h('span', { class: 'muted' }, '(empty)')) : thinkingBlock(text);
  }
  if (type === 'refusal') return refusalBlock(part.refusal, matcher);
  if (type === 'image_url') {
    const url = String(part.image_url?.url ?? '');
    const detail = part.image_url?.detail ? ` · detail ${part.image_url.detail}` : '';
    // On another host: loaded only when asked (remote-images.js). A data: image is in the stored body: drawn now.
    const remote = /^https?:\/\//i.test(url) ? remoteImage(url, `Image: ${describeUrl(url)}${detail}`) : null;
    if (remote) return remote;
    if (/^data:image\//i.test(url)) {
      return h('figure', { class: 'part image-part' },
        h('img', { src: url, alt: 'Image sent with the message', loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer' }),
        h('figcaption', { class: 'muted' }, `Image: ${describeUrl(url)}${detail}`),
      );
    }
    return h('div', { class: 'part' }, partLabel('Image (not shown)'), h('span', { class: 'muted' }, ` ${describeUrl(url)}`));
  }
  if (type === 'input_audio') {
    const data = String(part.input_audio?.data ?? '');
    const format = String(part.input_audio?.format ?? 'unknown format');
    const about = ` ${format}, ${formatInteger(data.length)} characters of base64`;
    const mime = Object.hasOwn(AUDIO_TYPES, format) ? AUDIO_TYPES[format] : undefined;
    // Played from the data itself (the page's policy allows media from data: URLs only): nothing is fetched.
    if (!mime || !BASE64.test(data)) return h('div', { class: 'part' }, partLabel('Audio'), about);
    return h('figure', { class: 'part audio-part' },
      h('audio', { controls: '', preload: 'none', src: `data:${mime};base64,${data}` }),
      h('figcaption', { class: 'muted' }, partLabel('Audio'), about),
    );
  }
  if (type === 'file') {
    const file = part.file ?? {};
    return h('div', { class: 'part' }, partLabel('File'), ` ${file.filename ?? file.file_id ?? 'inline data'}`);
  }
  return h('div', { class: 'part' }, partLabel(`${type} part`), jsonBlock(part));
}

export function renderContent(content, matcher = null) {
  if (content === null || content === undefined || content === '') return null;
  if (typeof content === 'string') return longText(content, 'text', undefined, matcher);
  if (Array.isArray(content)) return h('div', { class: 'parts' }, content.map((part) => renderPart(part, matcher)));
  return jsonBlock(content);
}

/**
 * A tool's output, and a reply asked for as JSON (response_format), are often JSON in a string: pretty-printed
 * like the arguments when the whole of it is.
 */
function renderMaybeJson(content, matcher) {
  if (typeof content === 'string' && /^\s*[[{]/.test(content) && content.length < 1_000_000) {
    try {
      JSON.parse(content);
      // The text, not the parsed value, so numbers show as the tool wrote them (prettyJsonText).
      return jsonBlock(content, 'JSON', matcher);
    } catch {
      // Not JSON after all: shown as the text it is.
    }
  }
  return renderContent(content, matcher);
}

/** The request's tools: name and description, each schema behind its own disclosure. */
export function toolList(tools) {
  return h('ul', { class: 'tool-list' }, tools.map((tool) => {
    const fn = tool?.function ?? tool?.custom ?? {};
    return h('li', null,
      h('code', null, fn.name ?? tool?.type ?? 'tool'),
      fn.description ? h('span', { class: 'muted' }, ` ${fn.description}`) : null,
      h('details', null, h('summary', null, 'Definition'), jsonBlock(tool)),
    );
  }));
}

export function refusalBlock(text, matcher = null) {
  return h('div', { class: 'refusal' }, partLabel('Refusal'), longText(text, 'text', undefined, matcher));
}

/**
 * A call's arguments are not searched (the service's search leaves them out); its result, a tool message, is.
 * `placeOf`: the result's place among the input messages ("Message 4 of 12"), which its heading says: a reader
 * going from heading to heading heard message 3, then 5, and no trace of 4 drawn under its call.
 */
function toolCallBlock(call, result, matcher = null, placeOf = () => null) {
  const { name, argumentsText } = callParts(call);
  return h('div', { class: 'tool-call' },
    h('div', { class: 'tool-call-head' }, partLabel('Tool call'), h('code', null, name), call?.id ? h('span', { class: 'muted' }, ` ${call.id}`) : null),
    jsonBlock(argumentsText, `Arguments of ${name}`),
    result
      ? h('div', { class: 'tool-result' },
        h('h4', { class: 'tool-call-head', 'aria-label': placeName(placeOf(result), result.name ? `tool result, ${result.name}` : 'tool result') }, partLabel('Result'), result.name ? h('code', null, result.name) : null),
        renderMaybeJson(result.content_parts ?? result.content, matcher),
        copyMessageButton(result, copyName(placeOf(result), 'Copy tool result'), 'copy-result'))
      : null,
  );
}

/** A call's name and arguments (a function's JSON text, a custom tool's input), as the model wrote them. */
function callParts(call) {
  const fn = call?.function ?? call?.custom ?? {};
  return { name: fn.name ?? call?.type ?? 'tool', argumentsText: fn.arguments ?? fn.input ?? '' };
}

/**
 * What a card's "Copy" puts on the clipboard: the message as the API holds it, not as drawn (markdown's characters,
 * not its HTML): its text (the text parts joined by new lines, as the API's `content` of an input message joins
 * them), its refusal, then each call's arguments as the model wrote them (JSON text), a blank line between each.
 * Thinking, images and audio are not text a reader pastes: left out.
 */
function messageText(message) {
  const calls = Array.isArray(message?.tool_calls) ? [...message.tool_calls] : [];
  if (message?.function_call) calls.push({ function: message.function_call });
  return [
    contentText(message?.content_parts ?? message?.content, false),
    typeof message?.refusal === 'string' ? message.refusal : '',
    ...calls.map((call) => {
      const { argumentsText } = callParts(call);
      return typeof argumentsText === 'string' ? argumentsText : JSON.stringify(argumentsText);
    }),
  ].filter((text) => text !== '').join('\n\n');
}

/** "Copy message 3 of 12" from the place "Message 3 of 12"; `otherwise` where the message has none. */
function copyName(place, otherwise) {
  return place ? `Copy ${place[0].toLowerCase()}${place.slice(1)}` : otherwise;
}

/** A message's "Copy" (`messageText`), named for a screen reader (`name`); none for a message with no text to copy. */
function copyMessageButton(message, name, className) {
  const text = messageText(message);
  if (text === '') return null;
  const button = copyButton('Copy', () => text);
  button.classList.add(className);
  button.setAttribute('aria-label', name);
  return button;
}

const ROLE_NAMES = { system: 'System', developer: 'Developer', user: 'User', assistant: 'Assistant', tool: 'Tool', function: 'Function' };

/**
 * A heading's name with its place ("Message 3 of 12, User"), for a screen reader: the eye has the card's place.
 * A name, not hidden text, so a conversation selected and copied reads as it is seen.
 */
function placeName(place, what) {
  return place ? `${place}, ${what}` : null;
}

/**
 * One message card. `results` maps tool_call_id to the tool message answering it, shown under the call;
 * `heading` overrides the role's name (a choice), `copyLabel` the name of its "Copy" (a choice's: "Copy choice 1").
 * The card is named by its heading, whose name starts with `place`
 * ("Message 3 of 12"): a screen reader's list of headings read "User", "Assistant", "User"... with no way to tell
 * one from another; `placeOf` gives each tool result's under its call.
 */
export function messageCard(message, { results = new Map(), heading, copyLabel, extra, matcher = null, place = null, placeOf } = {}) {
  const role = String(message?.role ?? 'unknown');
  const toolCalls = Array.isArray(message?.tool_calls) ? message.tool_calls : [];
  const content = message?.content_parts ?? message?.content;
  // A card with nothing under its role read as a page that failed to draw: said, as the list's "(empty)",
  // with the difference an API user looks for ("content": "" or null).
  const blank = (content === null || content === undefined || content === '' || (Array.isArray(content) && content.length === 0))
    && !message?.refusal && toolCalls.length === 0 && !message?.function_call && !message?.audio;
  const shownName = heading ?? ROLE_NAMES[role] ?? role;
  const title = h('h3', { class: 'message-title', id: uid('message'), 'aria-label': placeName(place, shownName) }, h('span', { class: 'role' }, shownName));
  return h('article', { class: `message role-${ROLE_NAMES[role] ? role : 'other'}`, 'aria-labelledby': title.id },
    h('header', { class: 'message-head' },
      title,
      message?.name ? h('span', { class: 'muted' }, ` ${message.name}`) : null,
      message?.tool_call_id ? h('span', { class: 'muted' }, ` result of ${message.tool_call_id}`) : null,
      extra ?? null,
    ),
    role === 'assistant' ? sideThinking(message) : null,
    role === 'assistant' ? renderMaybeJson(content, matcher) : renderContent(content, matcher),
    blank ? h('p', { class: 'muted empty-content' }, content === '' ? '(empty text)' : '(no content)') : null,
    message?.refusal ? refusalBlock(message.refusal, matcher) : null,
    toolCalls.map((call) => toolCallBlock(call, results.get(call?.id), matcher, placeOf)),
    message?.function_call ? toolCallBlock({ function: message.function_call }, null) : null,
    message?.audio ? h('div', { class: 'part' }, partLabel('Audio'), ` ${message.audio.id ?? ''} ${message.audio.transcript ? `: ${message.audio.transcript}` : ''}`) : null,
    Array.isArray(message?.annotations) && message.annotations.length
      ? h('div', { class: 'part' }, partLabel('Annotations'), jsonBlock(message.annotations))
      : null,
    // Last, after what it copies (drawn in the card's corner): the card's text reads as it is seen, "Copy" at its end.
    copyMessageButton(message, copyLabel ?? copyName(place, 'Copy message'), 'copy-message'),
  );
}

/** The last cards a long conversation shows unfolded: the exchange that led to the reply. */
const TAIL_CARDS = 4;
/** Fewer cards than this between the instructions and the tail are shown as they are: a fold would save no scroll. */
const FOLD_AT_LEAST = 3;

/**
 * The input messages as cards. A tool message that answers a call made earlier in the conversation is
 * shown under that call, not on its own. A long conversation folds its middle under "Show N earlier messages"
 * (the leading system and developer messages and the last few cards stay in sight): the reply being judged,
 * and "Next" under it, were a dozen screens down, scrolled past at every conversation read. The folded cards are
 * drawn all the same, inside a closed `<details>`, so the browser's find-in-page still reaches them; opened at
 * once when one of them holds a word of the search the conversation was found by.
 */
export function conversationCards(messages, { earlierOpen = false, matcher = null } = {}) {
  const calls = new Set();
  const results = new Map();
  for (const message of messages) {
    for (const call of message.tool_calls ?? []) if (call?.id) calls.add(call.id);
    if (message.role === 'tool' && message.tool_call_id && calls.has(message.tool_call_id) && !results.has(message.tool_call_id)) {
      results.set(message.tool_call_id, message);
    }
  }
  const answered = new Set(results.values());
  const shown = messages.filter((m) => !answered.has(m));
  // Each message's place as stored, which the heading "Input messages (N)" and the API's messages list count:
  // a tool result drawn under its call keeps its own.
  const places = new Map(messages.map((m, index) => [m, `Message ${formatInteger(index + 1)} of ${formatInteger(messages.length)}`]));
  const placeOf = (m) => places.get(m) ?? null;
  const cards = shown.map((m) => messageCard(m, { results, matcher, place: placeOf(m), placeOf }));
  let lead = 0;
  while (lead < shown.length && (shown[lead]?.role === 'system' || shown[lead]?.role === 'developer')) lead++;
  const tail = shown.length - TAIL_CARDS;
  if (tail - lead < FOLD_AT_LEAST) return cards;
  // Counted as messages, a tool result under its call too, so the fold and the rest add up to the heading's count.
  const folded = new Set(shown.slice(lead, tail));
  for (const message of shown.slice(lead, tail)) {
    for (const call of message.tool_calls ?? []) if (results.has(call?.id)) folded.add(results.get(call.id));
  }
  const summary = h('summary');
  const fold = h('details', { class: 'earlier-messages' }, summary, cards.slice(lead, tail));
  const label = () => {
    summary.textContent = `${fold.open ? 'Hide' : 'Show'} ${formatInteger(folded.size)} earlier messages`;
  };
  // Read within a search, a folded message holding its words opens the fold: the match is why it was opened.
  fold.open = earlierOpen || (matcher !== null && mentionsAny([...folded], matcher));
  label();
  fold.addEventListener('toggle', label);
  return [...cards.slice(0, lead), fold, ...cards.slice(tail)];
}
