// Whether a message holds a word of the list's search: a conversation found by a search and read within that list
// opens its folded earlier messages when the words are there (message-render.js), or the match that brought the
// reader to it would be hidden.

const WORD = /[\p{L}\p{N}_]+/gu;

/** The search's words, lower-cased: the service finds whole words, every one of them, with no operators. */
export function searchWords(search) {
  return (search ?? '').toLowerCase().match(WORD) ?? [];
}

/** The text a message shows: its content (or its content parts' text) and its refusal. */
function messageText(message) {
  const content = message?.content_parts ?? message?.content;
  const parts = Array.isArray(content) ? content.map((part) => (typeof part?.text === 'string' ? part.text : '')) : [content];
  return [...parts, message?.refusal].filter((text) => typeof text === 'string').join(' ');
}

/** Whether any of the messages holds any of the words, as a whole word. */
export function mentionsAny(messages, words) {
  if (!words.length) return false;
  return messages.some((message) => {
    const found = new Set(messageText(message).toLowerCase().match(WORD) ?? []);
    return words.some((word) => found.has(word));
  });
}
