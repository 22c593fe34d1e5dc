// Whether a message holds a word of the list's search: a conversation found by a search and read within that list
// opens its folded earlier messages when the words are there (message-render.js), or the match that brought the
// reader to it would be hidden.

const WORD = /[\p{L}\p{N}_]+/gu;
/** Scripts written without spaces between words: the service segments them, so a word there is found inside a run. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}]/u;

/** Lower-cased and without accents, as the service's search compares ("Café" is found by "cafe"). */
function folded(text) {
  return text.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase();
}

/** The search's words, folded: the service finds whole words, every one of them, with no operators. */
export function searchWords(search) {
  return folded(search ?? '').match(WORD) ?? [];
}

/** The text a message shows: its content (or its content parts' text) and its refusal. */
function messageText(message) {
  const content = message?.content_parts ?? message?.content;
  const parts = Array.isArray(content) ? content.map((part) => (typeof part?.text === 'string' ? part.text : '')) : [content];
  return [...parts, message?.refusal].filter((text) => typeof text === 'string').join(' ');
}

/** Whether any of the messages holds any of the words: as a whole word, or anywhere in a run of unspaced script. */
export function mentionsAny(messages, words) {
  if (!words.length) return false;
  return messages.some((message) => {
    const text = folded(messageText(message));
    const found = new Set(text.match(WORD) ?? []);
    return words.some((word) => found.has(word) || (UNSPACED.test(word) && text.includes(word)));
  });
}
